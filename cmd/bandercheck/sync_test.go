package main

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/bandercheck/bandercheck/internal/fakepypi"
	"github.com/bandercheck/bandercheck/internal/goldentree"
)

// goldenBase is the upstream the golden trees were recorded from (their
// web/json documents name it); downloads reach the test's server through
// download-mirror, which changes nothing in the tree.
const goldenBase = "http://127.0.0.1:39123"

// goldenConfig writes golden config name for mirror and upstream url.
func goldenConfig(t *testing.T, name, mirror, url, extra string) string {
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

// goldenUpstream serves the golden scenario at step.
func goldenUpstream(t *testing.T, step int) (*fakepypi.Warehouse, string) {
	t.Helper()
	w, err := fakepypi.Golden(goldenBase, step)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(w)
	t.Cleanup(srv.Close)
	return w, srv.URL
}

// sameAsGolden fails the test unless mirror is bandersnatch's tree at step.
func sameAsGolden(t *testing.T, name, mirror string, step int) {
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
		t.Errorf("step %d: %d differences from bandersnatch's tree:\n%s", step, len(d), strings.Join(d, "\n"))
	}
}

// TestSyncKilledAtEveryPoint: a sync killed (SIGKILL) at every crash point
// it reaches (its stages', the manifests' commits, and the store's within a
// removal), again and again until it finishes, leaves the tree an
// uninterrupted sync writes: bandersnatch's, with the same diff file, on the
// first sync and after upstream changed; with --remove-deleted, the tree of
// an uninterrupted sync with it, the gone project removed.
func TestSyncKilledAtEveryPoint(t *testing.T) {
	t.Parallel()
	// the diff file of an uninterrupted sync, at each step
	var want [fakepypi.GoldenSteps][]string
	{
		mirror, state, list := filepath.Join(t.TempDir(), "mirror"), t.TempDir(), filepath.Join(t.TempDir(), "list")
		for step := range fakepypi.GoldenSteps {
			_, url := goldenUpstream(t, step)
			mustBC(t, nil, "--config", goldenConfig(t, "json-all-flat", mirror, url, "diff-file = "+list+"\n"), "--state", state, "sync", "--stale-wait", "1ms")
			want[step] = diffLines(t, list, mirror)
		}
	}
	// the tree an uninterrupted sync with --remove-deleted leaves
	removeArgs := []string{"--remove-deleted", "--max-remove-projects", "50%"}
	var wantRemoved string
	{
		mirror, state := filepath.Join(t.TempDir(), "mirror"), t.TempDir()
		for step := range fakepypi.GoldenSteps {
			_, url := goldenUpstream(t, step)
			mustBC(t, nil, append([]string{"--config", goldenConfig(t, "json-all-flat", mirror, url, ""), "--state", state, "sync", "--stale-wait", "1ms"}, removeArgs...)...)
		}
		wantRemoved = treeManifest(t, mirror)
	}
	// the points of a removal: sync-remove after each project removed, and
	// the store's own within one (unlink a file, remove a folder's tree),
	// reached through --remove-deleted once upstream dropped a project
	removal := []string{"sync-remove", "unlink", "remove"}
	for _, point := range []string{"renamed", "journaled", "partial", "shard", "sync-upstream", "sync-todo", "sync-project",
		"sync-download", "sync-index", "sync-diff", "sync-status", "sync-last-modified", "sync-remove", "unlink", "remove"} {
		t.Run(point, func(t *testing.T) {
			t.Parallel()
			mirror, state, list := filepath.Join(t.TempDir(), "mirror"), t.TempDir(), filepath.Join(t.TempDir(), "list")
			env := []string{"BANDERCHECK_SHARD_ROWS=1"}
			crashes := 0
			removing := slices.Contains(removal, point)
			for step := range fakepypi.GoldenSteps {
				_, url := goldenUpstream(t, step)
				conf := goldenConfig(t, "json-all-flat", mirror, url, "diff-file = "+list+"\n")
				args := []string{"--config", conf, "--state", state, "sync", "--stale-wait", "1ms"}
				if removing {
					args = append(args, removeArgs...)
				}
				if removing && step == 0 {
					mustBC(t, env, args...) // nothing is gone yet
					continue
				}
				crashes += crashAtEveryPoint(t, env, point, args...)
				if !removing {
					sameAsGolden(t, "json-all-flat", mirror, step)
					if got := diffLines(t, list, mirror); !slices.Equal(got, want[step]) {
						t.Errorf("step %d: the diff file lists\n%s\nan uninterrupted sync lists\n%s", step, strings.Join(got, "\n"), strings.Join(want[step], "\n"))
					}
				}
			}
			if removing {
				if got := treeManifest(t, mirror); got != wantRemoved {
					t.Errorf("the tree differs from an uninterrupted sync's:\n%s", goldentree.LineDiff(got, wantRemoved, "killed runs only:  ", "uninterrupted only:"))
				}
				for _, p := range []string{"web/json/removed-later", "web/pypi/removed-later", "web/simple/removed-later"} {
					if _, err := os.Stat(filepath.Join(mirror, p)); !os.IsNotExist(err) {
						t.Errorf("--remove-deleted left the gone project's %s: %v", p, err)
					}
				}
			}
			if crashes == 0 {
				t.Errorf("no run was killed at %s: the point is never reached, so this case tests nothing", point)
			}
			t.Logf("%d crashes", crashes)
		})
	}
}

// TestSyncKilledAfterItsTodoListing: a sync whose STATE holds no record of
// web/simple's folders (as after a mirror bandersnatch wrote) lists them
// for its todo stage and records them; killed after that listing at every
// point on (todo, each project, the root index) and run again until it
// finishes, it writes bandersnatch's tree, the root index naming the
// project the sync added (its folder made after the listing).
func TestSyncKilledAfterItsTodoListing(t *testing.T) {
	t.Parallel()
	for _, point := range []string{"sync-todo", "sync-project", "sync-index"} {
		t.Run(point, func(t *testing.T) {
			t.Parallel()
			mirror, state := filepath.Join(t.TempDir(), "mirror"), t.TempDir()
			_, url := goldenUpstream(t, 0)
			mustBC(t, nil, "--config", goldenConfig(t, "json-all-flat", mirror, url, ""), "--state", state, "sync", "--stale-wait", "1ms")
			if err := os.Remove(filepath.Join(state, "sync", "folders.json")); err != nil {
				t.Fatal(err)
			}
			_, url = goldenUpstream(t, 1)
			crashes := crashAtEveryPoint(t, []string{"BANDERCHECK_SHARD_ROWS=1"}, point,
				"--config", goldenConfig(t, "json-all-flat", mirror, url, ""), "--state", state, "sync", "--stale-wait", "1ms")
			sameAsGolden(t, "json-all-flat", mirror, 1)
			t.Logf("%d crashes", crashes)
		})
	}
}

// TestSyncCommand: --dry-run prints the projects and writes nothing; bad
// input is a problem row naming the project and the sync goes on (exit 1,
// status not advanced); an upstream that answers nothing stops the sync fast
// with one line; an http master needs allow-non-https.
func TestSyncCommand(t *testing.T) {
	t.Parallel()
	w, url := goldenUpstream(t, 0)
	mirror, state := filepath.Join(t.TempDir(), "mirror"), t.TempDir()
	conf := goldenConfig(t, "json-all-flat", mirror, url, "")

	out := mustBC(t, nil, "--config", conf, "--state", state, "sync", "--dry-run")
	if !strings.HasPrefix(out, "project,serial,reason\n") || !strings.Contains(out, "\nalpha-pkg,") || strings.Count(out, "\n") != 6 {
		t.Errorf("dry run printed:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(mirror, "web")); !os.IsNotExist(err) {
		t.Errorf("a dry run wrote to the mirror: %v", err)
	}

	// a hostile document, a file that is not found, a file whose digest is wrong
	w.Override("/pypi/Alpha_Pkg/json", func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set(fakepypi.SerialHeader, "99999")
		rw.Write([]byte(`{"info": {"name": "Alpha_Pkg"}, "releases": {"1.0": [{"url": "` + strings.Repeat("[", 100000)))
	})
	beta := w.Project("beta")
	var betaFile, deltaFile string
	for _, r := range beta.Releases {
		for _, f := range r.Files {
			betaFile = f.Path()
		}
	}
	for _, r := range w.Project("delta").Releases {
		for _, f := range r.Files {
			deltaFile = f.Path()
		}
	}
	w.Override(betaFile, func(rw http.ResponseWriter, r *http.Request) { http.NotFound(rw, r) })
	w.Override(deltaFile, func(rw http.ResponseWriter, r *http.Request) { rw.Write([]byte("not the file")) })
	r := bc(t, nil, "--config", conf, "--state", state, "sync", "--stale-wait", "1ms")
	if r.code != 1 || !strings.Contains(r.stderr, "3 projects failed") {
		t.Errorf("sync with bad input: exit %d\n%s", r.code, r.stderr)
	}
	problems := catState(t, state, "problems/sync")
	for _, want := range []string{"alpha-pkg,", "beta", "delta"} {
		if !strings.Contains(problems, want) {
			t.Errorf("no problem row names %s:\n%s", want, problems)
		}
	}
	if _, err := os.Stat(filepath.Join(mirror, "status")); !os.IsNotExist(err) {
		t.Errorf("status written although projects failed: %v", err)
	}
	if _, err := os.Stat(filepath.Join(mirror, "web/simple/gamma-dots/index.html")); err != nil {
		t.Errorf("the good projects were not synced: %v", err)
	}
	// upstream fixed: the next sync fetches what failed and reaches bandersnatch's tree
	w.Override("/pypi/Alpha_Pkg/json", nil)
	w.Override(betaFile, nil)
	w.Override(deltaFile, nil)
	mustBC(t, nil, "--config", conf, "--state", state, "sync", "--stale-wait", "1ms")
	sameAsGolden(t, "json-all-flat", mirror, 0)

	// nothing answers: one line, fast
	var asked atomic.Int64
	down := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		http.Error(rw, "down", http.StatusServiceUnavailable)
	}))
	defer down.Close()
	conf2 := goldenConfig(t, "json-all-flat", filepath.Join(t.TempDir(), "m2"), down.URL, "")
	r = bc(t, nil, "--config", conf2, "--state", t.TempDir(), "sync", "--stale-wait", "1ms")
	// fast is counted in requests, not seconds: the index's few attempts, then stop
	if r.code != 1 || strings.Count(strings.TrimSpace(r.stderr), "\n") > 3 || asked.Load() > 5 {
		t.Errorf("upstream down: exit %d after %d requests:\n%s", r.code, asked.Load(), r.stderr)
	}

	conf3 := strings.Replace(conf, ".conf", "-https.conf", 1)
	b, _ := os.ReadFile(conf)
	os.WriteFile(conf3, []byte(strings.Replace(string(b), "allow-non-https = true", "allow-non-https = false", 1)), 0o644)
	if r := bc(t, nil, "--config", conf3, "--state", t.TempDir(), "sync"); r.code != 2 || !strings.Contains(r.stderr, "allow-non-https") {
		t.Errorf("http master without allow-non-https: exit %d\n%s", r.code, r.stderr)
	}
}

// TestSyncGoesThroughTheConfiguredProxy: [mirror] proxy carries every
// request of a sync (index, documents, files), as bandersnatch passes it to
// each request; the tree is still bandersnatch's. A proxy that is no URL is a
// config error (exit 2).
func TestSyncGoesThroughTheConfiguredProxy(t *testing.T) {
	t.Parallel()
	_, url := goldenUpstream(t, 0)
	var through atomic.Int64
	fwd := &httputil.ReverseProxy{Director: func(*http.Request) {}} // the request's URL is absolute
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !r.URL.IsAbs() {
			http.Error(w, "not a proxy request", http.StatusBadRequest)
			return
		}
		through.Add(1)
		fwd.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	mirror, state := filepath.Join(t.TempDir(), "mirror"), t.TempDir()
	conf := goldenConfig(t, "json-all-flat", mirror, url, "proxy = "+proxy.URL+"\n")
	mustBC(t, nil, "--config", conf, "--state", state, "sync")
	sameAsGolden(t, "json-all-flat", mirror, 0)
	if through.Load() < 7 { // the index, six documents, and their files
		t.Errorf("%d requests went through the proxy", through.Load())
	}

	bad := goldenConfig(t, "json-all-flat", filepath.Join(t.TempDir(), "m"), url, "proxy = localhost:3128\n")
	if r := bc(t, nil, "--config", bad, "--state", t.TempDir(), "sync"); r.code != 2 || !strings.Contains(r.stderr, "[mirror] proxy") {
		t.Errorf("a proxy that is no URL: exit %d\n%s", r.code, r.stderr)
	}
}

// treeManifest is mirror as goldentree lists it: every path, mode, size,
// digest and release file mtime (web/last-modified's content set aside).
func treeManifest(t *testing.T, mirror string) string {
	t.Helper()
	tree, err := goldentree.Read(mirror)
	if err != nil {
		t.Fatal(err)
	}
	return tree.Manifest()
}

// diffLines reads a diff file: its paths relative to mirror, sorted.
func diffLines(t *testing.T, list, mirror string) []string {
	t.Helper()
	b, err := os.ReadFile(list)
	if err != nil {
		t.Fatal(err)
	}
	var rel []string
	for _, l := range strings.Split(string(b), "\n") {
		if l != "" {
			rel = append(rel, strings.TrimPrefix(l, mirror+"/"))
		}
	}
	slices.Sort(rel)
	return rel
}
