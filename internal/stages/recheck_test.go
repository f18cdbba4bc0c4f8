package stages

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bandercheck/bandercheck/pipeline"
)

// TestRecheckOfOneHugeProjectIsBounded: one changed project that names more
// files than apply holds to re-check is refused as that (naming the
// project), not as "more than 20000 projects changed", and the rows are not
// all held first.
func TestRecheckOfOneHugeProjectIsBounded(t *testing.T) {
	f, _, _, _ := planFixture(t)
	if err := f.plan(); err != nil {
		t.Fatal(err)
	}
	old := maxChangedFiles
	maxChangedFiles = 50
	t.Cleanup(func() { maxChangedFiles = old })
	var files []pkg
	for i := range 200 {
		files = append(files, pkg{fmt.Sprintf("alpha-%d.0.tar.gz", i), fmt.Sprintf("%d.0", i), "x"})
	}
	os.WriteFile(filepath.Join(f.root, "web/json/alpha"), []byte(jsonDoc("alpha", 9, files...)), 0o644)
	err := testApply("http://127.0.0.1:1").Run(f.ctx, f.env)
	var re *pipeline.RefusedError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "name more than 50 files") || !strings.Contains(err.Error(), "alpha") || strings.Contains(err.Error(), "projects changed") {
		t.Fatalf("apply after one project grew past the bound: %v", err)
	}
	if _, err := os.Stat(filepath.Join(f.root, "web/packages/ff/ff/orphan.whl")); err != nil {
		t.Errorf("a refused apply deleted: %v", err)
	}
}
