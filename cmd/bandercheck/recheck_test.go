package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// syncInto rewrites a live project's document so that it names path, as a
// sync between plan and apply would, and returns the document's file.
func syncInto(t *testing.T, root string, row []string, except string) string {
	t.Helper()
	docs, _ := filepath.Glob(filepath.Join(root, "web/json/*"))
	for _, d := range docs {
		data, _ := os.ReadFile(d)
		if strings.Contains(string(data), `"releases":{"`) && filepath.Base(d) != except {
			doc := strings.Replace(string(data), `"releases":{"`, `"releases":{"99.0":[{"filename":"o.whl","url":"https://files.example.invalid/`+strings.TrimPrefix(row[0], "web/")+`","size":`+row[1]+`,"digests":{"sha256":"`+strings.Repeat("0", 64)+`"},"upload_time_iso_8601":"2020-01-01T00:00:00Z"}],"`, 1)
			if err := os.WriteFile(d, []byte(doc), 0o644); err != nil {
				t.Fatal(err)
			}
			return d
		}
	}
	t.Fatal("no document to sync into")
	return ""
}

// TestApplyRecheckIgnoresAKeptBackDate: a sync (or rsync -a, cp -p, tar x)
// that rewrites a document to name a planned orphan while keeping the
// document's old mtime still counts as a change: its ctime is new, so apply
// keeps the file the project now owns.
func TestApplyRecheckIgnoresAKeptBackDate(t *testing.T) {
	t.Parallel()
	m, url, state := plannedMirror(t, 100)
	orphan := planned(t, state, "plan/delete", func(r []string) bool { return r[2] == "unowned" })
	docs, _ := filepath.Glob(filepath.Join(m.root, "web/json/*"))
	old := time.Now().Add(-72 * time.Hour)
	for _, d := range docs {
		os.Chtimes(d, old, old)
	}
	doc := syncInto(t, m.root, orphan, "")
	os.Chtimes(doc, old, old) // the date kept back, as rsync -a would
	r := bc(t, nil, "--mirror", m.root, "--state", state, "apply", "--download-base", url)
	if r.code != 0 {
		t.Fatalf("apply: exit %d\n%s", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(m.root, orphan[0])); err != nil {
		t.Errorf("apply deleted %s, which %s names since the plan (its mtime kept back)", orphan[0], filepath.Base(doc))
	}
	if l := lineOf(catState(t, state, "applied/delete"), orphan[0]); !strings.Contains(l, ",skipped,") {
		t.Errorf("applied row of the kept file: %q", l)
	}
}

// TestApplyRecheckCountsAFIFOAsChanged: a document replaced by a FIFO since
// the plan is a change that cannot be read: deletes are refused (exit 3)
// rather than made on the old plan, and nothing waits on the FIFO.
func TestApplyRecheckCountsAFIFOAsChanged(t *testing.T) {
	t.Parallel()
	m, url, state := plannedMirror(t, 100)
	orphan := planned(t, state, "plan/delete", func(r []string) bool { return r[2] == "unowned" })
	doc := syncInto(t, m.root, orphan, "")
	old := time.Now().Add(-72 * time.Hour)
	os.Remove(doc)
	if err := syscall.Mkfifo(doc, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(doc, old, old)
	r := bcWithin(t, 2*time.Minute, "--mirror", m.root, "--state", state, "apply", "--download-base", url)
	if r.code != 3 || !strings.Contains(r.stderr, "cannot be read now") {
		t.Fatalf("apply with a FIFO for a document: exit %d, want 3\n%s", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(m.root, orphan[0])); err != nil {
		t.Errorf("apply deleted %s although %s is unreadable", orphan[0], doc)
	}
}
