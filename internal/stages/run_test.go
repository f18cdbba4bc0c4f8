package stages

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// testRun is run --hash with the defaults of the command line.
func testRun(upstream, downloads string) *RunOptions {
	return &RunOptions{Hash: HashContent, From: fromJSON, Upstream: upstream, ListJobs: 2, Jobs: 2,
		Plan:        PlanOptions{Grace: DefaultPlanOptions().Grace, MaxRemoveProjects: Limit{Percent: 50, IsPct: true}, Memory: 64 << 20},
		ApplyShared: ApplyShared{DownloadBase: downloads, MaxDelete: Limit{Percent: 100, IsPct: true}, MaxPlanAge: time.Hour}}
}

// TestRunInProcess composes the stages: a dry run plans and changes nothing,
// a run repairs the mirror, and a fresh run after it plans nothing.
func TestRunInProcess(t *testing.T) {
	t.Parallel()
	f, missing, badHash, badSize := planFixture(t)
	index := upstreamIndex(t, "alpha", "beta")
	files := serveFiles(t, missing, badHash, badSize)
	dry := testRun(index, files.URL)
	dry.DryRun, dry.Fresh = true, true
	if err := dry.Run(f.ctx, f.env); err != nil {
		t.Fatal(err)
	}
	if n := len(f.rows("plan/download")); n != 3 {
		t.Errorf("dry run planned %d downloads, want 3", n)
	}
	if _, err := os.Stat(filepath.Join(f.root, missing.key())); err == nil {
		t.Fatalf("a dry run downloaded")
	}
	if err := testRun(index, files.URL).Run(f.ctx, f.env); err != nil {
		t.Fatal(err)
	}
	for _, p := range []pkg{missing, badHash, badSize} {
		if b, _ := os.ReadFile(filepath.Join(f.root, p.key())); string(b) != p.content {
			t.Errorf("%s after run: %q", p.file, b)
		}
	}
	if _, err := os.Stat(filepath.Join(f.root, "web/json/gone")); err == nil {
		t.Errorf("the project gone upstream was not removed")
	}
	f.runFreshPlansNothing(testRun(index, files.URL), "a repaired mirror")
}
