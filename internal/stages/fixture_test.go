package stages

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bandercheck/bandercheck/internal/testutil"
	"github.com/bandercheck/bandercheck/pipeline"
	"github.com/bandercheck/bandercheck/sources"
)

// pkg is one release file of a fixture project.
type pkg struct {
	file, version, content string
}

// key is the file's place under the mirror root, as bandersnatch stores it.
func (p pkg) key() string {
	s := sum(p.file)
	return "web/packages/" + s[:2] + "/" + s[2:4] + "/" + s[4:12] + "/" + p.file
}

// jsonDoc is a project's PyPI JSON document listing files.
func jsonDoc(name string, serial int, files ...pkg) string {
	type file struct {
		Filename   string            `json:"filename"`
		URL        string            `json:"url"`
		Size       int               `json:"size"`
		Digests    map[string]string `json:"digests"`
		UploadTime string            `json:"upload_time_iso_8601"`
	}
	releases := map[string][]file{}
	for _, p := range files {
		releases[p.version] = append(releases[p.version], file{
			Filename: p.file, URL: "https://files.example.invalid/" + p.key()[len("web/"):],
			Size: len(p.content), Digests: map[string]string{"sha256": sum(p.content), "md5": md5sum(p.content)},
			UploadTime: "2020-01-01T00:00:00Z",
		})
	}
	b, _ := json.Marshal(map[string]any{"info": map[string]string{"name": name}, "last_serial": serial, "releases": releases})
	return string(b)
}

// fixture is a small mirror on disk with a state directory beside it.
type fixture struct {
	t    *testing.T
	ctx  context.Context
	root string
	env  *Env
}

// newFixture writes files (path under the mirror root → content) and returns
// the mirror with an Env for it. Every file is a day old, beyond the grace.
func newFixture(t *testing.T, files map[string]string) *fixture {
	t.Helper()
	dir := t.TempDir()
	root := filepath.Join(dir, "mirror")
	testutil.WriteFiles(t, root, files)
	old := time.Now().Add(-24 * time.Hour)
	for p := range files {
		os.Chtimes(filepath.Join(root, p), old, old)
	}
	// a ctime can be kept back by no one: apply's re-check counts a document
	// changed within clockSlack before the scan as changed, so the fixture's
	// files are made to be older than that (as a mirror's files are)
	time.Sleep(2 * clockSlack)
	return &fixture{t: t, ctx: context.Background(), root: root,
		env: &Env{Mirror: Location{Path: root}, State: filepath.Join(dir, "state"), Progress: "never", LogFormat: "text",
			Stdout: io.Discard, Stderr: io.Discard}}
}

// rows reads a finished manifest whole.
func (f *fixture) rows(name string) [][]string {
	f.t.Helper()
	var out [][]string
	if err := pipeline.NewState(f.env.State).EachRow(name, func(r []string) error {
		out = append(out, append([]string(nil), r...))
		return nil
	}); err != nil {
		f.t.Fatalf("read %s: %v", name, err)
	}
	return out
}

// runFreshPlansNothing runs again from scratch and fails unless every plan
// manifest is empty: the mirror is what its metadata says.
func (f *fixture) runFreshPlansNothing(run *RunOptions, what string) {
	f.t.Helper()
	run.Fresh = true
	if err := run.Run(f.ctx, f.env); err != nil {
		f.t.Fatal(err)
	}
	for _, m := range []string{"plan/download", "plan/delete", "plan/remove-projects"} {
		if r := f.rows(m); len(r) != 0 {
			f.t.Errorf("%s still plans %s: %v", what, m, r)
		}
	}
}

// column is one column of a manifest, by row.
func (f *fixture) column(name string, i int) []string {
	var out []string
	for _, r := range f.rows(name) {
		out = append(out, r[i])
	}
	return out
}

// scans runs scan storage and scan metadata (from JSON without a config).
func (f *fixture) scans() {
	f.t.Helper()
	if _, err := (&ScanStorageOptions{Jobs: 2}).Run(f.ctx, f.env); err != nil {
		f.t.Fatalf("scan storage: %v", err)
	}
	if _, err := (&ScanMetadataOptions{Jobs: 2}).Run(f.ctx, f.env); err != nil { // --from as the config says
		f.t.Fatalf("scan metadata: %v", err)
	}
}

// plan runs plan with the defaults of the command line.
func (f *fixture) plan() error {
	return (&PlanOptions{Grace: DefaultPlanOptions().Grace, MaxRemoveProjects: Limit{Percent: 1, IsPct: true}, Memory: 64 << 20}).Run(f.ctx, f.env)
}

// apply returns apply with the defaults of the command line and no download limit.
func testApply(base string) *ApplyOptions {
	return &ApplyOptions{Jobs: 2, Timeout: time.Minute, ApplyShared: ApplyShared{MaxDelete: Limit{Percent: 100, IsPct: true}, MaxPlanAge: time.Hour, DownloadBase: base}}
}

// serveFiles is an upstream on loopback that serves each pkg at its URL path.
func serveFiles(t *testing.T, files ...pkg) *httptest.Server {
	byPath := map[string]string{}
	for _, p := range files {
		byPath["/"+p.key()[len("web/"):]] = p.content
	}
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := byPath[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, c)
	}))
	t.Cleanup(s.Close)
	return s
}

func newDigestForTest(algo string) (hash.Hash, error) { return sources.NewDigest(algo) }
func encodeHex(b []byte) string                       { return hex.EncodeToString(b) }
