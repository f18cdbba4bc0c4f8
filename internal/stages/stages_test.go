package stages

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bandercheck/bandercheck/internal/testutil"
	"github.com/bandercheck/bandercheck/pipeline"
)

// md5sum is the MD5 of s in hex, as upstream JSON gives it.
func md5sum(s string) string {
	h := md5.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}

func sum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// TestStagesInProcess runs every stage as library code, with no binary and
// no command line: scan storage, scan metadata, plan, apply.
func TestStagesInProcess(t *testing.T) {
	t.Parallel()
	kept, missing := "kept release", "missing release"
	doc := fmt.Sprintf(`{"info":{"name":"Demo"},"last_serial":7,"releases":{"1.0":[`+
		`{"filename":"demo-1.0.tar.gz","url":"https://files.example.invalid/packages/aa/bb/demo-1.0.tar.gz","size":%d,"digests":{"sha256":"%s"},"upload_time_iso_8601":"2020-01-01T00:00:00Z"},`+
		`{"filename":"demo-1.0.whl","url":"https://files.example.invalid/packages/aa/bb/demo-1.0.whl","size":%d,"digests":{"sha256":"%s"},"upload_time_iso_8601":"2020-01-02T00:00:00Z"}]}}`,
		len(kept), sum(kept), len(missing), sum(missing))
	root := t.TempDir()
	testutil.WriteFiles(t, root, map[string]string{
		"web/json/Demo":                      doc,
		"web/packages/aa/bb/demo-1.0.tar.gz": kept,
		"web/packages/cc/dd/orphan-1.0.whl":  "nobody's",
		"web/simple/demo/index.html":         "<html></html>",
	})
	old := time.Now().Add(-24 * time.Hour)
	os.Chtimes(filepath.Join(root, "web/packages/cc/dd/orphan-1.0.whl"), old, old)
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/packages/aa/bb/demo-1.0.whl" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, missing)
	}))
	defer upstream.Close()

	ctx := context.Background()
	env := &Env{Mirror: Location{Path: root}, State: filepath.Join(t.TempDir(), "st"), Progress: "never", LogFormat: "text"}
	steps := []struct {
		name string
		run  func() error
	}{
		{"scan storage", func() error { _, err := (&ScanStorageOptions{Jobs: 2, Hash: HashDefault}).Run(ctx, env); return err }},
		{"scan metadata", func() error { _, err := (&ScanMetadataOptions{From: fromJSON, Jobs: 2}).Run(ctx, env); return err }},
		{"plan", func() error {
			return (&PlanOptions{MaxRemoveProjects: Limit{Percent: 1, IsPct: true}, Memory: 64 << 20}).Run(ctx, env)
		}},
		{"apply", func() error {
			return (&ApplyOptions{Jobs: 2, Timeout: time.Minute, ApplyShared: ApplyShared{MaxDelete: Limit{Percent: 100, IsPct: true}, MaxPlanAge: time.Hour, DownloadBase: upstream.URL}}).Run(ctx, env)
		}},
	}
	for _, s := range steps {
		if err := s.run(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
	}
	if b, err := os.ReadFile(filepath.Join(root, "web/packages/aa/bb/demo-1.0.whl")); err != nil || string(b) != missing {
		t.Errorf("the missing file after apply: %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(root, "web/packages/cc/dd/orphan-1.0.whl")); err == nil {
		t.Errorf("the orphan is still there")
	}
	if b, _ := os.ReadFile(filepath.Join(root, "web/packages/aa/bb/demo-1.0.tar.gz")); string(b) != kept {
		t.Errorf("the kept file changed: %q", b)
	}
	counts := map[string]int{}
	for _, a := range []string{"applied/download", "applied/delete"} {
		r, err := pipeline.NewState(env.State).Manifest(a)
		if err != nil {
			t.Fatal(err)
		}
		for {
			row, err := r.Next()
			if err != nil {
				break
			}
			counts[a+" "+row[pipeline.AppliedResult]]++
		}
		r.Close()
	}
	if counts["applied/download ok"] != 1 || counts["applied/delete ok"] != 1 || len(counts) != 2 {
		t.Errorf("applied rows: %v", counts)
	}
}

// TestDefaultOptionsValidate: every stage's defaults pass its own checks,
// and a library caller that leaves a required option out is refused with a
// usage error (exit 2) before anything runs, as the command line is.
func TestDefaultOptionsValidate(t *testing.T) {
	t.Parallel()
	for name, o := range map[string]interface{ Validate() error }{
		"scan storage": DefaultScanStorageOptions(), "scan metadata": DefaultScanMetadataOptions(),
		"scan upstream": DefaultScanUpstreamOptions(), "plan": DefaultPlanOptions(), "apply": DefaultApplyOptions(),
		"run": DefaultRunOptions(), "report": DefaultReportOptions(),
	} {
		if err := o.Validate(); err != nil {
			t.Errorf("%s: the defaults are refused: %v", name, err)
		}
	}
	var ue *pipeline.UsageError
	for name, o := range map[string]interface{ Validate() error }{
		"scan storage": ScanStorageOptions{}, "scan metadata": ScanMetadataOptions{}, "scan upstream": ScanUpstreamOptions{},
		"apply": ApplyOptions{}, "run": RunOptions{}, "hash": HashMode("sha1"), "run --from": func() RunOptions { o := DefaultRunOptions(); o.From = "xml"; return o }(),
	} {
		if err := o.Validate(); !errors.As(err, &ue) {
			t.Errorf("%s: zero options give %v, want a usage error", name, err)
		}
	}
	f := newFixture(t, nil)
	_, err := (&ScanStorageOptions{}).Run(f.ctx, f.env)
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "--jobs 0") {
		t.Errorf("scan storage with Jobs 0 in process: %v, want the --jobs usage error", err)
	}
}

// TestApplyInProcessRefusesHostileRows hands apply, as library code, a plan
// whose rows point outside the mirror: every one is a failed row, nothing
// beside the mirror changes, and the good row still runs.
func TestApplyInProcessRefusesHostileRows(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	root := filepath.Join(dir, "mirror")
	testutil.WriteFiles(t, dir, map[string]string{
		"outside.txt":                     "canary",
		"mirror/web/packages/aa/bb/x.whl": "orphan",
	})
	os.MkdirAll(filepath.Join(root, "web/json"), 0o755)
	old := time.Now().Add(-24 * time.Hour)
	os.Chtimes(filepath.Join(root, "web/packages/aa/bb/x.whl"), old, old)
	ctx := context.Background()
	env := &Env{Mirror: Location{Path: root}, State: filepath.Join(dir, "st"), Progress: "never"}
	for _, step := range []func() error{
		func() error { _, err := (&ScanStorageOptions{Jobs: 1}).Run(ctx, env); return err },
		func() error { _, err := (&ScanMetadataOptions{From: fromJSON, Jobs: 1}).Run(ctx, env); return err },
		func() error {
			return (&PlanOptions{MaxRemoveProjects: Limit{Percent: 1, IsPct: true}, Memory: 64 << 20}).Run(ctx, env)
		},
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	// the plan, edited: two rows outside the mirror beside the real orphan
	st, err := pipeline.NewState(env.State).Stage("edit", true, pipeline.StageOptions{}, pipeline.MustSpec("plan/delete"))
	if err != nil {
		t.Fatal(err)
	}
	for i, row := range [][]string{{"../outside.txt", "6", "unowned"}, {"web/packages/../../outside.txt", "6", "unowned"}, {"web/packages/aa/bb/x.whl", "6", "unowned"}} {
		st.Write(0, row...)
		st.EndUnit(fmt.Sprint(i))
	}
	if err := st.Finish(); err != nil {
		t.Fatal(err)
	}
	st.Close()
	err = (&ApplyOptions{Jobs: 1, Timeout: time.Minute, ApplyShared: ApplyShared{MaxDelete: Limit{Percent: 100, IsPct: true}, MaxPlanAge: time.Hour}, Only: "delete"}).Run(ctx, env)
	if err == nil || !strings.Contains(err.Error(), "2 delete rows failed") {
		t.Fatalf("apply of a hostile plan: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "outside.txt")); err != nil || string(b) != "canary" {
		t.Errorf("the file beside the mirror was touched: %v %q", err, b)
	}
	if _, err := os.Stat(filepath.Join(root, "web/packages/aa/bb/x.whl")); err == nil {
		t.Errorf("the real orphan beside the hostile rows was not deleted")
	}
}
