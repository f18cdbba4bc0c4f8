package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const indexJSON = `{"meta":{"api-version":"1.1","_last-serial":9},"projects":[{"name":"Zope","_last-serial":3},{"name":"a_b.C"},{"name":"zope"},{"name":"requests"}]}`
const indexHTML = "<!DOCTYPE html>\n<html><body>\n<a href=\"/simple/zope/\">Zope</a>\n<a href=\"/simple/a-b-c/\">a_b.C</a>\n<a href=\"/simple/requests/\">requests</a>\n</body></html>\n"

func TestScanUpstream(t *testing.T) {
	t.Parallel()
	// the JSON index gives serials (the highest of a name's spellings wins), the HTML index none
	wantJSON := "project,serial\na-b-c,\nrequests,\nzope,3\n"
	wantHTML := "project,serial\na-b-c,\nrequests,\nzope,\n"
	// each case is a subtest of its own, run in parallel: most of their time
	// is scan upstream's wait before its second attempt (1 s)
	handlers := map[string]func(t *testing.T, calls *atomic.Int32) http.HandlerFunc{
		"json": func(t *testing.T, calls *atomic.Int32) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Accept") == "" || !strings.Contains(r.Header.Get("Accept"), "application/vnd.pypi.simple.v1+json") {
					t.Errorf("Accept header %q", r.Header.Get("Accept"))
				}
				w.Header().Set("Content-Type", "application/vnd.pypi.simple.v1+json")
				fmt.Fprint(w, indexJSON)
			}
		},
		"html": func(t *testing.T, calls *atomic.Int32) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				fmt.Fprint(w, indexHTML)
			}
		},
		"503 then success": func(t *testing.T, calls *atomic.Int32) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				if calls.Add(1) == 1 {
					http.Error(w, "busy", http.StatusServiceUnavailable)
					return
				}
				w.Header().Set("Content-Type", "application/vnd.pypi.simple.v1+json")
				fmt.Fprint(w, indexJSON)
			}
		},
		"slow then success": func(t *testing.T, calls *atomic.Int32) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				if calls.Add(1) == 1 {
					select {
					case <-time.After(3 * time.Second):
					case <-r.Context().Done():
					}
					return
				}
				w.Header().Set("Content-Type", "text/html")
				fmt.Fprint(w, indexHTML)
			}
		},
		"truncated then success": func(t *testing.T, calls *atomic.Int32) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/vnd.pypi.simple.v1+json")
				if calls.Add(1) == 1 {
					fmt.Fprint(w, indexJSON[:60])
					return
				}
				fmt.Fprint(w, indexJSON)
			}
		},
	}
	for name, h := range handlers {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var calls atomic.Int32
			srv := httptest.NewServer(h(t, &calls))
			defer srv.Close()
			state := t.TempDir() + "/st"
			mustBC(t, nil, "--mirror", t.TempDir(), "--state", state, "scan", "upstream", "--upstream", srv.URL, "--timeout", "500ms")
			want := wantJSON
			if name == "html" || name == "slow then success" {
				want = wantHTML
			}
			if got := catState(t, state, "upstream"); got != want {
				t.Errorf("upstream manifest %q, want %q", got, want)
			}
		})
	}
	for name, h := range map[string]http.HandlerFunc{
		"always truncated": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, indexHTML[:50])
		},
		"empty index": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/vnd.pypi.simple.v1+json")
			fmt.Fprint(w, `{"meta":{},"projects":[]}`)
		},
		"always 503": func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", http.StatusServiceUnavailable) },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(h)
			defer srv.Close()
			state := t.TempDir() + "/st"
			r := bc(t, nil, "--mirror", t.TempDir(), "--state", state, "scan", "upstream", "--upstream", srv.URL, "--attempts", "2")
			if r.code != 1 || !strings.Contains(r.stderr, "did not answer in 2 attempts") {
				t.Errorf("exit %d: %s", r.code, r.stderr)
			}
			if r := bc(t, nil, "--state", state, "cat", "upstream"); r.code == 0 {
				t.Errorf("a failed fetch left an upstream manifest: %s", r.stdout)
			}
		})
	}
}
