package stages

import (
	"bytes"
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bandercheck/bandercheck/internal/fakepypi"
	"github.com/bandercheck/bandercheck/internal/goldentree"
	"github.com/bandercheck/bandercheck/pipeline"
)

// goldenBase is the upstream the golden trees were recorded from: the file
// URLs in their web/json documents name it. Downloads go to the test's
// server through download-mirror, which changes nothing in the tree.
const goldenBase = "http://127.0.0.1:39123"

// syncConfig writes a golden config for mirror and upstream url.
func syncConfig(t *testing.T, name, mirror, url string, extra string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("../../testdata/golden", name+".conf"))
	if err != nil {
		t.Fatal(err)
	}
	s := strings.NewReplacer("@MIRROR@", mirror, "@MASTER@", url).Replace(string(b))
	s = strings.Replace(s, "[mirror]\n", "[mirror]\ndownload-mirror = "+url+"\ndownload-mirror-no-fallback = true\n"+extra, 1)
	p := filepath.Join(t.TempDir(), name+".conf")
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// syncStep serves the golden scenario at step and syncs mirror from it.
func syncStep(t *testing.T, name, mirror, state string, step int, o SyncOptions) (SyncResult, *fakepypi.Warehouse, string) {
	t.Helper()
	w, err := fakepypi.Golden(goldenBase, step)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(w)
	t.Cleanup(srv.Close)
	var out bytes.Buffer
	g := &Env{Config: syncConfig(t, name, mirror, srv.URL, ""), State: state, Progress: "never", Stdout: &out, Stderr: &out}
	res, err := Sync(context.Background(), g, o)
	if err != nil {
		t.Fatalf("%s step %d: %v\n%s", name, step, err, out.String())
	}
	return res, w, out.String()
}

// checkGolden compares the mirror with bandersnatch's tree at step.
func checkGolden(t *testing.T, name, mirror string, step int) {
	t.Helper()
	tree, err := goldentree.Read(mirror)
	if err != nil {
		t.Fatal(err)
	}
	if e := tree[".lock"]; e != nil {
		e.Mode = 0o755 // bandersnatch's filelock leaves it so
	}
	manifest, copies, err := goldentree.Load(filepath.Join("../../testdata/golden", name, "step"+string(rune('0'+step))))
	if err != nil {
		t.Fatal(err)
	}
	if d := tree.Diff(manifest, copies, false); len(d) > 0 {
		t.Errorf("%s step %d: %d differences from bandersnatch's tree:\n%s", name, step, len(d), strings.Join(d, "\n"))
	}
}

// TestSyncWritesBandersnatchsTree: for each golden config, sync writes the
// tree the real bandersnatch wrote, every path and byte, modes and release
// file mtimes, on the first sync and after upstream changed; a third sync
// with nothing changed upstream fetches nothing.
func TestSyncWritesBandersnatchsTree(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"json-all-flat", "defaults-hash-index", "filters", "html-md5-rooturi", "json-pages-no-files", "keep-index-versions"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			mirror, state := filepath.Join(t.TempDir(), "mirror"), t.TempDir()
			o := DefaultSyncOptions()
			for step := range fakepypi.GoldenSteps {
				res, _, log := syncStep(t, name, mirror, state, step, o)
				if res.Failed != 0 {
					t.Errorf("step %d: %d projects failed\n%s", step, res.Failed, log)
				}
				checkGolden(t, name, mirror, step)
			}
			res, w, _ := syncStep(t, name, mirror, state, fakepypi.GoldenSteps-1, o)
			if res.Todo != 0 || w.RequestsUnder("/pypi/") != 0 || w.RequestsUnder("/packages/") != 0 {
				t.Errorf("a sync with nothing new upstream: %+v, %d documents and %d files asked for", res, w.RequestsUnder("/pypi/"), w.RequestsUnder("/packages/"))
			}
			checkGolden(t, name, mirror, fakepypi.GoldenSteps-1)
		})
	}
}

// TestSyncRemoveDeletedWithinItsGuard: --remove-deleted beyond
// --max-remove-projects is refused (a guard, exit 3) with nothing removed;
// within it the project gone upstream goes, pages and documents.
func TestSyncRemoveDeletedWithinItsGuard(t *testing.T) {
	t.Parallel()
	mirror, state := filepath.Join(t.TempDir(), "mirror"), t.TempDir()
	syncStep(t, "json-all-flat", mirror, state, 0, DefaultSyncOptions())
	gone := filepath.Join(mirror, "web/json/removed-later")
	if _, err := os.Stat(gone); err != nil {
		t.Fatalf("step 0 has no removed-later: %v", err)
	}
	w, err := fakepypi.Golden(goldenBase, 1)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(w)
	t.Cleanup(srv.Close)
	o := DefaultSyncOptions()
	o.RemoveDeleted, o.MaxRemoveProjects = true, Limit{N: 0}
	var out bytes.Buffer
	g := &Env{Config: syncConfig(t, "json-all-flat", mirror, srv.URL, ""), State: state, Progress: "never", Stdout: &out, Stderr: &out}
	_, err = Sync(context.Background(), g, o)
	var re *pipeline.RefusedError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "--max-remove-projects") {
		t.Fatalf("removal beyond the guard: %v\n%s", err, out.String())
	}
	if _, err := os.Stat(gone); err != nil {
		t.Errorf("a refused removal removed the project: %v", err)
	}
	o.MaxRemoveProjects = Limit{N: 1}
	if _, err := Sync(context.Background(), g, o); err != nil {
		t.Fatalf("removal within the guard: %v\n%s", err, out.String())
	}
	for _, p := range []string{gone, filepath.Join(mirror, "web/simple/removed-later"), filepath.Join(mirror, "web/pypi/removed-later")} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s is still there: %v", p, err)
		}
	}
}

// TestCheckSeesVersionedPagesAsPlainOnes: a keep_index_versions mirror,
// whose index pages are links into versions/, is checked as the same mirror
// without versions is: after both syncs, run plans the same rows (the file
// and the project sync keeps once upstream dropped them) and finds no
// problem with the pages.
func TestCheckSeesVersionedPagesAsPlainOnes(t *testing.T) {
	t.Parallel()
	plain, versioned := syncThenCheck(t, "defaults-hash-index"), syncThenCheck(t, "keep-index-versions")
	for m, rows := range plain {
		if !slices.Equal(rows, versioned[m]) {
			t.Errorf("%s: without versions %q, with them %q", m, rows, versioned[m])
		}
	}
	if len(plain["plan/delete"]) == 0 {
		t.Errorf("the scenario should leave a file for run to delete; plans: %v", plain)
	}
}

// syncThenCheck syncs every golden step with config name, then runs a dry
// run from a new STATE, and returns the rows of its plan and problems.
func syncThenCheck(t *testing.T, name string) map[string][]string {
	mirror, state := filepath.Join(t.TempDir(), "mirror"), t.TempDir()
	for step := range fakepypi.GoldenSteps {
		syncStep(t, name, mirror, state, step, DefaultSyncOptions())
	}
	w, err := fakepypi.Golden(goldenBase, fakepypi.GoldenSteps-1)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(w)
	defer srv.Close()
	var out bytes.Buffer
	g := &Env{Config: syncConfig(t, name, mirror, srv.URL, ""), State: t.TempDir(), Progress: "never", Stdout: &out, Stderr: &out}
	run := DefaultRunOptions()
	run.DryRun, run.Hash = true, HashContent
	run.Plan.MaxRemoveProjects = Limit{Percent: 100, IsPct: true}
	if err := run.Run(context.Background(), g); err != nil {
		t.Fatalf("%s: run: %v\n%s", name, err, out.String())
	}
	got := map[string][]string{}
	for _, m := range []string{"plan/download", "plan/delete", "plan/remove-projects", "problems/storage", "problems/metadata"} {
		got[m] = []string{}
		if err := g.StateDir().EachRow(m, func(r []string) error {
			got[m] = append(got[m], strings.Join(r, ","))
			return nil
		}); err != nil {
			t.Fatalf("read %s: %v", m, err)
		}
	}
	return got
}

// TestSyncDiffFileListsWhatItWrote: with diff-file, each sync leaves the
// list bandersnatch leaves: the absolute path of each web/json document
// (not its web/pypi copy), each project page and root index page written,
// and each release or .metadata file downloaded, one a line, no line feed
// after the last; after a sync with nothing new the list is empty.
func TestSyncDiffFileListsWhatItWrote(t *testing.T) {
	t.Parallel()
	const name = "json-all-flat"
	mirror, state := filepath.Join(t.TempDir(), "mirror"), t.TempDir()
	list := filepath.Join(t.TempDir(), "diffs", "list") // its folder is made
	sync := func(step int) []string {
		t.Helper()
		w, err := fakepypi.Golden(goldenBase, step)
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(w)
		defer srv.Close()
		var out bytes.Buffer
		g := &Env{Config: syncConfig(t, name, mirror, srv.URL, "diff-file = "+list+"\n"), State: state, Progress: "never", Stdout: &out, Stderr: &out}
		if _, err := Sync(context.Background(), g, DefaultSyncOptions()); err != nil {
			t.Fatalf("step %d: %v\n%s", step, err, out.String())
		}
		b, err := os.ReadFile(list)
		if err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		if len(b) == 0 {
			return nil
		}
		if strings.HasSuffix(string(b), "\n") {
			t.Errorf("step %d: the list ends with a line feed", step)
		}
		var rel []string
		for _, l := range strings.Split(string(b), "\n") {
			r, ok := strings.CutPrefix(l, mirror+"/")
			if !ok {
				t.Errorf("step %d: %q is not an absolute path in the mirror", step, l)
			}
			if fi, err := os.Lstat(l); err != nil || !fi.Mode().IsRegular() {
				t.Errorf("step %d: %s is listed but is no file: %v", step, r, err)
			}
			rel = append(rel, r)
		}
		slices.Sort(rel)
		return rel
	}
	files := func() map[string]bool { // what the list may name: all but web/pypi copies and the markers
		got := map[string]bool{}
		filepath.WalkDir(mirror, func(p string, d os.DirEntry, err error) error {
			r := strings.TrimPrefix(p, mirror+"/")
			if err == nil && d.Type().IsRegular() && !strings.HasPrefix(r, "web/pypi/") &&
				!slices.Contains([]string{".lock", "status", "generation", "web/last-modified"}, r) {
				got[r] = true
			}
			return nil
		})
		return got
	}

	first := sync(0)
	all := files()
	if len(first) != len(all) {
		t.Errorf("first sync lists %d files, the mirror has %d it should list:\n%v", len(first), len(all), first)
	}
	for _, r := range first {
		if !all[r] {
			t.Errorf("first sync lists %s", r)
		}
	}

	second := sync(1)
	for r := range files() {
		if !all[r] && !slices.Contains(second, r) {
			t.Errorf("after upstream changed, the new %s is not listed", r)
		}
	}
	synced := map[string]bool{}
	pipeline.NewState(state).EachRow("sync/projects", func(row []string) error {
		synced[row[0]] = row[2] == "synced"
		return nil
	})
	for p, ok := range synced {
		if listed := slices.Contains(second, "web/json/"+p); listed != ok {
			t.Errorf("after upstream changed: %s synced %t, its document listed %t", p, ok, listed)
		}
	}
	if !slices.Contains(second, "web/simple/index.v1_json") || len(second) >= len(first) {
		t.Errorf("after upstream changed the list is %v", second)
	}

	if again := sync(1); len(again) != 0 {
		t.Errorf("a sync with nothing new lists %v", again)
	}
}

// TestSyncCleanupRemovesPrePEP503Folders: with cleanup = true a synced
// project's old simple folders (under the name as upstream spells it, and
// its old safe name) go, as bandersnatch's cleanup removes them; without it
// they stay; a folder holding folders stays, and says so.
func TestSyncCleanupRemovesPrePEP503Folders(t *testing.T) {
	t.Parallel()
	for _, cleanup := range []bool{false, true} {
		mirror, state := filepath.Join(t.TempDir(), "mirror"), t.TempDir()
		old := []string{"web/simple/Alpha_Pkg/index.html", "web/simple/gamma.dots/index.html", "web/simple/Gamma.Dots/index.html",
			"web/simple/Epsilon/versions/index_1_x.html", "web/simple/Epsilon/index.html"}
		for _, p := range old {
			if err := os.MkdirAll(filepath.Dir(filepath.Join(mirror, p)), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(mirror, p), []byte("old"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		w, err := fakepypi.Golden(goldenBase, fakepypi.GoldenSteps-1)
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(w)
		var out bytes.Buffer
		extra := ""
		if cleanup {
			extra = "cleanup = true\n"
		}
		g := &Env{Config: syncConfig(t, "json-all-flat", mirror, srv.URL, extra), State: state, Progress: "never", Stdout: &out, Stderr: &out}
		_, err = Sync(context.Background(), g, DefaultSyncOptions())
		srv.Close()
		if err != nil {
			t.Fatalf("%v\n%s", err, out.String())
		}
		for _, p := range old {
			_, err := os.Stat(filepath.Join(mirror, p))
			gone := os.IsNotExist(err)
			want := cleanup && !strings.HasPrefix(p, "web/simple/Epsilon/")
			if gone != want {
				t.Errorf("cleanup %t: %s gone %t, want %t", cleanup, p, gone, want)
			}
		}
		for _, p := range []string{"web/simple/alpha-pkg/index.html", "web/simple/gamma-dots/index.html", "web/simple/epsilon/index.html"} {
			if _, err := os.Stat(filepath.Join(mirror, p)); err != nil {
				t.Errorf("cleanup %t: the live page %s: %v", cleanup, p, err)
			}
		}
		if cleanup && !strings.Contains(out.String(), "web/simple/Epsilon/ stays") {
			t.Errorf("the folder left alone is not logged:\n%s", out.String())
		}
	}
}
