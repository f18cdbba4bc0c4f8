package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// TestApplyStopsWhenEveryDownloadFails points apply at an upstream that
// refuses connections, answers 403, or answers 503, and checks that it stops
// with one last line naming the host, the error and the flag
// to fix (exit 1), having asked the host a handful of times, not every file
// four times; the plan's rows stay to retry, and a later apply against a
// working upstream completes the mirror.
func TestApplyStopsWhenEveryDownloadFails(t *testing.T) {
	t.Parallel()
	m, good, state := plannedMirror(t, 150)
	planned := strings.Count(catState(t, state, "plan/download"), "\n") - 1
	if planned < 40 {
		t.Fatalf("only %d downloads planned: the test needs more than the breaker's budget", planned)
	}
	refused := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		return "http://" + addr
	}
	var hits atomic.Int64
	answering := func(code int) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			http.Error(w, http.StatusText(code), code)
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	for _, c := range []struct {
		name, url, says string
	}{
		{"connection refused", refused(), "connection refused"},
		{"403", answering(http.StatusForbidden), "403 Forbidden"},
		{"503", answering(http.StatusServiceUnavailable), "503 Service Unavailable"},
	} {
		hits.Store(0)
		r := bc(t, nil, "--mirror", m.root, "--state", state, "apply", "--download-base", c.url, "--jobs", "4")
		lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
		last := lines[len(lines)-1]
		if r.code != 1 {
			t.Errorf("%s: exit %d, want 1\n%s", c.name, r.code, r.stderr)
		}
		host := strings.TrimPrefix(c.url, "http://")
		for _, want := range []string{host, c.says, "--download-base"} {
			if !strings.Contains(last, want) {
				t.Errorf("%s: the last line does not name %q:\n%s", c.name, want, last)
			}
		}
		if n := hits.Load(); n > 40 {
			t.Errorf("%s: the host was asked %d times for %d planned files", c.name, n, planned)
		}
		if got := catState(t, state, "applied/download"); strings.Contains(got, ",failed,") {
			t.Errorf("%s: rows were recorded as failed, so a rerun would not simply retry them:\n%s", c.name, got)
		}
	}
	mustBC(t, nil, "--mirror", m.root, "--state", state, "apply", "--download-base", good)
	m.verify(t, m.root)
}
