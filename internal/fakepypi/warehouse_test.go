package fakepypi

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

func serve(t *testing.T, w *Warehouse) string {
	t.Helper()
	srv := httptest.NewServer(w)
	t.Cleanup(srv.Close)
	w.SetFilesBase(srv.URL)
	return srv.URL
}

type answer struct {
	status   int
	body     []byte
	serial   int64
	location string
	ctype    string
}

func get(t *testing.T, url, accept string) answer {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	s, _ := strconv.ParseInt(resp.Header.Get(SerialHeader), 10, 64)
	return answer{resp.StatusCode, b, s, resp.Header.Get("Location"), resp.Header.Get("Content-Type")}
}

type index struct {
	Meta struct {
		Serial int64 `json:"_last-serial"`
	} `json:"meta"`
	Projects []struct {
		Name   string `json:"name"`
		Serial int64  `json:"_last-serial"`
	} `json:"projects"`
}

func readIndex(t *testing.T, base string) index {
	t.Helper()
	a := get(t, base+"/simple/", JSONIndexType)
	if a.status != 200 || a.ctype != JSONIndexType {
		t.Fatalf("index: %d %s", a.status, a.ctype)
	}
	var ix index
	if err := json.Unmarshal(a.body, &ix); err != nil {
		t.Fatal(err)
	}
	return ix
}

func TestWarehouseIndexAndSerials(t *testing.T) {
	w, err := Golden("", 0)
	if err != nil {
		t.Fatal(err)
	}
	base := serve(t, w)
	ix := readIndex(t, base)
	if ix.Meta.Serial != 1005 || w.Serial() != 1005 {
		t.Fatalf("meta serial %d, warehouse %d, want 1005", ix.Meta.Serial, w.Serial())
	}
	var names []string
	for _, p := range ix.Projects {
		names = append(names, p.Name+"@"+strconv.FormatInt(p.Serial, 10))
	}
	if got := strings.Join(names, " "); got != "Alpha_Pkg@1001 beta@1002 delta@1004 Gamma.Dots@1003 removed-later@1005" {
		t.Fatalf("projects: %s", got)
	}
	if a := get(t, base+"/simple", ""); a.status != 301 || a.location != "/simple/" {
		t.Fatalf("/simple: %d %q", a.status, a.location)
	}
	if a := get(t, base+"/simple/", "text/html"); a.status != 200 || !strings.Contains(string(a.body), `<a href="/simple/gamma-dots/">Gamma.Dots</a>`) {
		t.Fatalf("html index: %d %s", a.status, a.body)
	}

	// after the changes: a new release, a new project, a removal, a yank, a dropped file
	w1, err := Golden("", 1)
	if err != nil {
		t.Fatal(err)
	}
	ix = readIndex(t, serve(t, w1))
	got := map[string]int64{}
	for _, p := range ix.Projects {
		got[p.Name] = p.Serial
	}
	want := map[string]int64{"Alpha_Pkg": 1006, "Epsilon": 1007, "beta": 1009, "delta": 1010, "Gamma.Dots": 1003}
	if ix.Meta.Serial != 1010 || len(got) != len(want) {
		t.Fatalf("step 1: meta %d, projects %v", ix.Meta.Serial, got)
	}
	for n, s := range want {
		if got[n] != s {
			t.Fatalf("step 1: %s at %d, want %d (%v)", n, got[n], s, got)
		}
	}
}

type doc struct {
	Info struct {
		Name string `json:"name"`
	} `json:"info"`
	LastSerial int64 `json:"last_serial"`
	Releases   map[string][]struct {
		Filename     string            `json:"filename"`
		URL          string            `json:"url"`
		Size         int64             `json:"size"`
		Digests      map[string]string `json:"digests"`
		Yanked       bool              `json:"yanked"`
		CoreMetadata any               `json:"core-metadata"`
	} `json:"releases"`
}

func TestWarehouseDocumentRedirectStaleAndFiles(t *testing.T) {
	w, _ := Golden("", 0)
	base := serve(t, w)

	// other spellings answer 301 to upstream's spelling
	for _, spelling := range []string{"alpha-pkg", "ALPHA.PKG", "alpha_pkg"} {
		a := get(t, base+"/pypi/"+spelling+"/json", "")
		if a.status != 301 || a.location != "/pypi/Alpha_Pkg/json" {
			t.Fatalf("%s: %d %q", spelling, a.status, a.location)
		}
	}
	if a := get(t, base+"/simple/Alpha_Pkg/", ""); a.status != 301 || a.location != "/simple/alpha-pkg/" {
		t.Fatalf("simple page spelling: %d %q", a.status, a.location)
	}
	if a := get(t, base+"/pypi/nope/json", ""); a.status != 404 {
		t.Fatalf("unknown project: %d", a.status)
	}
	a := get(t, base+"/pypi/Alpha_Pkg/json", "")
	if a.status != 200 || a.serial != 1001 || a.ctype != "application/json" {
		t.Fatalf("document: %d serial %d %s", a.status, a.serial, a.ctype)
	}
	var d doc
	if err := json.Unmarshal(a.body, &d); err != nil {
		t.Fatal(err)
	}
	if d.Info.Name != "Alpha_Pkg" || d.LastSerial != 1001 || len(d.Releases) != 3 {
		t.Fatalf("document: %+v", d)
	}
	// a '+' in a file name is percent-encoded in its URL, and the file is served at the decoded path
	f := d.Releases["1.1+cpu"][0]
	if !strings.HasSuffix(f.URL, "/Alpha_Pkg-1.1%2Bcpu.tar.gz") {
		t.Fatalf("url %s", f.URL)
	}
	fa := get(t, f.URL, "")
	if fa.status != 200 || int64(len(fa.body)) != f.Size {
		t.Fatalf("file: %d %d bytes", fa.status, len(fa.body))
	}
	whl := d.Releases["1.0"][1]
	if md, ok := whl.CoreMetadata.(map[string]any); !ok || md["sha256"] == "" {
		t.Fatalf("core-metadata %v", whl.CoreMetadata)
	}
	if ma := get(t, whl.URL+".metadata", ""); ma.status != 200 || !strings.HasPrefix(string(ma.body), "Metadata-Version") {
		t.Fatalf(".metadata: %d", ma.status)
	}
	if w.Requests("/pypi/Alpha_Pkg/json") != 1 || w.RequestsUnder("/packages/") != 2 {
		t.Fatalf("request counts: %d %d", w.Requests("/pypi/Alpha_Pkg/json"), w.RequestsUnder("/packages/"))
	}

	// stale: the next answer is the previous document with its older serial
	if _, err := w.AddRelease("Alpha_Pkg", Release{Version: "3.0", Files: []File{{Filename: "Alpha_Pkg-3.0.tar.gz"}}}); err != nil {
		t.Fatal(err)
	}
	w.Stale("alpha-pkg", 1)
	a = get(t, base+"/pypi/Alpha_Pkg/json", "")
	json.Unmarshal(a.body, &d)
	if a.serial != 1001 || d.LastSerial != 1001 {
		t.Fatalf("stale answer: header %d body %d", a.serial, d.LastSerial)
	}
	d = doc{}
	a = get(t, base+"/pypi/Alpha_Pkg/json", "")
	json.Unmarshal(a.body, &d)
	if a.serial != 1006 || len(d.Releases) != 4 {
		t.Fatalf("fresh answer: serial %d, %d releases", a.serial, len(d.Releases))
	}

	// hostile answers through Override
	w.Override("/pypi/beta/json", func(rw http.ResponseWriter, _ *http.Request) { rw.Write([]byte("{not json")) })
	if a := get(t, base+"/pypi/beta/json", ""); string(a.body) != "{not json" {
		t.Fatalf("override: %s", a.body)
	}
}

func TestWarehouseIsDeterministic(t *testing.T) {
	a, _ := Golden("http://127.0.0.1:1", 1)
	b, _ := Golden("http://127.0.0.1:1", 1)
	for _, n := range []string{"alpha-pkg", "beta", "delta", "gamma-dots", "epsilon"} {
		da, db := a.Document(n), b.Document(n)
		if da == nil || string(da) != string(db) {
			t.Fatalf("%s: documents differ or are missing", n)
		}
	}
	if a.Document("removed-later") != nil {
		t.Fatal("a removed project still has a document")
	}
	if _, err := Golden("", 2); err == nil {
		t.Fatal("step 2 accepted")
	}
}

// TestPrerenderedAnswersAreTheSameAndFollowChanges: a warehouse that keeps
// rendered answers (Prerender, for benchmarks) serves the same bytes and
// serials as one that renders each request, and a change of the model
// (a release, a yank, a removal, stale answers) is seen at once, not hidden
// by what was kept.
func TestPrerenderedAnswersAreTheSameAndFollowChanges(t *testing.T) {
	plain, kept := Synthetic("", 5, 2, 0), Synthetic("", 5, 2, 0)
	pb, kb := serve(t, plain), serve(t, kept)
	// the same files base for both, so the bytes can be compared
	plain.SetFilesBase("http://files.test")
	kept.SetFilesBase("http://files.test")
	kept.Prerender()
	if len(kept.answers) != 2+5 {
		t.Fatalf("Prerender kept %d answers, want the 2 indexes and 5 documents", len(kept.answers))
	}
	paths := []struct{ path, accept string }{
		{"/simple/", JSONIndexType}, {"/simple/", ""},
		{"/pypi/proj-0000001/json", ""}, {"/pypi/proj-0000003/json", ""},
		{"/simple/proj-0000001/", JSONIndexType}, {"/simple/proj-0000001/", ""},
	}
	same := func(step string) {
		t.Helper()
		for _, p := range paths {
			for range 2 { // the second answer comes from what was kept
				a, b := get(t, pb+p.path, p.accept), get(t, kb+p.path, p.accept)
				if a.status != b.status || string(a.body) != string(b.body) || a.serial != b.serial || a.ctype != b.ctype {
					t.Fatalf("%s: %s (%q): kept answer %d serial %d %q, rendered %d serial %d %q", step, p.path, p.accept, b.status, b.serial, b.body, a.status, a.serial, a.body)
				}
			}
		}
	}
	same("at first")
	before := get(t, kb+"/pypi/proj-0000001/json", "")
	for _, w := range []*Warehouse{plain, kept} {
		if _, err := w.AddRelease("proj-0000001", Release{Version: "2.0", Files: []File{{Filename: "proj-0000001-2.0.tar.gz"}}}); err != nil {
			t.Fatal(err)
		}
	}
	after := get(t, kb+"/pypi/proj-0000001/json", "")
	if after.serial <= before.serial || !strings.Contains(string(after.body), "2.0.tar.gz") {
		t.Fatalf("a release added after Prerender is not served: serial %d -> %d", before.serial, after.serial)
	}
	same("after a release")
	for _, w := range []*Warehouse{plain, kept} {
		if err := w.Yank("proj-0000003", "1.0", "broken"); err != nil {
			t.Fatal(err)
		}
		if err := w.RemoveProject("proj-0000002"); err != nil {
			t.Fatal(err)
		}
	}
	paths = append(paths, struct{ path, accept string }{"/pypi/proj-0000002/json", ""})
	same("after a yank and a removal")
	if ix := readIndex(t, kb); len(ix.Projects) != 4 {
		t.Fatalf("the kept index lists %d projects after a removal, want 4", len(ix.Projects))
	}
	kept.Stale("proj-0000001", 1)
	if a := get(t, kb+"/pypi/proj-0000001/json", ""); a.serial != before.serial {
		t.Fatalf("a stale answer after Prerender has serial %d, want the old %d", a.serial, before.serial)
	}
	if a := get(t, kb+"/pypi/proj-0000001/json", ""); a.serial != after.serial {
		t.Fatalf("after the stale answer: serial %d, want %d", a.serial, after.serial)
	}
}

// TestSyntheticStepsChangeADifferentPercentEach: step k of the synthetic
// upstream is step k-1 plus one release on 1% of the projects, a different
// 1% each step, so the sync benchmark can repeat its incremental case on
// one mirror; the projects not changed keep their serials and documents.
func TestSyntheticStepsChangeADifferentPercentEach(t *testing.T) {
	const n = 300
	seen := map[string]int{}
	prev := Synthetic("", n, 2, 0)
	for k := 1; k <= 3; k++ {
		cur := Synthetic("", n, 2, k)
		var changed []string
		for i := range n {
			name := fmt.Sprintf("proj-%07d", i+1)
			a, b := prev.Project(name), cur.Project(name)
			if a.Serial == b.Serial {
				if string(prev.Document(name)) != string(cur.Document(name)) {
					t.Fatalf("step %d: %s kept serial %d but its document changed", k, name, a.Serial)
				}
				continue
			}
			changed = append(changed, name)
			if last := b.Releases[len(b.Releases)-1]; last.Version != fmt.Sprintf("1.%d", k) || len(b.Releases) != len(a.Releases)+1 {
				t.Fatalf("step %d: %s changed by %d releases, the last %q; want one release 1.%d", k, name, len(b.Releases)-len(a.Releases), last.Version, k)
			}
			if s, ok := seen[name]; ok {
				t.Fatalf("step %d: %s changed again (first at step %d)", k, name, s)
			}
			seen[name] = k
		}
		if len(changed) != n/100 {
			t.Fatalf("step %d changed %d projects (%v), want %d", k, len(changed), changed, n/100)
		}
		if cur.Serial() <= prev.Serial() {
			t.Fatalf("step %d: serial %d not past step %d's %d", k, cur.Serial(), k-1, prev.Serial())
		}
		prev = cur
	}
}
