package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bandercheck/bandercheck/internal/testutil"
)

// TestStateLinksAndOwnFIFOs: nothing below STATE is followed, and no file of
// our own is waited on. A STATE/tmp that links elsewhere, a FIFO among the
// STATE/previous shards and a part's state holding a link are refused
// (exit 2) with the canary tree they point at untouched; a FIFO at
// --metrics-file or as a requirements file never hangs a command.
func TestStateLinksAndOwnFIFOs(t *testing.T) {
	t.Parallel()
	testutil.Binary(t, "./cmd/bandercheck") // built before the clocks start
	dir := t.TempDir()
	mirror := filepath.Join(dir, "mirror")
	testutil.WriteFiles(t, mirror, map[string]string{"web/packages/aa/bb/x-1.0.tar.gz": "x"})
	canary := map[string]string{"plan-new/plan/delete/keep": "canary a", "retry/applied/download/keep": "canary b", "x": "canary c"}
	testutil.WriteFiles(t, filepath.Join(dir, "canary"), canary)
	state := filepath.Join(dir, "st")
	mustBC(t, nil, "--mirror", mirror, "--state", state, "scan", "storage")
	os.RemoveAll(filepath.Join(state, "tmp"))
	if err := os.Symlink(filepath.Join(dir, "canary"), filepath.Join(state, "tmp")); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"plan"}, {"apply"}, {"report"}, {"scan", "storage"}} {
		r := bcWithin(t, time.Minute, append([]string{"--mirror", mirror, "--state", state}, args...)...)
		if r.code != 2 || !strings.Contains(r.stderr, "tmp is a symbolic link") {
			t.Errorf("%v with STATE/tmp a link: exit %d\n%s", args, r.code, r.stderr)
		}
	}
	for p, want := range canary {
		if got, err := os.ReadFile(filepath.Join(dir, "canary", p)); err != nil || string(got) != want {
			t.Errorf("canary %s beside STATE was touched: %v", p, err)
		}
	}
	os.Remove(filepath.Join(state, "tmp"))

	// a FIFO among our own files: the state is refused, at once
	fifo := filepath.Join(state, "storage", "000009.csv.zst")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if r := bcWithin(t, time.Minute, "--mirror", mirror, "--state", state, "scan", "storage"); r.code != 2 || !strings.Contains(r.stderr, "000009.csv.zst is not a regular file") {
		t.Errorf("a FIFO in STATE: exit %d\n%s", r.code, r.stderr)
	}
	os.Remove(fifo)

	// a FIFO at --metrics-file is not read (and replaced)
	metrics := filepath.Join(dir, "metrics.prom")
	syscall.Mkfifo(metrics, 0o644)
	if r := bcWithin(t, time.Minute, "--mirror", mirror, "--state", state, "--metrics-file", metrics, "scan", "storage"); r.code != 0 {
		t.Errorf("--metrics-file a FIFO: exit %d\n%s", r.code, r.stderr)
	}

	// a requirements file that is a FIFO: a config error, at once
	syscall.Mkfifo(filepath.Join(dir, "req.txt"), 0o644)
	conf := filepath.Join(dir, "bandersnatch.conf")
	os.WriteFile(conf, []byte("[mirror]\ndirectory = "+mirror+"\n[plugins]\nenabled = project_requirements\n[allowlist]\nrequirements_path = "+dir+"\nrequirements = req.txt\n"), 0o644)
	if r := bcWithin(t, time.Minute, "--config", conf, "--state", filepath.Join(dir, "st2"), "scan", "storage"); r.code != 2 || !strings.Contains(r.stderr, "req.txt is not a regular file") {
		t.Errorf("requirements a FIFO: exit %d\n%s", r.code, r.stderr)
	}
}

// TestHugeOwnInputsAreRefusedNotLoaded: inputs an operator points at are read
// within a bound, never whole: a requirements file at /dev/zero or of 670 MB
// is a config error naming it (exit 2, no out-of-memory crash), and a 1 GB
// file at --metrics-file is not read back (the command succeeds and replaces
// it with its metrics).
func TestHugeOwnInputsAreRefusedNotLoaded(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	mirror := filepath.Join(dir, "mirror")
	testutil.WriteFiles(t, mirror, map[string]string{"web/packages/aa/bb/x-1.0.tar.gz": "x"})
	big := filepath.Join(dir, "big.txt")
	if err := os.WriteFile(big, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(big, 670<<20); err != nil { // sparse: costs no disk
		t.Fatal(err)
	}
	os.Symlink("/dev/zero", filepath.Join(dir, "zero.txt"))
	for _, req := range []string{"zero.txt", "big.txt"} {
		conf := filepath.Join(dir, req+".conf")
		os.WriteFile(conf, []byte("[mirror]\ndirectory = "+mirror+"\n[plugins]\nenabled = project_requirements\n[allowlist]\nrequirements_path = "+dir+"\nrequirements = "+req+"\n"), 0o644)
		r := bcWithin(t, time.Minute, "--config", conf, "--state", filepath.Join(dir, "st-"+req), "scan", "storage")
		if r.code != 2 || !strings.Contains(r.stderr, req) || strings.Contains(r.stderr, "goroutine") {
			t.Errorf("requirements %s: exit %d\n%s", req, r.code, r.stderr)
		}
	}
	metrics := filepath.Join(dir, "metrics.prom")
	os.WriteFile(metrics, nil, 0o644)
	os.Truncate(metrics, 1<<30)
	if r := bcWithin(t, time.Minute, "--mirror", mirror, "--state", filepath.Join(dir, "st"), "--metrics-file", metrics, "scan", "storage"); r.code != 0 {
		t.Errorf("a 1 GB --metrics-file: exit %d\n%s", r.code, r.stderr)
	}
	if st, err := os.Stat(metrics); err != nil || st.Size() > 1<<20 {
		t.Errorf("the 1 GB metrics file was not replaced: %v %v", st.Size(), err)
	}
}
