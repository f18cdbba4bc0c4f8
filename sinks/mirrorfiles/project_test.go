package mirrorfiles

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bandercheck/bandercheck/internal/fakepypi"
	"github.com/bandercheck/bandercheck/sources"
)

func jsonOn() Options { o := DefaultOptions(); o.JSON = true; return o }

func paths(outs []Output) []string {
	var p []string
	for _, o := range outs {
		p = append(p, o.Path)
	}
	return p
}

func TestPrepareRefusesAndStopsAsBandersnatchDoes(t *testing.T) {
	if p, err := Prepare([]byte(`{}`), "a/b", jsonOn()); p != nil || err == nil {
		t.Fatal("a name with / was accepted")
	}
	if p, err := Prepare([]byte(`{"info": `), "x", jsonOn()); p != nil || err == nil {
		t.Fatal("a truncated document was accepted")
	}
	// bandersnatch writes web/json, then stops on the document: no pages, no downloads
	for doc, why := range map[string]string{
		`{"info": {"name": "x"}, "last_serial": 3}`: "no releases object",
		`{"releases": {}}`:                          "no info",
		`[1, 2]`:                                    "no info",
		`{"info": {}, "last_serial": 3, "releases": {"1": [{"filename": "x.tgz", "url": "http://h/packages/a/x.tgz", "digests": {"md5": "00"}, "size": 1, "upload_time_iso_8601": "2020-01-02T03:04:05Z"}]}}`:                                     "no sha256 digest",
		`{"info": {}, "last_serial": 3, "releases": {"1": [{"filename": "x.tgz", "url": "http://h/packages/../../etc/x", "digests": {"sha256": "` + strings.Repeat("a", 64) + `"}, "size": 1, "upload_time_iso_8601": "2020-01-02T03:04:05Z"}]}}`: "empty, . or ..",
		`{"info": {}, "last_serial": 3, "releases": {"1": "nope"}}`: "not a list",
	} {
		p, err := Prepare([]byte(doc), "X", jsonOn())
		if p == nil || err == nil || !strings.Contains(err.Error(), why) {
			t.Errorf("%s: %v, want %q", doc, err, why)
			continue
		}
		if got := paths(p.JSONFiles()); !slices.Equal(got, []string{"web/json/x", "web/pypi/x/json"}) {
			t.Errorf("%s: json files %v", doc, got)
		}
		if p.Pages() != nil || p.Downloads() != nil {
			t.Errorf("%s: pages or downloads after an error", doc)
		}
	}
}

func TestMetadataFilterSkipsEverything(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "b.conf")
	os.WriteFile(conf, []byte("[mirror]\ndirectory = /m\njson = true\n[plugins]\nenabled =\n    versions_count_project_metadata\n[versions_count_project_metadata]\nmax_versions = 2\n"), 0o644)
	cfg, err := sources.ReadConfig(conf)
	if err != nil {
		t.Fatal(err)
	}
	w, _ := fakepypi.Golden("http://h", 0)
	p, err := Prepare(w.Document("alpha-pkg"), "Alpha_Pkg", OptionsFromConfig(cfg)) // three releases
	if err != nil || p.Skip == "" {
		t.Fatalf("skip %q, err %v", p.Skip, err)
	}
	if p.JSONFiles() != nil || p.Pages() != nil || p.Downloads() != nil {
		t.Fatal("a skipped project writes files")
	}
	// with a metadata filter on, a document it cannot read stops the project before web/json
	if p, err := Prepare([]byte(`{"releases": {}}`), "x", OptionsFromConfig(cfg)); p != nil || err == nil {
		t.Fatalf("no info under a metadata filter: %v %v", p, err)
	}
	p, err = Prepare(w.Document("removed-later"), "removed-later", OptionsFromConfig(cfg)) // one release
	if err != nil || p.Skip != "" || len(p.JSONFiles()) != 2 {
		t.Fatalf("kept project: skip %q, err %v", p.Skip, err)
	}
}

func TestDownloadsAndDigests(t *testing.T) {
	w, _ := fakepypi.Golden("http://h", 0)
	o := DefaultOptions()
	p, err := Prepare(w.Document("beta"), "beta", o)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range p.Downloads() {
		got = append(got, filepath.Base(d.Path)+" "+d.DigestName)
	}
	// document order; .metadata right after its file, only with a digest (not for core-metadata true)
	want := []string{"beta-0.9.tar.gz sha256", "beta-1.0.tar.gz sha256", "beta-1.0-cp311-cp311-win_amd64.whl sha256",
		"beta-1.0-cp311-cp311-manylinux_2_17_x86_64.whl sha256", "beta-1.0-cp311-cp311-manylinux_2_17_x86_64.whl.metadata sha256"}
	if !slices.Equal(got, want) {
		t.Fatalf("downloads\n got %v\nwant %v", got, want)
	}
	o.CoreMetadata = false
	p, _ = Prepare(w.Document("beta"), "beta", o)
	if n := len(p.Downloads()); n != 4 {
		t.Fatalf("core-metadata off: %d downloads", n)
	}
	if strings.Contains(string(p.HTML()), "data-core-metadata") || strings.Contains(string(p.PageJSON()), "core-metadata") {
		t.Fatal("core-metadata off still advertises metadata")
	}
	o.ReleaseFiles, o.RootURI = false, "https://files.example"
	p, _ = Prepare(w.Document("beta"), "beta", o)
	if p.Downloads() != nil || !strings.Contains(string(p.HTML()), `href="https://files.example/packages/`) {
		t.Fatal("release-files off: downloads, or links not under root_uri")
	}
}

func TestLayoutHelpers(t *testing.T) {
	if got := SimpleDir("émile", true); got != "web/simple/é/émile/" {
		t.Errorf("hash-index of a non-ASCII name: %s", got)
	}
	write, remove := RootIndexFiles([]string{"b/beta", "a/alpha", "a/alpha", "b/bz", "stray"}, 7, Options{SimpleFormat: "JSON", HashIndex: true})
	if !slices.Equal(remove, []string{"web/simple/index.html"}) || len(write) != 1 {
		t.Fatalf("JSON format: write %v remove %v", paths(write), remove)
	}
	if got := string(write[0].Data); got != `{"meta": {"_last-serial": 7, "api-version": "1.1"}, "projects": [{"name": "alpha"}, {"name": "beta"}, {"name": "bz"}]}` {
		t.Errorf("root json %s", got)
	}
	if err := (Options{ReleaseFiles: false, SimpleFormat: "ALL"}).Validate(); err == nil {
		t.Error("release-files off without root_uri validated")
	}
	if err := DefaultOptions().Validate(); err != nil {
		t.Error(err)
	}
	if s := StatusFile(1005); string(s.Data) != "1005" || s.Mode != 0o600 {
		t.Errorf("status %q %o", s.Data, s.Mode)
	}
	if l := LastModifiedFile(time.Date(2026, 12, 4, 17, 24, 44, 9, time.UTC)); string(l.Data) != "20261204T17:24:44\n" {
		t.Errorf("last-modified %q", l.Data)
	}
}

func TestVersionedPages(t *testing.T) {
	w, _ := fakepypi.Golden("http://h", 0)
	o := DefaultOptions()
	o.KeepIndexVersions = 2
	o.HashIndex = true
	p, err := Prepare(w.Document("delta"), "delta", o)
	if err != nil {
		t.Fatal(err)
	}
	existing := []string{"index_9_2026-01-01T000000Z.html", "index_8_2025-01-01T000000Z.html", "index_9_2026-01-01T000000Z.v1_json", "index_9_2026-01-01T000000Z.v1_html"}
	write, links, remove := p.VersionedPages(existing, 1004, time.Date(2026, 12, 4, 17, 0, 0, 0, time.UTC))
	// keep 2: before writing, each extension keeps at most one old page
	if !slices.Equal(remove, []string{"web/simple/d/delta/versions/index_8_2025-01-01T000000Z.html"}) {
		t.Errorf("remove %v", remove)
	}
	wantWrite := []string{"web/simple/d/delta/versions/index_1004_2026-12-04T170000Z.html",
		"web/simple/d/delta/versions/index_1004_2026-12-04T170000Z.v1_html",
		"web/simple/d/delta/versions/index_1004_2026-12-04T170000Z.v1_json"}
	if !slices.Equal(paths(write), wantWrite) || string(write[0].Data) != string(p.HTML()) || string(write[2].Data) != string(p.PageJSON()) {
		t.Errorf("write %v", paths(write))
	}
	if len(links) != 3 || links[1].Path != "web/simple/d/delta/index.v1_html" || links[1].Target != wantWrite[1] {
		t.Errorf("links %v", links)
	}
}

func TestSafeName(t *testing.T) {
	// bandersnatch_safe_name, as `bandersnatch sync NAME` spells the title (seen: "Links for alpha-pkg")
	for in, want := range map[string]string{"alpha_pkg": "alpha-pkg", "Zope.Interface": "zope.interface", "a__b--c": "a-b-c", "é-x": "-x", "A B": "a-b"} {
		if got := SafeName(in); got != want {
			t.Errorf("SafeName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestOptionsFromConfig(t *testing.T) {
	dir := t.TempDir()
	read := func(body string) (Options, error) {
		conf := filepath.Join(dir, "b.conf")
		os.WriteFile(conf, []byte("[mirror]\ndirectory = /m\n"+body), 0o644)
		cfg, err := sources.ReadConfig(conf)
		if err != nil {
			return Options{}, err
		}
		return OptionsFromConfig(cfg), nil
	}
	o, err := read("json = yes\nsimple-format = json\nhash-index = on\nroot_uri = https://files.example/m\nkeep_index_versions = 3\ndigest_name = md5\nrelease-files = 0\ncore-metadata = false\n")
	if err != nil {
		t.Fatal(err)
	}
	want := Options{JSON: true, SimpleFormat: "JSON", HashIndex: true, RootURI: "https://files.example/m", KeepIndexVersions: 3, DigestName: "md5"}
	o.Filters = nil
	if o != want {
		t.Fatalf("options %+v, want %+v", o, want)
	}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	o, _ = read("")
	o.Filters = nil
	if d := DefaultOptions(); o != d {
		t.Fatalf("defaults %+v, want %+v", o, d)
	}
	if _, err := read("keep_index_versions = many\n"); err == nil || !strings.Contains(err.Error(), "keep_index_versions") {
		t.Fatalf("a bad keep_index_versions: %v", err)
	}
}
