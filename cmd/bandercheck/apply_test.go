package main

import (
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// scanAndPlan runs every stage before apply.
func scanAndPlan(t *testing.T, env []string, mirror, state, url string, planArgs ...string) {
	t.Helper()
	g := []string{"--mirror", mirror, "--state", state}
	mustBC(t, env, append(g, "scan", "storage", "--hash", "--fresh")...)
	mustBC(t, env, append(g, "scan", "metadata", "--fresh")...)
	mustBC(t, env, append(g, "scan", "upstream", "--upstream", url)...)
	mustBC(t, env, append(append(g, "plan", "--max-remove-projects", "10%"), planArgs...)...)
}

// plannedMirror generates a mirror of n projects, serves its upstream and
// scans and plans it: the start of every apply test.
func plannedMirror(t *testing.T, n int) (m *genMirror, url, state string) {
	t.Helper()
	m = generate(t, n)
	url = m.serve(t, nil)
	state = t.TempDir() + "/st"
	scanAndPlan(t, nil, m.root, state, url)
	return m, url, state
}

// faults injects upstream failures for chosen files.
type faults struct {
	mu                                            sync.Mutex
	calls                                         map[string]int
	notFound, unavailableOnce, wrongBody, cutOnce string
}

func (f *faults) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.calls[r.URL.Path]++
		n := f.calls[r.URL.Path]
		f.mu.Unlock()
		switch "web" + r.URL.Path {
		case f.notFound:
			http.NotFound(w, r)
			return
		case f.unavailableOnce:
			if n == 1 {
				http.Error(w, "try later", http.StatusServiceUnavailable)
				return
			}
		case f.wrongBody:
			rec := &captured{header: http.Header{}}
			h.ServeHTTP(rec, r)
			body := []byte(rec.body.String())
			for i := range body {
				body[i] ^= 1
			}
			w.Write(body)
			return
		case f.cutOnce:
			if n == 1 {
				rec := &captured{header: http.Header{}}
				h.ServeHTTP(rec, r)
				w.Header().Set("Content-Length", strconv.Itoa(rec.body.Len()))
				w.Write([]byte(rec.body.String()[:rec.body.Len()/2]))
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

type captured struct {
	header http.Header
	body   strings.Builder
	code   int
}

func (c *captured) Header() http.Header         { return c.header }
func (c *captured) Write(p []byte) (int, error) { return c.body.Write(p) }
func (c *captured) WriteHeader(code int)        { c.code = code }

func TestApplyWithUpstreamFaultsThenComplete(t *testing.T) {
	t.Parallel()
	m := generate(t, 100)
	miss := m.truth["missing"]
	f := &faults{calls: map[string]int{}, notFound: miss[0], unavailableOnce: miss[1], wrongBody: miss[2], cutOnce: miss[3]}
	url := m.serve(t, f.wrap)
	state := t.TempDir() + "/st"
	scanAndPlan(t, nil, m.root, state, url)
	r := bc(t, nil, "--mirror", m.root, "--state", state, "apply", "--download-base", url, "--jobs", "4")
	if r.code != 1 || !strings.Contains(r.stderr, "2 download rows failed") {
		t.Fatalf("apply with two bad files: exit %d: %s", r.code, r.stderr)
	}
	applied := catState(t, state, "applied/download")
	for path, want := range map[string]string{miss[0]: ",failed,", miss[1]: ",ok,", miss[2]: ",failed,", miss[3]: ",ok,"} {
		line := lineOf(applied, path)
		if !strings.Contains(line, want) {
			t.Errorf("%s: applied row %q, want %s", path, line, want)
		}
	}
	if !strings.Contains(lineOf(applied, miss[0]), "404") || !strings.Contains(lineOf(applied, miss[2]), "sha256 mismatch") {
		t.Errorf("failure rows do not say why:\n%s\n%s", lineOf(applied, miss[0]), lineOf(applied, miss[2]))
	}
	if _, err := os.Stat(filepath.Join(m.root, miss[2])); err == nil {
		t.Errorf("a file whose digest did not match was installed")
	}
	if _, err := os.Stat(filepath.Join(m.root, "web/packages/.bandercheck-tmp")); err == nil {
		t.Errorf("the staging folder is left in the mirror")
	}
	// upstream heals; a fresh run completes the mirror
	clean := m.serve(t, nil)
	scanAndPlan(t, nil, m.root, state, clean)
	mustBC(t, nil, "--mirror", m.root, "--state", state, "apply", "--download-base", clean)
	m.verify(t, m.root)
	scanAndPlan(t, nil, m.root, state, clean)
	if dl := catState(t, state, "plan/download"); strings.Count(dl, "\n") != 1 {
		t.Errorf("a second plan still downloads:\n%s", dl)
	}
}

func lineOf(csv, path string) string {
	for _, l := range strings.Split(csv, "\n") {
		if strings.HasPrefix(l, path+",") {
			return l
		}
	}
	return ""
}

func TestApplyRefusesWhileSyncHoldsLock(t *testing.T) {
	t.Parallel()
	m, url, state := plannedMirror(t, 100)
	lock, err := os.OpenFile(filepath.Join(m.root, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	before := treeDigest(t, m.root, "web")
	r := bc(t, nil, "--mirror", m.root, "--state", state, "apply", "--download-base", url)
	if r.code != 3 || !strings.Contains(r.stderr, ".lock") {
		t.Fatalf("apply under a held lock: exit %d: %s", r.code, r.stderr)
	}
	if after := treeDigest(t, m.root, "web"); len(after) != len(before) {
		t.Errorf("the mirror changed while locked")
	}
	syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	mustBC(t, nil, "--mirror", m.root, "--state", state, "apply", "--download-base", url)
	m.verify(t, m.root)
}

func TestApplyDryRunChangesNothing(t *testing.T) {
	t.Parallel()
	m, _, state := plannedMirror(t, 100)
	before := treeDigest(t, m.root, "web")
	out := mustBC(t, nil, "--mirror", m.root, "--state", state, "apply", "--dry-run")
	if !strings.Contains(out, "download") || !strings.Contains(out, "delete") {
		t.Errorf("dry run output:\n%s", out)
	}
	after := treeDigest(t, m.root, "web")
	if len(after) != len(before) {
		t.Fatalf("dry run changed the mirror: %d files before, %d after", len(before), len(after))
	}
	for k, v := range before {
		if after[k] != v {
			t.Fatalf("dry run changed %s", k)
		}
	}
	if _, err := os.Stat(filepath.Join(state, "applied")); err == nil {
		t.Errorf("dry run recorded applied manifests")
	}
}

// TestApplySurvivesKill crashes apply right after every download installed,
// every file unlinked (before its folders are pruned), every project path
// removed and every shard of results recorded; each walk must end in the
// mirror and the applied rows of an uninterrupted apply.
func TestApplySurvivesKill(t *testing.T) {
	t.Parallel()
	m := generate(t, 100)
	url := m.serve(t, nil)
	env := []string{"BANDERCHECK_SHARD_ROWS=7"}
	for _, point := range []string{"download", "unlink", "remove", "shard"} {
		t.Run(point, func(t *testing.T) {
			t.Parallel() // each walk has its own copy of the mirror and its own state
			root := copyTree(t, m.root)
			state := t.TempDir() + "/st"
			scanAndPlan(t, env, root, state, url)
			kills := crashAtEveryPoint(t, env, point, "--mirror", root, "--state", state, "apply", "--download-base", url, "--jobs", "2")
			m.verify(t, root)
			if left, _ := filepath.Glob(filepath.Join(root, "web/packages/*/*")); len(left) == 0 {
				t.Fatal("the mirror is empty")
			}
			for _, a := range []string{"download", "delete", "remove-projects"} {
				plan := firstColumn(catState(t, state, "plan/"+a))
				if a == "remove-projects" {
					plan = secondColumn(catState(t, state, "plan/"+a))
				}
				applied := catState(t, state, "applied/"+a)
				if got := firstColumn(applied); !slices.Equal(got, plan) {
					t.Errorf("after %d crashes at %s applied/%s has %d rows, the plan %d", kills, point, a, len(got), len(plan))
				}
				if strings.Contains(applied, ",failed,") {
					t.Errorf("after %d crashes at %s applied/%s has failed rows:\n%s", kills, point, a, applied)
				}
			}
			assertNoEmptyFolders(t, filepath.Join(root, "web/packages"))
		})
	}
}

func secondColumn(csv string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(csv), "\n")[1:] {
		_, rest, _ := strings.Cut(l, ",")
		p, _, _ := strings.Cut(rest, ",")
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// assertNoEmptyFolders fails on any empty folder below dir (dir itself aside).
func assertNoEmptyFolders(t *testing.T, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() || p == dir {
			return nil
		}
		if entries, _ := os.ReadDir(p); len(entries) == 0 {
			t.Errorf("empty folder left in the mirror: %s", p)
		}
		return nil
	})
}

func TestApplyGuards(t *testing.T) {
	t.Parallel()
	m := generate(t, 100)
	url := m.serve(t, nil)
	t.Run("max-delete", func(t *testing.T) {
		root := copyTree(t, m.root)
		state := t.TempDir() + "/st"
		scanAndPlan(t, nil, root, state, url)
		r := bc(t, nil, "--mirror", root, "--state", state, "apply", "--download-base", url, "--max-delete", "1")
		if r.code != 3 || !strings.Contains(r.stderr, "--max-delete") {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		if _, err := os.Stat(filepath.Join(root, m.truth["missing"][0])); err != nil {
			t.Errorf("downloads did not run under a refused delete: %v", err)
		}
		if _, err := os.Stat(filepath.Join(root, m.truth["orphan"][0])); err != nil {
			t.Errorf("an orphan was deleted although deletes were refused")
		}
	})
	t.Run("metadata problems", func(t *testing.T) {
		root := copyTree(t, m.root)
		// one project whose JSON is damaged and whose simple page is gone
		docs, _ := filepath.Glob(filepath.Join(root, "web/json/*"))
		victim := filepath.Base(docs[len(docs)/2])
		os.WriteFile(filepath.Join(root, "web/json", victim), []byte(`{"info":`), 0o644)
		for _, p := range []string{"web/simple/" + normalizeForTest(victim)} {
			os.RemoveAll(filepath.Join(root, p))
		}
		state := t.TempDir() + "/st"
		scanAndPlan(t, nil, root, state, url)
		mustBC(t, nil, "--mirror", root, "--state", state, "apply", "--download-base", url, "--only", "download") // deletes not asked for: no refusal
		r := bc(t, nil, "--mirror", root, "--state", state, "apply", "--download-base", url)
		if r.code != 3 || !strings.Contains(r.stderr, "--allow-problems") {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		if _, err := os.Stat(filepath.Join(root, m.truth["orphan"][0])); err != nil {
			t.Errorf("an orphan was deleted although metadata problems refuse deletes")
		}
		mustBC(t, nil, "--mirror", root, "--state", state, "apply", "--download-base", url, "--allow-problems")
		if _, err := os.Stat(filepath.Join(root, m.truth["orphan"][0])); err == nil {
			t.Errorf("--allow-problems did not let deletes run")
		}
	})
}

func TestApplyBadInput(t *testing.T) {
	t.Parallel()
	m := generate(t, 100)
	url := m.serve(t, nil)
	state := t.TempDir() + "/st"
	g := []string{"--mirror", m.root, "--state", state}
	mustBC(t, nil, append(g, "scan", "storage")...)
	if r := bc(t, nil, append(g, "apply")...); r.code != 2 || !strings.Contains(r.stderr, "run bandercheck plan first") {
		t.Errorf("apply without a plan: exit %d: %s", r.code, r.stderr)
	}
	other := t.TempDir() + "/other"
	scanAndPlan(t, nil, m.root, other, url)
	mustBC(t, nil, append(g, "scan", "metadata")...)
	if err := os.Rename(filepath.Join(other, "plan"), filepath.Join(state, "plan")); err != nil {
		t.Fatal(err)
	}
	if r := bc(t, nil, append(g, "apply")...); r.code != 2 || !strings.Contains(r.stderr, "was made for run") {
		t.Errorf("apply of another run's plan: exit %d: %s", r.code, r.stderr)
	}
}

func copyTree(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "mirror")
	out, err := execCommand("cp", "-a", src, dst)
	if err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	return dst
}
