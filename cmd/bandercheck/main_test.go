package main

import (
	"os"
	"testing"
)

// TestMain removes the mirrors generate made once for every test.
func TestMain(m *testing.M) {
	code := m.Run()
	if genCache.dir != "" {
		os.RemoveAll(genCache.dir)
	}
	os.Exit(code)
}
