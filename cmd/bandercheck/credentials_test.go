package main

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCredentialsNeverWrittenAndStateIsPrivate: a --download-base with
// userinfo never reaches an applied row's error column, a log line or an
// error; and STATE is created 0700 with its files 0600 (a plan names every
// file of the mirror, an applied row the hosts it fetched from).
func TestCredentialsNeverWrittenAndStateIsPrivate(t *testing.T) {
	t.Parallel()
	m, _, state := plannedMirror(t, 100)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }))
	t.Cleanup(srv.Close)
	base := strings.Replace(srv.URL, "http://", "http://mirroruser:hunter2@", 1)
	r := bc(t, []string{"BANDERCHECK_LOG_FORMAT=json"}, "--mirror", m.root, "--state", state, "apply", "--download-base", base)
	if r.code == 0 {
		t.Fatalf("apply with every download failing: exit 0\n%s", r.stderr)
	}
	rows := catState(t, state, "applied/download")
	if !strings.Contains(rows, ",failed,") {
		t.Fatalf("no failed rows:\n%s", rows)
	}
	for what, text := range map[string]string{"applied/download": rows, "stderr": r.stderr, "stdout": r.stdout} {
		if strings.Contains(text, "hunter2") || strings.Contains(text, "mirroruser") {
			t.Errorf("%s shows the credentials:\n%s", what, text)
		}
	}
	fresh := filepath.Join(t.TempDir(), "new-state")
	mustBC(t, nil, "--mirror", m.root, "--state", fresh, "scan", "storage")
	err := filepath.WalkDir(fresh, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s is %v: others may read STATE", p, fi.Mode().Perm())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
