package mirrorfiles

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bandercheck/bandercheck/internal/fakepypi"
	"github.com/bandercheck/bandercheck/internal/goldentree"
	"github.com/bandercheck/bandercheck/sources"
)

// goldenBase is the upstream URL generate.sh runs the fake upstream at;
// file URLs in web/json name it.
const goldenBase = "http://127.0.0.1:39123"

// miniSync does with the writers what `bandersnatch mirror` does with a
// config, on an in-memory tree: the projects whose index serial is above
// the status serial (all on a first sync), each fetched, filtered and
// written, then the root index, status and last-modified.
type miniSync struct {
	t      *testing.T
	opts   Options
	tree   goldentree.Tree
	status int64
	// s3 is the bucket bandersnatch's S3 backend would hold: key -> metadata
	s3 map[string]map[string]string
}

func (s *miniSync) run(w *fakepypi.Warehouse) {
	t := s.t
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/simple/", nil)
	req.Header.Set("Accept", fakepypi.JSONIndexType)
	w.ServeHTTP(rec, req)
	var ix struct {
		Projects []struct {
			Name   string `json:"name"`
			Serial int64  `json:"_last-serial"`
		} `json:"projects"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &ix); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	s.tree.Add(".lock", nil, 0o755, time.Time{})
	g := GenerationFile()
	s.tree.Add(g.Path, g.Data, g.Mode, time.Time{})
	for _, d := range BootstrapDirs(s.opts) {
		s.tree.AddDir(d)
	}
	for _, k := range S3BootstrapKeeps(s.opts) {
		s.s3[k] = nil
	}
	target := s.status
	for _, p := range ix.Projects {
		if p.Serial <= s.status {
			continue
		}
		target = max(target, p.Serial)
		s.project(w, p.Name, p.Serial)
	}
	var dirs []string
	for path, e := range s.tree {
		rest, ok := strings.CutPrefix(path, "web/simple/")
		if !ok || !e.Dir {
			continue
		}
		if n := strings.Count(rest, "/"); (s.opts.HashIndex && n == 1) || (!s.opts.HashIndex && n == 0) {
			dirs = append(dirs, rest)
		}
	}
	write, remove := RootIndexFiles(dirs, s.status, s.opts)
	for _, o := range write {
		s.tree.Add(o.Path, o.Data, o.Mode, time.Time{})
	}
	for _, r := range remove {
		delete(s.tree, r)
	}
	s.status = target
	for _, o := range []Output{StatusFile(target), LastModifiedFile(start)} {
		s.tree.Add(o.Path, o.Data, o.Mode, time.Time{})
	}
}

// s3Manifest is the bucket as testdata/golden/s3/s3list.py lists it.
func (s *miniSync) s3Manifest() string {
	var lines []string
	for key, e := range s.tree {
		if e.Dir || key == ".lock" { // S3's lock object is removed at the end
			continue
		}
		sum := sha256.Sum256(e.Data)
		digest := hex.EncodeToString(sum[:])
		if key == "web/last-modified" {
			digest = "-"
		}
		meta := s.s3[key]
		if meta == nil {
			meta = map[string]string{}
		}
		mj, _ := json.Marshal(meta) // sorted keys, as json.dumps(sort_keys=True) for plain strings
		lines = append(lines, fmt.Sprintf("%s %d %s %s", key, len(e.Data), digest, strings.ReplaceAll(strings.ReplaceAll(string(mj), `":"`, `": "`), `","`, `", "`)))
	}
	for key := range s.s3 {
		if strings.HasSuffix(key, S3Keep) {
			lines = append(lines, key+" 0 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 {}")
		}
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n") + "\n"
}

func (s *miniSync) project(w *fakepypi.Warehouse, rawName string, indexSerial int64) {
	t := s.t
	doc := w.Document(rawName)
	p, err := Prepare(doc, rawName, s.opts)
	if p == nil {
		t.Fatalf("%s: %v", rawName, err)
	}
	if p.Skip != "" {
		return
	}
	for _, o := range p.JSONFiles() {
		s.tree.Add(o.Path, o.Data, o.Mode, time.Time{})
	}
	if err != nil {
		t.Fatalf("%s: %v", rawName, err)
	}
	for _, d := range p.Downloads() {
		u, err := url.Parse(d.URL)
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		w.ServeHTTP(rec, httptest.NewRequest("GET", u.RequestURI(), nil))
		if rec.Code != 200 {
			t.Fatalf("%s: %d", d.URL, rec.Code)
		}
		s.tree.Add(d.Path, rec.Body.Bytes(), 0o644, d.Mtime)
		s.s3[d.Path] = d.S3Metadata()
	}
	for _, k := range p.S3Keeps() {
		s.s3[k] = nil
	}
	s.tree.AddDir(strings.TrimSuffix(p.SimpleDir(), "/"))
	if s.opts.KeepIndexVersions == 0 {
		for _, o := range p.Pages() {
			s.tree.Add(o.Path, o.Data, o.Mode, time.Time{})
		}
		return
	}
	var existing []string
	for path, e := range s.tree {
		if name, ok := strings.CutPrefix(path, p.SimpleDir()+"versions/"); ok && !e.Dir {
			existing = append(existing, name)
		}
	}
	write, links, remove := p.VersionedPages(existing, indexSerial, time.Now())
	for _, r := range remove {
		delete(s.tree, r)
	}
	for _, o := range write {
		s.tree.Add(goldentree.Normalize(o.Path), o.Data, o.Mode, time.Time{})
	}
	for _, l := range links {
		s.tree.AddLink(l.Path, goldentree.Normalize(goldentree.Root+"/"+l.Target))
	}
}

// TestGoldenTrees: for each config generate.sh ran the real bandersnatch
// with, our writers produce the same tree, every path and byte, modes and
// release file mtimes, on the first sync and after upstream changed.
func TestGoldenTrees(t *testing.T) {
	confs, _ := filepath.Glob("../../testdata/golden/*.conf")
	if len(confs) < 3 {
		t.Fatalf("want at least 3 golden configs, found %d", len(confs))
	}
	for _, conf := range confs {
		name := strings.TrimSuffix(filepath.Base(conf), ".conf")
		t.Run(name, func(t *testing.T) {
			cfg, err := sources.ReadConfig(conf)
			if err != nil {
				t.Fatal(err)
			}
			s := &miniSync{t: t, opts: OptionsFromConfig(cfg), tree: goldentree.Tree{}, s3: map[string]map[string]string{}}
			for step := range fakepypi.GoldenSteps {
				w, err := fakepypi.Golden(goldenBase, step)
				if err != nil {
					t.Fatal(err)
				}
				s.run(w)
				manifest, copies, err := goldentree.Load(filepath.Join("../../testdata/golden", name, "step"+string(rune('0'+step))))
				if err != nil {
					t.Fatal(err)
				}
				if d := s.tree.Diff(manifest, copies, false); len(d) > 0 {
					t.Errorf("step %d: %d differences from bandersnatch's tree:\n%s", step, len(d), strings.Join(d, "\n"))
				}
				// the same sync through bandersnatch's S3 backend, where recorded
				want, err := os.ReadFile(filepath.Join("../../testdata/golden/s3", name, fmt.Sprintf("step%d.S3MANIFEST", step)))
				if errors.Is(err, fs.ErrNotExist) {
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				if got := s.s3Manifest(); got != string(want) {
					t.Errorf("step %d on S3:\n%s", step, goldentree.LineDiff(got, string(want), "ours only:  ", "golden only:"))
				}
			}
		})
	}
}
