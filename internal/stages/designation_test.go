package stages

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bandercheck/bandercheck/pipeline"
)

// withConfig writes a bandersnatch.conf beside the mirror and uses it.
func (f *fixture) withConfig(text string) {
	path := filepath.Join(filepath.Dir(f.root), "bandersnatch.conf")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		f.t.Fatal(err)
	}
	f.env.Config = path
	f.env.conf = nil
}

// richDoc is a JSON API document whose files carry packagetype and
// whatever extra fields extra gives them.
func richDoc(name, current string, files []pkg, extra func(p pkg) map[string]any) string {
	releases := map[string][]map[string]any{}
	for _, p := range files {
		pt := "bdist_wheel"
		if strings.HasSuffix(p.file, ".tar.gz") {
			pt = "sdist"
		}
		f := map[string]any{"filename": p.file, "url": "https://files.example.invalid/" + p.key()[len("web/"):], "size": len(p.content),
			"digests": map[string]string{"sha256": sum(p.content)}, "upload_time_iso_8601": "2021-02-03T04:05:06Z", "packagetype": pt}
		if extra != nil {
			for k, v := range extra(p) {
				f[k] = v
			}
		}
		releases[p.version] = append(releases[p.version], f)
	}
	b, _ := json.Marshal(map[string]any{"info": map[string]any{"name": name, "version": current}, "last_serial": 1, "releases": releases})
	return string(b)
}

// planned lists the paths of a plan manifest.
func (f *fixture) planned(name string) []string {
	var out []string
	for _, r := range f.rows(name) {
		out = append(out, r[0])
	}
	slices.Sort(out)
	return out
}

// TestConfigFiltersDesignate applies [plugins] exclude_platform: a filtered
// Windows wheel is neither downloaded when missing nor kept when present (it
// was synced before the filter was added), the Linux wheel it lacks is.
func TestConfigFiltersDesignate(t *testing.T) {
	t.Parallel()
	sdist := pkg{"demo-1.0.tar.gz", "1.0", "sdist"}
	win := pkg{"demo-1.0-cp312-cp312-win_amd64.whl", "1.0", "windows wheel"}
	winOld := pkg{"demo-0.9-cp312-cp312-win_amd64.whl", "0.9", "old windows wheel"}
	linux := pkg{"demo-1.0-cp312-cp312-manylinux2014_x86_64.whl", "1.0", "linux wheel"}
	f := newFixture(t, map[string]string{
		"web/json/demo":              richDoc("demo", "1.0", []pkg{sdist, win, winOld, linux}, nil),
		"web/simple/demo/index.html": "<html></html>",
		sdist.key():                  sdist.content,
		win.key():                    win.content,
	})
	f.withConfig("[mirror]\njson = true\n[plugins]\nenabled =\n    exclude_platform\n[blocklist]\nplatforms =\n    windows\n")
	f.scans()
	if err := f.plan(); err != nil {
		t.Fatal(err)
	}
	if got := f.planned("plan/download"); !slices.Equal(got, []string{linux.key()}) {
		t.Errorf("downloads %v, want only the linux wheel", got)
	}
	if got := f.planned("plan/delete"); !slices.Equal(got, []string{win.key()}) {
		t.Errorf("deletes %v, want the filtered windows wheel", got)
	}
	if p := f.rows("problems/metadata"); len(p) != 0 {
		t.Errorf("problems %v", p)
	}
}

// TestConfigMirrorKeys: each [mirror] key that changes what a mirror holds,
// against a mirror bandersnatch would have written with it.
func TestConfigMirrorKeys(t *testing.T) {
	t.Parallel()
	whl := pkg{"demo-1.0-py3-none-any.whl", "1.0", "wheel"}
	meta := "Metadata-Version: 2.1\nName: demo\n"
	md5meta := pkg{"demo-2.0-py3-none-any.whl", "2.0", "wheel two"}
	legacy := pkg{"demo-3.0-py3-none-any.whl", "3.0", "wheel three"}
	doc := richDoc("demo", "3.0", []pkg{whl, md5meta, legacy}, func(p pkg) map[string]any {
		switch p {
		case whl:
			return map[string]any{"core-metadata": map[string]string{"sha256": sum(meta)}, "data-dist-info-metadata": map[string]string{"sha256": sum(meta)}}
		case md5meta:
			return map[string]any{"core-metadata": map[string]string{"md5": hexOf("md5", meta)}}
		default:
			return map[string]any{"data-dist-info-metadata": map[string]string{"sha256": sum(meta)}}
		}
	})
	mirror := map[string]string{
		"web/json/demo":              doc,
		"web/simple/demo/index.html": "<html></html>",
		whl.key():                    whl.content, whl.key() + ".metadata": meta,
		md5meta.key(): md5meta.content, md5meta.key() + ".metadata": meta,
		legacy.key(): legacy.content,
	}

	t.Run("defaults with json", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, mirror)
		f.withConfig("[mirror]\njson = true\n")
		f.scans()
		rows := map[string][]string{}
		for _, r := range f.rows("designated") {
			rows[r[0]] = r
		}
		if r := rows[whl.key()+".metadata"]; r == nil || r[3] != sum(meta) || r[5] != "2021-02-03T04:05:06Z" {
			t.Errorf(".metadata of a sha256 core-metadata: %v (want its digest and the release's upload time)", r)
		}
		if r := rows[md5meta.key()+".metadata"]; r == nil || r[3] != "md5:"+hexOf("md5", meta) {
			t.Errorf(".metadata of an md5-only core-metadata: %v", r)
		}
		if r := rows[legacy.key()+".metadata"]; r != nil {
			t.Errorf("a legacy-only data-dist-info-metadata is designated: %v", r)
		}
		if err := f.plan(); err != nil {
			t.Fatal(err)
		}
		if n := len(f.rows("plan/download")) + len(f.rows("plan/delete")); n != 0 {
			t.Errorf("a mirror as bandersnatch writes it plans %v %v", f.rows("plan/download"), f.rows("plan/delete"))
		}
	})
	t.Run("release-files false", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, mirror)
		f.withConfig("[mirror]\njson = true\nrelease-files = false\n")
		f.scans()
		if d := f.rows("designated"); len(d) != 0 {
			t.Errorf("release-files = false designates %v", d)
		}
		f.plan()
		if d := f.rows("plan/download"); len(d) != 0 {
			t.Errorf("release-files = false downloads %v", d)
		}
	})
	t.Run("core-metadata false", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, mirror)
		f.withConfig("[mirror]\njson = true\ncore-metadata = false\n")
		f.scans()
		for _, r := range f.rows("designated") {
			if strings.HasSuffix(r[0], ".metadata") {
				t.Errorf("core-metadata = false designates %s", r[0])
			}
		}
	})
	t.Run("json false is bandersnatch's default", func(t *testing.T) {
		t.Parallel()
		page := `<!DOCTYPE html><html><body><a href="../../packages/` + strings.TrimPrefix(whl.key(), "web/packages/") + `#sha256=` + sum(whl.content) + `">` + whl.file + `</a></body></html>`
		f := newFixture(t, map[string]string{"web/simple/demo/index.html": page, whl.key(): whl.content})
		f.withConfig("[mirror]\ndirectory = /srv/pypi\n")
		f.scans()
		if p := f.rows("problems/metadata"); len(p) != 0 {
			t.Errorf("json = false gives problems %v", p)
		}
		run, _ := pipeline.NewState(f.env.State).Run()
		if run.Option("metadata.from") != "simple" {
			t.Errorf("source %q, want simple", run.Option("metadata.from"))
		}
		if err := f.plan(); err != nil {
			t.Fatal(err)
		}
		if n := len(f.rows("plan/download")) + len(f.rows("plan/delete")); n != 0 {
			t.Errorf("a clean json = false mirror plans %d actions", n)
		}
	})
}

// TestConfigChangeRefusesResume: the designation is recorded in run.json.
func TestConfigChangeRefusesResume(t *testing.T) {
	t.Parallel()
	f := newFixture(t, map[string]string{"web/json/demo": jsonDoc("demo", 1), "web/packages/aa/x.whl": "x"})
	f.withConfig("[mirror]\njson = true\n")
	f.scans()
	f.withConfig("[mirror]\njson = true\n[plugins]\nenabled = prerelease_release\n")
	_, err := (&ScanMetadataOptions{From: fromJSON, Jobs: 1}).Run(f.ctx, f.env)
	var ue *pipeline.UsageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "metadata.config") {
		t.Fatalf("a resume under other filters: %v", err)
	}
}

// TestBadConfigIsUsageError refuses a bad filter before anything is scanned.
func TestBadConfigIsUsageError(t *testing.T) {
	t.Parallel()
	f := newFixture(t, map[string]string{"web/json/demo": jsonDoc("demo", 1), "web/packages/aa/x.whl": "x"})
	f.withConfig("[plugins]\nenabled = blocklist_release\n[blocklist]\npackages =\n    demo>=>1\n")
	_, err := (&ScanStorageOptions{Jobs: 1}).Run(f.ctx, f.env)
	var ue *pipeline.UsageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "[blocklist] packages") {
		t.Fatalf("scan storage with a malformed specifier: %v", err)
	}
	if _, err := os.Stat(filepath.Join(f.env.State, "storage")); err == nil {
		t.Errorf("storage was scanned under a bad config")
	}
}

// TestProjectFilterReports keeps the files of a project a project filter
// excludes, and says so in problems/metadata without refusing deletes.
func TestProjectFilterReports(t *testing.T) {
	t.Parallel()
	a := pkg{"keepme-1.0.tar.gz", "1.0", "a"}
	b := pkg{"blocked-1.0.tar.gz", "1.0", "b"}
	f := newFixture(t, map[string]string{
		"web/json/keepme": jsonDoc("keepme", 1, a), "web/json/Blocked": jsonDoc("Blocked", 2, b),
		a.key(): a.content, b.key(): b.content,
	})
	f.withConfig("[mirror]\njson = true\n[plugins]\nenabled = blocklist_project\n[blocklist]\npackages =\n    blocked\n")
	f.scans()
	p := f.rows("problems/metadata")
	if len(p) != 1 || p[0][0] != "web/json/Blocked" || p[0][1] != "filter" || p[0][3] != "kept" || !strings.Contains(p[0][2], "blocklist_project") {
		t.Fatalf("problems %v", p)
	}
	if err := f.plan(); err != nil {
		t.Fatal(err)
	}
	if n := len(f.rows("plan/delete")); n != 0 {
		t.Errorf("the excluded project's files are planned for deletion without being asked")
	}
	sum, _ := pipeline.NewState(f.env.State).PlanSummary()
	if sum.ProblemsWithoutFallback != 0 {
		t.Errorf("a filter report blocks deletes: %d", sum.ProblemsWithoutFallback)
	}

	// asked to, plan removes it: its files and its metadata, within the guard
	remove := &PlanOptions{MaxRemoveProjects: Limit{N: 0}, Memory: 64 << 20, RemoveFiltered: true}
	var re *pipeline.RefusedError
	if err := remove.Run(f.ctx, f.env); !errors.As(err, &re) {
		t.Fatalf("--remove-filtered-projects beyond --max-remove-projects 0: %v", err)
	}
	remove.MaxRemoveProjects = Limit{N: 1}
	if err := remove.Run(f.ctx, f.env); err != nil {
		t.Fatal(err)
	}
	if got := f.planned("plan/delete"); !slices.Equal(got, []string{b.key()}) {
		t.Errorf("deletes %v, want the excluded project's file", got)
	}
	var removals []string
	for _, r := range f.rows("plan/remove-projects") {
		removals = append(removals, r[0]+" "+r[1])
	}
	if !slices.Contains(removals, "blocked web/json/Blocked") || slices.ContainsFunc(removals, func(s string) bool { return strings.HasPrefix(s, "keepme") }) {
		t.Errorf("removals %v", removals)
	}
	if err := testApply("http://127.0.0.1:1").Run(f.ctx, f.env); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]bool{"web/json/Blocked": false, b.key(): false, "web/json/keepme": true, a.key(): true} {
		if _, err := os.Stat(filepath.Join(f.root, p)); (err == nil) != want {
			t.Errorf("%s there: %v, want %v", p, err == nil, want)
		}
	}
}

func hexOf(algo, s string) string {
	h, _ := newDigestForTest(algo)
	h.Write([]byte(s))
	return encodeHex(h.Sum(nil))
}

// TestDotNamesAreLeftovers: names beginning with "." in web/json, web/pypi
// and web/simple are a killed sync's temp files, never projects; they are
// deleted like unowned files once older than the grace, and the folders
// holding them stay.
func TestDotNamesAreLeftovers(t *testing.T) {
	t.Parallel()
	a := pkg{"demo-1.0.tar.gz", "1.0", "a"}
	f := newFixture(t, map[string]string{
		"web/json/demo":                 jsonDoc("demo", 1, a),
		"web/json/.demo.k3j9x2a1":       jsonDoc("demo", 2, a),
		"web/pypi/.json.x1":             "{}",
		"web/simple/.index.html.abcdef": "<html>",
		"web/simple/demo/index.html":    "<html></html>",
		a.key():                         a.content,
	})
	fresh := filepath.Join(f.root, "web/json/.fresh.tmp") // a running sync's: within the grace
	os.WriteFile(fresh, []byte("{}"), 0o644)
	f.scans()
	if got := f.column("projects", 1); !slices.Equal(got, []string{"demo"}) {
		t.Errorf("projects %v", got)
	}
	if p := f.rows("problems/metadata"); len(p) != 0 {
		t.Errorf("problems %v", p)
	}
	if err := f.plan(); err != nil {
		t.Fatal(err)
	}
	want := []string{"web/json/.demo.k3j9x2a1", "web/pypi/.json.x1", "web/simple/.index.html.abcdef"}
	if got := f.planned("plan/delete"); !slices.Equal(got, want) {
		t.Errorf("deletes %v, want %v", got, want)
	}
	if err := testApply("http://127.0.0.1:1").Run(f.ctx, f.env); err != nil {
		t.Fatal(err)
	}
	for _, p := range want {
		if _, err := os.Stat(filepath.Join(f.root, p)); err == nil {
			t.Errorf("%s is still there", p)
		}
	}
	for _, p := range []string{"web/json/demo", "web/simple/demo/index.html", "web/pypi", fresh} {
		if !strings.HasPrefix(p, "/") {
			p = filepath.Join(f.root, p)
		}
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}

// TestRunFilteredMirror runs a mirror synced under three filters end to
// end: what the filters exclude but the disk holds (synced before the
// filters were added) goes as unowned, within --max-delete; planted defects
// of the files they keep are repaired; a second run plans nothing.
func TestRunFilteredMirror(t *testing.T) {
	t.Parallel()
	var files []pkg
	mirror := map[string]string{}
	kept := map[string]bool{}
	for _, name := range []string{"alpha", "beta", "gamma"} {
		var pkgs []pkg
		for _, v := range []string{"1.0", "1.1", "2.0", "2.1rc1"} {
			pkgs = append(pkgs, pkg{name + "-" + v + ".tar.gz", v, name + v + " sdist"},
				pkg{name + "-" + v + "-cp312-cp312-win_amd64.whl", v, name + v + " windows"},
				pkg{name + "-" + v + "-py3-none-any.whl", v, name + v + " wheel"})
		}
		mirror["web/json/"+name] = richDoc(name, "2.0", pkgs, nil)
		mirror["web/simple/"+name+"/index.html"] = "<html></html>"
		for _, p := range pkgs {
			// latest_release counts 2.1rc1 among the two latest before
			// prerelease_release drops it, as bandersnatch does: 2.0 alone stays
			keep := !strings.Contains(p.file, "win_amd64") && p.version == "2.0"
			kept[p.key()] = keep
			mirror[p.key()] = p.content // everything synced before the filters
			files = append(files, p)
		}
	}
	// planted defects among the files the filters keep
	missing := pkg{"beta-2.0-py3-none-any.whl", "2.0", "beta2.0 wheel"}
	corrupt := pkg{"gamma-2.0.tar.gz", "2.0", "gamma2.0 sdist"}
	delete(mirror, missing.key())
	mirror[corrupt.key()] = "gamma2.0 sdisT"
	f := newFixture(t, mirror)
	f.withConfig("[mirror]\njson = true\n[plugins]\nenabled =\n    exclude_platform\n    prerelease_release\n    latest_release\n" +
		"[blocklist]\nplatforms = windows\n[latest_release]\nkeep = 2\n")
	up := serveFiles(t, files...)
	run := testRun(upstreamIndex(t, "alpha", "beta", "gamma"), up.URL)
	run.MaxDelete = Limit{Percent: 90, IsPct: true}
	if err := run.Run(f.ctx, f.env); err != nil {
		t.Fatal(err)
	}
	for key, keep := range kept {
		b, err := os.ReadFile(filepath.Join(f.root, key))
		switch {
		case keep && err != nil:
			t.Errorf("%s, which the filters keep, is gone: %v", key, err)
		case keep && key == corrupt.key() && string(b) != corrupt.content:
			t.Errorf("the corrupt file was not repaired: %q", b)
		case !keep && err == nil:
			t.Errorf("%s, which the filters exclude, is still there", key)
		}
	}
	f.runFreshPlansNothing(testRun(upstreamIndex(t, "alpha", "beta", "gamma"), up.URL), "a clean filtered mirror")
}
