package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// TestApplyRefusesDownloadRowsItCannotVerify: a plan is input. A hand-edited
// plan/download row without a digest (pointing at a loopback "secret") is
// never fetched, nor are rows with a negative size, a malformed upload_time,
// or a release file "verified" by another algorithm; the good row beside
// them is still downloaded.
func TestApplyRefusesDownloadRowsItCannotVerify(t *testing.T) {
	t.Parallel()
	m, url, state := plannedMirror(t, 100)
	var secret atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secret.Add(1)
		w.Write([]byte("internal secret"))
	}))
	t.Cleanup(srv.Close)
	dl := planned(t, state, "plan/download", func(r []string) bool { return r[2] != "" && !strings.HasSuffix(r[0], ".metadata") })
	dl[1] = url + "/" + strings.TrimPrefix(dl[0], "web/") // fetched as given: no --download-base below
	hostile := [][]string{
		{"web/packages/aa/bb/cc/secret-1.0.tar.gz", srv.URL + "/secret", "", "", "missing", ""},
		{"web/packages/aa/bb/cc/neg-1.0.tar.gz", srv.URL + "/neg", "-5", dl[3], "missing", ""},
		{"web/packages/aa/bb/cc/time-1.0.tar.gz", srv.URL + "/time", "15", dl[3], "missing", "yesterday"},
		{"web/packages/aa/bb/cc/md5-1.0.tar.gz", srv.URL + "/md5", "15", "md5:" + strings.Repeat("0", 32), "missing", ""},
		{"web/packages/aa/bb/cc/x-1.0.tar.gz.metadata", srv.URL + "/meta", "", "md5:00", "missing", ""},
		dl,
	}
	writeManifest(t, state, "plan/download", hostile)
	writeManifest(t, state, "plan/delete", nil)
	writeManifest(t, state, "plan/remove-projects", nil)
	r := bc(t, nil, "--mirror", m.root, "--state", state, "apply")
	if r.code != 1 {
		t.Fatalf("apply of unverifiable rows: exit %d, want 1\n%s", r.code, r.stderr)
	}
	if n := secret.Load(); n != 0 {
		t.Errorf("apply made %d requests for rows it cannot verify", n)
	}
	out := catState(t, state, "applied/download")
	for _, h := range hostile[:5] {
		if l := lineOf(out, h[0]); !strings.Contains(l, ",failed,") || !strings.Contains(l, "refused: ") {
			t.Errorf("row %v: %q", h, l)
		}
		if _, err := os.Lstat(filepath.Join(m.root, h[0])); err == nil {
			t.Errorf("%s was installed", h[0])
		}
	}
	if !strings.Contains(lineOf(out, dl[0]), ",ok,") {
		t.Errorf("the good row was not downloaded: %q", lineOf(out, dl[0]))
	}
}
