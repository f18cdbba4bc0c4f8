package stages

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bandercheck/bandercheck/internal/store"
	"github.com/bandercheck/bandercheck/pipeline"
)

// openCounter is a store that records every document opened (a missing
// one, which a simple folder without index.v1_json is asked for, is not).
type openCounter struct {
	store.Store
	mu     sync.Mutex
	opened []string
}

func (c *openCounter) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	rc, err := c.Store.Open(ctx, key)
	if err == nil {
		c.mu.Lock()
		c.opened = append(c.opened, key)
		c.mu.Unlock()
	}
	return rc, err
}

// OpenIdentified counts as Open does, for a store that identifies what it
// opens (POSIX): the scan takes that way then.
func (c *openCounter) OpenIdentified(ctx context.Context, key string) (io.ReadCloser, store.Object, error) {
	rc, o, err := c.Store.(identifiedOpener).OpenIdentified(ctx, key)
	if err == nil {
		c.mu.Lock()
		c.opened = append(c.opened, key)
		c.mu.Unlock()
	}
	return rc, o, err
}

// reuseFixture is a mirror of projects read from JSON, with a document that
// fails (a problem row), a project found only in web/simple (a problem row
// and a fallback) and simple pages for some.
func reuseFixture(t *testing.T) *fixture {
	files := map[string]string{"web/packages/aa/x": "x"}
	for i := range 8 {
		n := fmt.Sprintf("proj%d", i)
		files["web/json/"+n] = jsonDoc(n, 10+i, pkg{n + "-1.0.tar.gz", "1.0", "content-" + n})
		files["web/simple/"+n+"/index.html"] = simplePage(pkg{n + "-1.0.tar.gz", "1.0", "content-" + n})
	}
	files["web/json/broken"] = `{"info": {"name": "broken"}, "releases": {"1.0": [`
	files["web/simple/only-simple/index.html"] = simplePage(pkg{"only_simple-1.0.tar.gz", "1.0", "only simple"})
	return newFixture(t, files)
}

// simplePage is a simple page linking files.
func simplePage(files ...pkg) string {
	var b bytes.Buffer
	b.WriteString("<!DOCTYPE html><html><body>")
	for _, p := range files {
		fmt.Fprintf(&b, `<a href="../../packages/%s#sha256=%s">%s</a>`, p.key()[len("web/packages/"):], sum(p.content), p.file)
	}
	b.WriteString("</body></html>")
	return b.String()
}

// scanMetadataCounting runs scan metadata (--fresh when fresh) and returns
// the documents it opened, sorted.
func (f *fixture) scanMetadataCounting(from string, fresh bool) []string {
	f.t.Helper()
	c := &openCounter{}
	f.env.wrapStore = func(s store.Store) store.Store { c.Store = s; return c }
	defer func() { f.env.wrapStore = nil }()
	if _, err := (&ScanMetadataOptions{From: from, Jobs: 3, Fresh: fresh}).Run(f.ctx, f.env); err != nil {
		f.t.Fatalf("scan metadata: %v", err)
	}
	slices.Sort(c.opened)
	return c.opened
}

// metadataBytes is the bytes of the metadata manifests' shards, in order.
func metadataBytes(t *testing.T, state string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, m := range pipeline.MetadataManifests {
		sf, err := pipeline.NewState(state).StageFile(m)
		if err != nil {
			t.Fatal(err)
		}
		if sf.State != pipeline.StateDone {
			t.Fatalf("%s is %s", m, sf.State)
		}
		var b []byte
		for _, sh := range sf.Shards {
			data, err := os.ReadFile(filepath.Join(state, filepath.FromSlash(m), sh.File))
			if err != nil {
				t.Fatal(err)
			}
			b = append(b, data...)
		}
		out[m] = b
	}
	return out
}

// referenceScan scans the mirror into a new state, with nothing to reuse:
// the manifests a reusing scan must equal.
func (f *fixture) referenceScan(from string) map[string][]byte {
	f.t.Helper()
	env := *f.env
	env.State = f.t.TempDir() + "/ref"
	env.wrapStore = nil
	if _, err := (&ScanMetadataOptions{From: from, Jobs: 1}).Run(f.ctx, &env); err != nil {
		f.t.Fatal(err)
	}
	return metadataBytes(f.t, env.State)
}

func (f *fixture) sameAsReference(from, what string) {
	f.t.Helper()
	got, want := metadataBytes(f.t, f.env.State), f.referenceScan(from)
	for _, m := range pipeline.MetadataManifests {
		if !bytes.Equal(got[m], want[m]) {
			f.t.Errorf("%s: %s differs from a scan with nothing to reuse; the reusing scan's rows:\n%q", what, m, f.rows(m))
		}
	}
}

// ctimeOf is a file's ctime.
func ctimeOf(t *testing.T, path string) time.Time {
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return time.Unix(st.Ctim.Unix())
}

// rewriteKeepingDate writes content to path and sets its mtime back to
// what it was, waiting until the ctime moved (the kernel's ctime clock is
// coarse): a change that size and mtime alone would miss.
func rewriteKeepingDate(t *testing.T, path, content string) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	before := ctimeOf(t, path)
	for {
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, fi.ModTime(), fi.ModTime()); err != nil {
			t.Fatal(err)
		}
		if !ctimeOf(t, path).Equal(before) {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestScanMetadataReusesUnchangedProjects: a second scan metadata of an
// unchanged mirror opens no document and writes byte for byte the manifests
// of the first; then each way a document can change is read again, and
// only that, while the manifests equal those of a scan with nothing to reuse.
func TestScanMetadataReusesUnchangedProjects(t *testing.T) {
	t.Parallel()
	f := reuseFixture(t)
	all := f.scanMetadataCounting(fromJSON, false)
	if len(all) != 10 {
		t.Fatalf("the first scan opened %d documents, want 10: %v", len(all), all)
	}
	first := metadataBytes(t, f.env.State)
	if got := f.scanMetadataCounting(fromJSON, true); len(got) != 0 {
		t.Fatalf("a second scan of an unchanged mirror opened %v", got)
	}
	second := metadataBytes(t, f.env.State)
	for _, m := range pipeline.MetadataManifests {
		if !bytes.Equal(first[m], second[m]) {
			t.Errorf("%s: the reusing scan's shards differ from the first scan's", m)
		}
	}
	path := func(key string) string { return filepath.Join(f.root, filepath.FromSlash(key)) }
	for _, c := range []struct {
		what   string
		change func()
		opened []string
	}{
		{"same size, mtime put back (only the ctime differs)", func() {
			// same length: one character of the digest and of the content differ
			rewriteKeepingDate(t, path("web/json/proj2"), jsonDoc("proj2", 12, pkg{"proj2-1.0.tar.gz", "1.0", "content-projX"}))
		}, []string{"web/json/proj2"}},
		{"size changed", func() {
			os.WriteFile(path("web/json/proj3"), []byte(jsonDoc("proj3", 30, pkg{"proj3-1.0.tar.gz", "1.0", "c"}, pkg{"proj3-2.0.tar.gz", "2.0", "d"})), 0o644)
		}, []string{"web/json/proj3"}},
		{"replaced by a new inode (renamed over), same bytes and mtime", func() {
			fi, _ := os.Stat(path("web/json/proj4"))
			data, _ := os.ReadFile(path("web/json/proj4"))
			tmp := path("web/json/.proj4.tmp")
			os.WriteFile(tmp, data, 0o644)
			os.Chtimes(tmp, fi.ModTime(), fi.ModTime())
			if err := os.Rename(tmp, path("web/json/proj4")); err != nil {
				t.Fatal(err)
			}
		}, []string{"web/json/proj4"}},
		{"deleted", func() { os.Remove(path("web/json/proj5")) }, []string{"web/simple/proj5/index.html"}},
		{"a new project", func() {
			os.WriteFile(path("web/json/proj9"), []byte(jsonDoc("proj9", 19, pkg{"proj9-1.0.tar.gz", "1.0", "nine"})), 0o644)
		}, []string{"web/json/proj9"}},
		{"a document with a problem row deleted (the rows after it still line up)", func() {
			os.Remove(path("web/json/broken"))
		}, nil},
		{"the broken document back, mended", func() {
			os.WriteFile(path("web/json/broken"), []byte(jsonDoc("broken", 5, pkg{"broken-1.0.tar.gz", "1.0", "b"})), 0o644)
		}, []string{"web/json/broken"}},
		{"the fallback's simple page changed", func() {
			os.WriteFile(path("web/simple/only-simple/index.html"), []byte(simplePage(pkg{"only_simple-2.0.tar.gz", "2.0", "two"})), 0o644)
		}, []string{"web/simple/only-simple/index.html"}},
		{"the fallback gains an index.v1_json", func() {
			os.WriteFile(path("web/simple/only-simple/index.v1_json"), []byte(`{"meta": {"api-version": "1.1"}, "name": "only-simple", "files": []}`), 0o644)
		}, []string{"web/simple/only-simple/index.v1_json"}},
	} {
		c.change()
		// a deleted document's project falls back to its simple page
		if got := f.scanMetadataCounting(fromJSON, true); !slices.Equal(got, c.opened) && len(got)+len(c.opened) > 0 {
			t.Errorf("%s: opened %v, want %v", c.what, got, c.opened)
		}
		f.sameAsReference(fromJSON, c.what)
	}
	// and once more, nothing changed: nothing read
	if got := f.scanMetadataCounting(fromJSON, true); len(got) != 0 {
		t.Errorf("a scan after the changes, with none since, opened %v", got)
	}
}

// TestScanMetadataReuseFromSimple: with the simple pages as the source, an
// unchanged page is not read again and a changed one is.
func TestScanMetadataReuseFromSimple(t *testing.T) {
	t.Parallel()
	f := reuseFixture(t)
	if got := f.scanMetadataCounting(fromSimple, false); len(got) != 10 {
		t.Fatalf("the first scan opened %d documents, want the 9 simple pages and broken's JSON: %v", len(got), got)
	}
	if got := f.scanMetadataCounting(fromSimple, true); len(got) != 0 {
		t.Fatalf("a second scan opened %v", got)
	}
	p := filepath.Join(f.root, "web/simple/proj1/index.html")
	rewriteKeepingDate(t, p, simplePage(pkg{"proj1-1.0.tar.gz", "1.0", "content-projX"}))
	if got, want := f.scanMetadataCounting(fromSimple, true), []string{"web/simple/proj1/index.html"}; !slices.Equal(got, want) {
		t.Errorf("opened %v, want %v", got, want)
	}
	f.sameAsReference(fromSimple, "a simple page rewritten")
}

// TestScanMetadataReuseNeedsTheSameFingerprint: a changed config (filters),
// source, build, or kept manifests of an older version reuse nothing.
func TestScanMetadataReuseNeedsTheSameFingerprint(t *testing.T) {
	t.Parallel()
	f := reuseFixture(t)
	f.withConfig("[mirror]\njson = true\n")
	f.scanMetadataCounting(fromJSON, false)
	if got := f.scanMetadataCounting(fromJSON, true); len(got) != 0 {
		t.Fatalf("a second scan under the same config opened %v", got)
	}
	f.withConfig("[mirror]\njson = true\n[plugins]\nenabled = prerelease_release\n")
	if got := f.scanMetadataCounting(fromJSON, true); len(got) != 10 {
		t.Errorf("a scan under other filters opened %d documents, want all 10", len(got))
	}
	f.sameAsReference(fromJSON, "other filters")
	if got := f.scanMetadataCounting(fromSimple, true); len(got) != 10 {
		t.Errorf("a scan from the other source opened %d documents, want all 10", len(got))
	}
	f.scanMetadataCounting(fromJSON, true)
	// another build (a parser fixed in a new version must see every document)
	f.env.Build = "bandercheck v9.9.9"
	if got := f.scanMetadataCounting(fromJSON, true); len(got) != 10 {
		t.Errorf("a scan by another build opened %d documents, want all 10", len(got))
	}
	// a finished scan of a version without the documents column, which the
	// next --fresh keeps in STATE/previous
	sfPath := filepath.Join(f.env.State, "projects", pipeline.StageFileName)
	data, err := os.ReadFile(sfPath)
	if err != nil {
		t.Fatal(err)
	}
	var sf map[string]any
	json.Unmarshal(data, &sf)
	sf["columns"] = []string{"project", "normalized", "metadata_path", "serial", "files"}
	data, _ = json.Marshal(sf)
	os.WriteFile(sfPath, data, 0o600)
	if got := f.scanMetadataCounting(fromJSON, true); len(got) != 10 {
		t.Errorf("with an older version's manifests kept, the scan opened %d documents, want all 10", len(got))
	}
}

// statCounter counts the documents stated; hideIdentified is a store
// without OpenIdentified.
type statCounter struct {
	openCounter
	stats int
}

func (c *statCounter) Stat(ctx context.Context, key string) (store.Object, error) {
	c.mu.Lock()
	c.stats++
	c.mu.Unlock()
	return c.Store.Stat(ctx, key)
}

type hideIdentified struct{ store.Store }

// TestScanMetadataIdentifiesDocumentsAsItOpensThem: on POSIX a scan
// identifies each document from the file it opened, with no lstat of its
// own (it took one a document: a tenth of the scan's system calls), and
// records the identities a scan stating each document first records, so
// manifests are byte for byte the same and a later scan reuses them.
func TestScanMetadataIdentifiesDocumentsAsItOpensThem(t *testing.T) {
	t.Parallel()
	f := reuseFixture(t)
	c := &statCounter{}
	f.env.wrapStore = func(s store.Store) store.Store { c.Store = s; return c }
	if _, err := (&ScanMetadataOptions{Jobs: 3}).Run(f.ctx, f.env); err != nil {
		t.Fatal(err)
	}
	f.env.wrapStore = nil
	if len(c.opened) != 10 || c.stats != 0 {
		t.Errorf("the scan opened %d documents and stated %d, want 10 and none", len(c.opened), c.stats)
	}
	env := *f.env
	env.State = t.TempDir() + "/stated"
	env.wrapStore = func(s store.Store) store.Store { return hideIdentified{s} }
	if _, err := (&ScanMetadataOptions{Jobs: 1}).Run(f.ctx, &env); err != nil {
		t.Fatal(err)
	}
	got, want := metadataBytes(t, f.env.State), metadataBytes(t, env.State)
	for _, m := range pipeline.MetadataManifests {
		if !bytes.Equal(got[m], want[m]) {
			t.Errorf("%s differs from a scan that stated each document before opening it", m)
		}
	}
	if got := f.scanMetadataCounting(fromJSON, true); len(got) != 0 {
		t.Errorf("a second scan of an unchanged mirror opened %v", got)
	}
}
