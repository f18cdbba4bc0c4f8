package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/bandercheck/bandercheck/internal/testutil"
	"github.com/bandercheck/bandercheck/pipeline"
)

// canaries writes files beside the mirror that no apply may touch, and
// returns a check that they are all still there, unchanged.
func canaries(t *testing.T, dir string) func() {
	t.Helper()
	files := map[string]string{
		"outside.txt":             "canary 1",
		"x":                       "canary 2",
		"victimdir/keep.txt":      "canary 3",
		"elsewhere/aa/bb/f.whl":   "canary 4",
		"elsewhere/aa/bb/g.whl":   "canary 5",
		"pypi-elsewhere/p/json":   "canary 6",
		"target/file.whl":         "canary 7",
		"dl-target/linked.tar.gz": "canary 8",
	}
	testutil.WriteFiles(t, dir, files)
	return func() {
		t.Helper()
		for name, want := range files {
			got, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil || string(got) != want {
				t.Errorf("canary %s beside the mirror was touched: %v %q", name, err, got)
			}
		}
		for _, gone := range []string{"dl-outside.txt", "elsewhere/aa/bb/new.whl"} {
			if _, err := os.Lstat(filepath.Join(dir, gone)); err == nil {
				t.Errorf("apply wrote %s outside the mirror", gone)
			}
		}
	}
}

// planned returns the first row of a plan manifest for which keep is true.
func planned(t *testing.T, state, name string, keep func(row []string) bool) []string {
	t.Helper()
	r, err := pipeline.NewState(state).Manifest(name)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for {
		row, err := r.Next()
		if err != nil {
			t.Fatalf("%s has no row to use", name)
		}
		if keep(row) {
			return row
		}
	}
}

func TestApplyRefusesPlanRowsOutsideTheMirror(t *testing.T) {
	t.Parallel()
	m, url, state := plannedMirror(t, 100)
	dl := planned(t, state, "plan/download", func([]string) bool { return true })
	writeManifest(t, state, "plan/download", [][]string{[]string{"../dl-outside.txt", dl[1], dl[2], dl[3], "missing", dl[5]}, dl})
	writeManifest(t, state, "plan/delete", [][]string{[]string{"../outside.txt", "8", "unowned"},
		[]string{"web/packages/../../../x", "8", "unowned"},
		[]string{"/etc/passwd", "8", "unowned"},
		[]string{"web/json/numpy", "8", "unowned"}})
	writeManifest(t, state, "plan/remove-projects", [][]string{[]string{"gone", "web/simple/../../../victimdir/"},
		[]string{"gone", "web/json/../../victimdir"},
		[]string{"gone", "web/json/other-project"},
		[]string{"../x", "web/json/../x"}})
	r := bc(t, nil, "--mirror", m.root, "--state", state, "apply", "--download-base", url, "--max-delete", "100%")
	if r.code != 1 {
		t.Fatalf("apply of a hostile plan: exit %d, want 1\n%s", r.code, r.stderr)
	}
	m.canaries()
	for _, name := range []string{"applied/download", "applied/delete", "applied/remove-projects"} {
		out := catState(t, state, name)
		for _, l := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
			if strings.Contains(l, ",ok,") && !strings.HasPrefix(l, dl[0]+",") {
				t.Errorf("%s: a hostile row was carried out: %s", name, l)
			}
		}
	}
	if !strings.Contains(lineOf(catState(t, state, "applied/download"), dl[0]), ",ok,") {
		t.Errorf("the one good download beside the bad one was not carried out")
	}
}

func TestApplyNeverFollowsLinks(t *testing.T) {
	t.Parallel()
	m, url, state := plannedMirror(t, 100)
	beside := filepath.Dir(m.root)

	// (a) a download below a link to a folder outside
	dl := planned(t, state, "plan/download", func(r []string) bool { return r[2] != "" })
	if err := os.Symlink(filepath.Join(beside, "elsewhere"), filepath.Join(m.root, "web/packages/sd")); err != nil {
		t.Fatal(err)
	}
	// (d) a planned download whose target is itself a link to a file outside
	dl2 := planned(t, state, "plan/download", func(r []string) bool { return r[2] != "" && r[0] != dl[0] })
	os.MkdirAll(filepath.Dir(filepath.Join(m.root, dl2[0])), 0o755)
	os.Remove(filepath.Join(m.root, dl2[0]))
	if err := os.Symlink(filepath.Join(beside, "dl-target/linked.tar.gz"), filepath.Join(m.root, dl2[0])); err != nil {
		t.Fatal(err)
	}
	writeManifest(t, state, "plan/download", [][]string{[]string{"web/packages/sd/aa/bb/new.whl", dl[1], dl[2], dl[3], "missing", dl[5]},
		dl2})
	// (b) a folder swapped for a link after plan: deletes of files "in" it
	testutil.WriteFiles(t, m.root, map[string]string{"web/packages/zz/yy/f.whl": "x", "web/packages/zz/yy/g.whl": "y"})
	os.RemoveAll(filepath.Join(m.root, "web/packages/zz"))
	if err := os.Symlink(filepath.Join(beside, "elsewhere/aa"), filepath.Join(m.root, "web/packages/zz")); err != nil {
		t.Fatal(err)
	}
	writeManifest(t, state, "plan/delete", [][]string{[]string{"web/packages/zz/bb/f.whl", "8", "unowned"},
		[]string{"web/packages/zz/bb/g.whl", "8", "unowned"}})
	// (c) web/pypi swapped for a link to an outside tree before a removal
	os.RemoveAll(filepath.Join(m.root, "web/pypi"))
	if err := os.Symlink(filepath.Join(beside, "pypi-elsewhere"), filepath.Join(m.root, "web/pypi")); err != nil {
		t.Fatal(err)
	}
	writeManifest(t, state, "plan/remove-projects", [][]string{[]string{"p", "web/pypi/p/"}})

	r := bc(t, nil, "--mirror", m.root, "--state", state, "apply", "--download-base", url, "--max-delete", "100%")
	if r.code != 1 {
		t.Fatalf("apply through links: exit %d, want 1\n%s", r.code, r.stderr)
	}
	m.canaries()
	for _, link := range []string{"web/packages/sd", "web/packages/zz", "web/pypi", dl2[0]} {
		if fi, err := os.Lstat(filepath.Join(m.root, link)); err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Errorf("link %s was removed or replaced: %v", link, err)
		}
	}
	for name, rows := range map[string]int{"applied/download": 2, "applied/delete": 2, "applied/remove-projects": 1} {
		out := catState(t, state, name)
		if n := strings.Count(out, ",failed,"); n != rows || !strings.Contains(out, "symbolic link") {
			t.Errorf("%s: %d failed rows naming the link, want %d:\n%s", name, n, rows, out)
		}
	}
}

func TestApplyOneBadPathNeverStopsTheRun(t *testing.T) {
	t.Parallel()
	m, url, state := plannedMirror(t, 100)
	dl := planned(t, state, "plan/download", func(r []string) bool { return r[2] != "" })
	del := planned(t, state, "plan/delete", func([]string) bool { return true })
	// a file where a folder belongs, a folder where a file belongs
	testutil.WriteFiles(t, m.root, map[string]string{"web/packages/fi/le": "a file, not a folder"})
	os.MkdirAll(filepath.Join(m.root, "web/packages/di/r/x.whl"), 0o755)
	long := strings.Repeat("n", 300)
	bad := func(path string) []string { return []string{path, dl[1], dl[2], dl[3], "missing", dl[5]} }
	writeManifest(t, state, "plan/download", [][]string{bad("web/packages/di/r/x.whl"),
		bad("web/packages/fi/le/x.whl"),
		bad("web/packages/nu/l\x00l.whl"),
		bad("web/packages/lo/" + long + ".whl"),
		dl})
	writeManifest(t, state, "plan/delete", [][]string{[]string{"web/packages/fi/le/y.whl", "1", "unowned"}, del})
	r := bc(t, nil, "--mirror", m.root, "--state", state, "apply", "--download-base", url, "--max-delete", "100%")
	if r.code != 1 || !strings.Contains(r.stderr, "4 download rows failed") || !strings.Contains(r.stderr, "1 delete rows failed") {
		t.Fatalf("apply: exit %d, want 1 with 4 failed downloads and 1 failed delete\n%s", r.code, r.stderr)
	}
	if got := lineOf(catState(t, state, "applied/download"), dl[0]); !strings.Contains(got, ",ok,") {
		t.Errorf("the good download after four bad ones: %q", got)
	}
	if got := lineOf(catState(t, state, "applied/delete"), del[0]); !strings.Contains(got, ",ok,") {
		t.Errorf("the delete after a bad one: %q", got)
	}
	if _, err := os.Stat(filepath.Join(m.root, del[0])); err == nil {
		t.Errorf("%s was not deleted", del[0])
	}
	for _, dir := range []string{"web/packages/nu", "web/packages/lo"} {
		if _, err := os.Stat(filepath.Join(m.root, dir)); err == nil {
			t.Errorf("a failed download left the folder %s", dir)
		}
	}
	if _, err := os.Stat(filepath.Join(m.root, "web/packages", ".bandercheck-tmp")); err == nil {
		t.Errorf("the staging folder is left after apply")
	}
}

func TestApplyKeepsWhatASyncMadeOwned(t *testing.T) {
	t.Parallel()
	m, url, state := plannedMirror(t, 100)
	orphan := planned(t, state, "plan/delete", func(r []string) bool { return r[2] == "unowned" })
	removed := planned(t, state, "plan/remove-projects", func(r []string) bool { return strings.HasPrefix(r[1], "web/json/") })
	// the sync: a live project now names the orphan; the removed project is back
	docs, _ := filepath.Glob(filepath.Join(m.root, "web/json/*"))
	var owner string
	for _, d := range docs {
		data, _ := os.ReadFile(d)
		if strings.Contains(string(data), `"releases":{"`) && filepath.Base(d) != filepath.Base(removed[1]) {
			doc := strings.Replace(string(data), `"releases":{"`, `"releases":{"99.0":[{"filename":"o.whl","url":"https://files.example.invalid/`+strings.TrimPrefix(orphan[0], "web/")+`","size":`+orphan[1]+`,"digests":{"sha256":"`+strings.Repeat("0", 64)+`"},"upload_time_iso_8601":"2020-01-01T00:00:00Z"}],"`, 1)
			os.WriteFile(d, []byte(doc), 0o644)
			owner = filepath.Base(d)
			break
		}
	}
	if owner == "" {
		t.Fatal("no document to sync into")
	}
	back := filepath.Join(m.root, removed[1])
	data, _ := os.ReadFile(back)
	os.WriteFile(back, data, 0o644) // rewritten by the sync: its date is new
	r := bc(t, nil, "--mirror", m.root, "--state", state, "apply", "--download-base", url)
	if r.code != 0 {
		t.Fatalf("apply: exit %d\n%s", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(m.root, orphan[0])); err != nil {
		t.Errorf("apply deleted %s, which a sync made owned by %s after the plan", orphan[0], owner)
	}
	if l := lineOf(catState(t, state, "applied/delete"), orphan[0]); !strings.Contains(l, ",skipped,") {
		t.Errorf("applied row of the kept file: %q", l)
	}
	if _, err := os.Stat(back); err != nil {
		t.Errorf("apply removed %s, which a sync brought back", removed[1])
	}
	if l := lineOf(catState(t, state, "applied/remove-projects"), removed[1]); !strings.Contains(l, ",skipped,") {
		t.Errorf("applied row of the kept project: %q", l)
	}
}

func TestApplyRefusesAnOldPlan(t *testing.T) {
	t.Parallel()
	m, url, state := plannedMirror(t, 100)
	before := treeDigest(t, m.root, "web")
	r := bc(t, nil, "--mirror", m.root, "--state", state, "apply", "--download-base", url, "--max-plan-age", "1ns")
	if r.code != 3 || !strings.Contains(r.stderr, "--max-plan-age") {
		t.Fatalf("apply of an old plan: exit %d, want 3\n%s", r.code, r.stderr)
	}
	if after := treeDigest(t, m.root, "web"); len(after) != len(before) {
		t.Errorf("an old plan changed the mirror")
	}
}

func TestApplyRetriesFailedRowsOnRerun(t *testing.T) {
	t.Parallel()
	m := generate(t, 100)
	miss := m.truth["missing"]
	var mu syncMap
	var broken atomic.Bool
	broken.Store(true)
	url := m.serve(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.add(r.URL.Path)
			if broken.Load() && "web"+r.URL.Path == miss[0] {
				http.NotFound(w, r)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	state := t.TempDir() + "/st"
	scanAndPlan(t, nil, m.root, state, url)
	args := []string{"--mirror", m.root, "--state", state, "apply", "--download-base", url}
	if r := bc(t, nil, args...); r.code != 1 || !strings.Contains(r.stderr, "a rerun of apply retries them") {
		t.Fatalf("apply with a 404: exit %d\n%s", r.code, r.stderr)
	}
	broken.Store(false)
	hits := mu.total()
	mustBC(t, nil, args...)
	if got := mu.total() - hits; got != 1 {
		t.Errorf("the rerun made %d requests, want 1 (the failed row only)", got)
	}
	if l := lineOf(catState(t, state, "applied/download"), miss[0]); !strings.Contains(l, ",ok,") {
		t.Errorf("the failed row after the rerun: %q", l)
	}
	m.verify(t, m.root)
}

func TestTwoProcessesOnOneStateDirectory(t *testing.T) {
	t.Parallel()
	m := generate(t, 100)
	state := t.TempDir() + "/st"
	mustBC(t, nil, "--mirror", m.root, "--state", state, "scan", "storage")
	f, err := os.OpenFile(filepath.Join(state, ".lock"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	r := bc(t, nil, "--mirror", m.root, "--state", state, "scan", "metadata")
	if r.code != 3 || !strings.Contains(r.stderr, "another bandercheck") {
		t.Fatalf("a second process: exit %d, want 3\n%s", r.code, r.stderr)
	}
	if out := mustBC(t, nil, "--state", state, "status"); !strings.Contains(out, "storage") {
		t.Errorf("status under the lock: %s", out)
	}
}

// syncMap counts requests by path, safely from the server's goroutines.
type syncMap struct {
	mu sync.Mutex
	n  map[string]int
}

func (s *syncMap) add(p string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n == nil {
		s.n = map[string]int{}
	}
	s.n[p]++
}

func (s *syncMap) total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := 0
	for _, v := range s.n {
		t += v
	}
	return t
}
