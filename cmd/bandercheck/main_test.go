package main

import (
	"os"
	"testing"
)

// TestMain removes the mirrors generate made once for every test, and
// closes the browser the report tests share.
func TestMain(m *testing.M) {
	code := m.Run()
	if theBrowser.close != nil {
		theBrowser.close()
	}
	if genCache.dir != "" {
		os.RemoveAll(genCache.dir)
	}
	os.Exit(code)
}
