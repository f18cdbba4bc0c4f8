package goldentree

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRecordLoadAndDiff(t *testing.T) {
	root, out := t.TempDir(), filepath.Join(t.TempDir(), "golden")
	mt := time.Date(2020, 2, 12, 20, 6, 8, 580456972, time.UTC)
	write := func(p, data string, mode os.FileMode) {
		full := filepath.Join(root, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		os.WriteFile(full, []byte(data), mode)
		os.Chmod(full, mode)
		os.Chtimes(full, mt, mt)
	}
	write("status", "1005", 0o600)
	write("web/last-modified", "20261204T17:24:44\n", 0o600)
	write("web/simple/a/index.html", "<html>a</html>", 0o644)
	write("web/packages/ab/cd/x-1.0.tar.gz", "release", 0o644)
	os.MkdirAll(filepath.Join(root, "web/local-stats/days"), 0o755)
	if err := Record(root, out); err != nil {
		t.Fatal(err)
	}
	manifest, copies, err := Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(out, "tree/web/packages/ab/cd/x-1.0.tar.gz")); err == nil {
		t.Error("a release file was copied (its digest stands for it)")
	}
	if string(copies["web/simple/a/index.html"]) != "<html>a</html>" {
		t.Errorf("copies %v", copies)
	}
	tr := Tree{}
	tr.Add("status", []byte("1005"), 0o600, time.Time{})
	tr.Add("web/last-modified", []byte("20991231T00:00:00\n"), 0o600, time.Time{}) // another time: not compared
	tr.Add("web/simple/a/index.html", []byte("<html>a</html>"), 0o644, time.Time{})
	tr.Add("web/packages/ab/cd/x-1.0.tar.gz", []byte("release"), 0o644, mt)
	tr.AddDir("web/local-stats/days")
	if d := tr.Diff(manifest, copies, false); len(d) != 0 {
		t.Fatalf("same tree differs:\n%s", strings.Join(d, "\n"))
	}
	// a byte, a mode, an mtime, a missing folder: each is a difference
	tr.Add("web/simple/a/index.html", []byte("<html>b</html>"), 0o644, time.Time{})
	tr["status"].Mode = 0o644
	tr["web/packages/ab/cd/x-1.0.tar.gz"].Mtime = mt.Add(time.Microsecond)
	delete(tr, "web/local-stats/days")
	d := tr.Diff(manifest, copies, false)
	joined := strings.Join(d, "\n")
	for _, want := range []string{"index.html differs: at byte 6", "golden only: d web/local-stats/days", "ours only:   f 0644 4", "2020-02-12T20:06:08.580457972Z web/packages"} {
		if !strings.Contains(joined, want) {
			t.Errorf("diff lacks %q:\n%s", want, joined)
		}
	}
	if strings.Contains(strings.Join(tr.Diff(manifest, copies, true), "\n"), " status") {
		t.Error("ignoreModes still reports status's mode")
	}
}

// TestLineDiff: the lines only one side has, got's first, each labelled;
// nothing for equal manifests.
func TestLineDiff(t *testing.T) {
	if d := LineDiff("a\nb\nc", "a\nb\nc", "ours:", "theirs:"); d != "" {
		t.Errorf("equal manifests: %q", d)
	}
	if d, want := LineDiff("a\nx\nc\ny", "a\nc\nz", "ours:", "theirs:"), "ours: x\nours: y\ntheirs: z"; d != want {
		t.Errorf("LineDiff = %q, want %q", d, want)
	}
}
