package sources_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bandercheck/bandercheck/internal/fakepypi"
	"github.com/bandercheck/bandercheck/sources"
)

// TestUpstreamProject: the document comes through upstream's redirect to its
// own spelling; a stale answer is asked again (as bandersnatch: 3 attempts in
// all) and refused when it stays stale; a 404 is ErrNotFound; a hung answer
// times out; an index lists each project's serial.
func TestUpstreamProject(t *testing.T) {
	w := fakepypi.NewWarehouse("", 100)
	srv := httptest.NewServer(w)
	defer srv.Close()
	serial := w.AddProject("Alpha_Pkg", fakepypi.Release{Version: "1.0", Files: []fakepypi.File{{Filename: "Alpha_Pkg-1.0.tar.gz"}}})
	w.AddProject("beta")
	u := &sources.Upstream{Base: srv.URL, Client: sources.NewUpstreamClient(time.Second, 10*time.Second, 4, ""), Attempts: 3, StaleWait: time.Millisecond, IdleTimeout: time.Second}
	ctx := context.Background()

	doc, err := u.Project(ctx, "alpha-pkg", serial)
	if err != nil || !strings.Contains(string(doc), `"Alpha_Pkg"`) {
		t.Fatalf("alpha-pkg: %v %.80s", err, doc)
	}
	if w.Requests("/pypi/alpha-pkg/json") != 1 || w.Requests("/pypi/Alpha_Pkg/json") != 1 {
		t.Errorf("not asked by the normal name, then the redirect: %d %d", w.Requests("/pypi/alpha-pkg/json"), w.Requests("/pypi/Alpha_Pkg/json"))
	}

	w.ResetRequests()
	w.Stale("alpha-pkg", 2)
	if _, err := u.Project(ctx, "alpha-pkg", serial); err != nil {
		t.Fatalf("stale twice, then current: %v", err)
	}
	if n := w.Requests("/pypi/Alpha_Pkg/json"); n != 3 {
		t.Errorf("%d attempts, want 3", n)
	}
	w.Stale("alpha-pkg", 3)
	_, err = u.Project(ctx, "alpha-pkg", serial)
	var stale *sources.StaleError
	if !errors.As(err, &stale) || stale.Want != serial {
		t.Errorf("stale three times: %v, want a StaleError", err)
	}
	w.Stale("alpha-pkg", 0)
	if _, err := u.Project(ctx, "alpha-pkg", 0); err != nil {
		t.Errorf("serial 0 (sync NAME) takes any answer: %v", err)
	}

	if _, err := u.Project(ctx, "gone", 5); !errors.Is(err, sources.ErrNotFound) {
		t.Errorf("unknown project: %v, want ErrNotFound", err)
	}

	hung := make(chan struct{})
	defer close(hung)
	w.Override("/pypi/beta/json", func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set(fakepypi.SerialHeader, "999")
		rw.WriteHeader(200)
		rw.Write([]byte(`{"info":`))
		rw.(http.Flusher).Flush()
		select {
		case <-hung:
		case <-r.Context().Done():
		}
	})
	u.IdleTimeout = 50 * time.Millisecond
	start := time.Now()
	if _, err := u.Project(ctx, "beta", 0); err == nil || time.Since(start) > 5*time.Second {
		t.Errorf("a body that stops: %v after %s", err, time.Since(start))
	}

	var names []string
	var serials []int64
	if _, err := sources.FetchIndex(ctx, srv.Client(), srv.URL, func(n string, s int64) error {
		names, serials = append(names, n), append(serials, s)
		return nil
	}); err != nil || len(names) != 2 || names[0] != "Alpha_Pkg" || serials[0] != serial {
		t.Errorf("index: %v %v %v", names, serials, err)
	}
}

// TestIndexEntries: each project of a PEP 691 index gives its name and
// _last-serial as written, whatever the order of members, escapes in names
// and values, and other members (skipped); a serial that is not a number is
// none, an entry without a name is skipped; a serial that is not a whole
// number, or a name that is not a string, fails the index.
func TestIndexEntries(t *testing.T) {
	serve := func(body string) (names []string, serials []int64, err error) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", sources.SimpleJSONType)
			w.Write([]byte(body))
		}))
		defer srv.Close()
		_, err = sources.FetchIndex(context.Background(), srv.Client(), srv.URL, func(n string, s int64) error {
			names, serials = append(names, n), append(serials, s)
			return nil
		})
		return names, serials, err
	}
	names, serials, err := serve(`{"meta":{"_last-serial":12},"projects":[
		{"name":"plain","_last-serial":7},
		{"_last-serial":8,"n\u0061me":"esc\u0061ped \"q\""},
		{"name":"text-serial","_last-serial":"5"},
		{"name":"neg","_last-serial":-3},
		{"other":[1,{"name":"inner","_last-serial":1}],"name":"Skips_Others","_last-serial":10,"extra":null},
		{"_last-serial":11},
		{"name":"","_last-serial":12},
		{"name":"no-serial"}]}`)
	wantNames := []string{"plain", `escaped "q"`, "text-serial", "neg", "Skips_Others", "no-serial"}
	wantSerials := []int64{7, 8, sources.NoSerial, -3, 10, sources.NoSerial}
	if err != nil || !slices.Equal(names, wantNames) || !slices.Equal(serials, wantSerials) {
		t.Errorf("index: %q %v %v, want %q %v", names, serials, err, wantNames, wantSerials)
	}
	for body, want := range map[string]string{
		`{"projects":[{"name":"x","_last-serial":1.5}]}`:                  "_last-serial 1.5 is not a whole number",
		`{"projects":[{"name":"x","_last-serial":99999999999999999999}]}`: "is not a whole number",
		`{"projects":[{"name":5,"_last-serial":1}]}`:                      "expected a string, found a number",
		`{"projects":[{"name":"x","_last-serial":1},"y"]}`:                "project is a string, want an object",
		`{"projects":[{"name":"x","_last-serial":1}`:                      "truncated",
	} {
		if _, _, err := serve(body); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error saying %q", body, err, want)
		}
	}
}
