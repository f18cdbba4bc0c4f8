package main

import (
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bandercheck/bandercheck/internal/fakepypi"
	"github.com/bandercheck/bandercheck/internal/testutil"
)

// genMirror is a generated mirror, its upstream and the truth of its defects.
type genMirror struct {
	root, upstream string
	truth          map[string][]string // kind → paths
	canaries       func()              // checks the files beside the mirror that nothing may touch
}

// generate writes a mirror of n projects with every kind of defect. genmirror
// is deterministic, so each set of arguments is generated once per test
// binary and each test gets its own copy (cp -a: the same bytes, modes,
// mtimes and relative links), which it may change as it likes.
func generate(t *testing.T, n int, extra ...string) *genMirror {
	t.Helper()
	dir := t.TempDir()
	m := &genMirror{root: filepath.Join(dir, "mirror"), upstream: filepath.Join(dir, "upstream"), truth: map[string][]string{}}
	src := generated(t, append([]string{"--projects", strconv.Itoa(n), "--missing", "0.03", "--orphans", "0.02", "--size-mismatch", "0.01", "--hash-mismatch", "0.01", "--removed", "0.02"}, extra...))
	for _, sub := range []string{"mirror", "upstream", "truth.csv"} {
		if out, err := exec.Command("cp", "-a", filepath.Join(src, sub), filepath.Join(dir, sub)).CombinedOutput(); err != nil {
			t.Fatalf("cp: %v\n%s", err, out)
		}
	}
	f, err := os.Open(filepath.Join(dir, "truth.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows[1:] {
		m.truth[r[0]] = append(m.truth[r[0]], r[1])
	}
	// files beside the mirror that no stage may touch, whatever the test does
	m.canaries = canaries(t, dir)
	t.Cleanup(m.canaries)
	for _, kind := range []string{"missing", "orphan", "size-mismatch", "hash-mismatch", "removed-project"} {
		if len(m.truth[kind]) == 0 {
			t.Fatalf("generated mirror has no %s defect; use more projects", kind)
		}
	}
	return m
}

// genCache holds the mirrors generate made, by genmirror's arguments.
var genCache struct {
	sync.Mutex
	dir  string // removed by TestMain
	made map[string]*genOnce
}

type genOnce struct {
	once sync.Once
	dir  string
	err  error
}

// generated is the folder (mirror, upstream, truth.csv) that genmirror
// mirror writes for args, generated the first time it is asked for.
func generated(t *testing.T, args []string) string {
	t.Helper()
	key := strings.Join(args, "\x00")
	genCache.Lock()
	if genCache.made == nil {
		dir, err := os.MkdirTemp("", "bandercheck-mirrors-")
		if err != nil {
			genCache.Unlock()
			t.Fatal(err)
		}
		genCache.dir, genCache.made = dir, map[string]*genOnce{}
	}
	g := genCache.made[key]
	if g == nil {
		g = &genOnce{dir: filepath.Join(genCache.dir, strconv.Itoa(len(genCache.made)))}
		genCache.made[key] = g
	}
	genCache.Unlock()
	g.once.Do(func() {
		if g.err = os.Mkdir(g.dir, 0o755); g.err != nil {
			return
		}
		all := append([]string{"mirror", "--out", filepath.Join(g.dir, "mirror"), "--upstream", filepath.Join(g.dir, "upstream"), "--truth", filepath.Join(g.dir, "truth.csv")}, args...)
		if names := filepath.Join(testutil.ModuleRoot(), "..", "shared", "data", "pypi-project-names.txt.zst"); fileExists(names) {
			all = append(all, "--names", names) // real names; synthetic ones otherwise
		}
		if out, err := exec.Command(testutil.Binary(t, "./cmd/genmirror"), all...).CombinedOutput(); err != nil {
			g.err = fmt.Errorf("genmirror: %v\n%s", err, out)
		}
	})
	if g.err != nil {
		t.Fatal(g.err)
	}
	return g.dir
}

// uploadToVersity starts versitygw and uploads the mirror to s3://pypi/mirror
// (with bandersnatch's sha256 metadata); env points bandercheck at it.
func (m *genMirror) uploadToVersity(t *testing.T) (srv *testutil.S3, env []string) {
	t.Helper()
	srv = testutil.Versity(t)
	env = srv.Env()
	up := exec.Command(testutil.Binary(t, "./cmd/genmirror"), "upload", "--from", m.root, "--bucket", "pypi", "--prefix", "mirror")
	up.Env = append(cleanEnv(), env...)
	if out, err := up.CombinedOutput(); err != nil {
		t.Fatalf("upload: %v\n%s", err, out)
	}
	// S3 dates objects in whole seconds, and apply's re-check counts a
	// document dated in the second its metadata scan began as changed since
	// (a sync may have written it), and keeps what that project names: a run
	// started in the second of the upload kept a removed project's files
	// (TestRunOnS3MatchesTruth failed so about one run in three). The tests
	// start in the next second, as a mirror synced a while ago would be.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
	return srv, env
}

// serve starts the upstream on loopback, optionally wrapped (fault injection).
func (m *genMirror) serve(t *testing.T, wrap func(http.Handler) http.Handler) string {
	h := fakepypi.Handler(m.upstream)
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// expected is what web/packages must hold after a complete run: every
// upstream file except those of removed projects, with upstream's bytes.
func (m *genMirror) expected(t *testing.T) map[string]string {
	removed := map[string]bool{}
	for _, p := range m.truth["removed-file"] {
		removed[p] = true
	}
	want := map[string]string{}
	for k, v := range treeDigest(t, m.upstream, "packages") {
		key := "web/" + k
		if !removed[key] && !removed[strings.TrimSuffix(key, ".metadata")] {
			want[key] = v
		}
	}
	return want
}

// verify checks the mirror against the truth, naming the first differences.
func (m *genMirror) verify(t *testing.T, root string) {
	t.Helper()
	got := map[string]string{}
	for k, v := range treeDigest(t, root, "web/packages") {
		got["web/"+strings.TrimPrefix(k, "web/")] = v
	}
	want := m.expected(t)
	var diffs []string
	for k, v := range want {
		if got[k] != v {
			diffs = append(diffs, "wrong or missing: "+k)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			diffs = append(diffs, "should be gone: "+k)
		}
	}
	slices.Sort(diffs)
	if len(diffs) > 0 {
		t.Fatalf("%d differences from the truth, e.g. %q", len(diffs), diffs[:min(5, len(diffs))])
	}
	for _, p := range m.truth["removed-project"] {
		for _, gone := range []string{"web/simple/" + p} {
			if _, err := os.Stat(filepath.Join(root, gone)); err == nil {
				t.Errorf("removed project %s still has %s", p, gone)
			}
		}
		if idx, _ := os.ReadFile(filepath.Join(root, "web/simple/index.html")); strings.Contains(string(idx), `"`+p+`/"`) {
			t.Errorf("root index still lists removed project %s", p)
		}
	}
}

// treeDigest maps each regular file under root/sub (relative to root) to its sha256.
func treeDigest(t *testing.T, root, sub string) map[string]string {
	t.Helper()
	out := map[string]string{}
	base := filepath.Join(root, sub)
	if real, err := filepath.EvalSymlinks(base); err == nil {
		base = real // web/packages may be a link to another volume
	}
	err := filepath.WalkDir(base, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(base, path)
		rel = filepath.Join(sub, rel)
		s := sha256.Sum256(data)
		out[filepath.ToSlash(rel)] = hex.EncodeToString(s[:])
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return out
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
