package synth

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"slices"
	"strings"
	"testing"
)

func TestPermIsABijection(t *testing.T) {
	for _, n := range []uint64{1, 2, 3, 17, 1000, 4097} {
		p := newPerm(n, 42)
		seen := make([]bool, n)
		for x := range n {
			y := p.apply(x)
			if y >= n || seen[y] {
				t.Fatalf("n=%d: %d -> %d twice or out of range", n, x, y)
			}
			seen[y] = true
			if p.invert(y) != x {
				t.Fatalf("n=%d: invert(apply(%d)) = %d", n, x, p.invert(y))
			}
		}
	}
}

func TestDigestsMatchContent(t *testing.T) {
	m, err := New(Config{Seed: 3, Projects: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []int64{1, 63, 64, 100, 4159, 4160, 4161, 8255, 8256, 100_000, 3 << 20} {
		o := object{size: size, key: uint64(size) * 7}
		b, err := io.ReadAll(m.newReader(o))
		if err != nil || int64(len(b)) != size {
			t.Fatalf("size %d: read %d bytes, %v", size, len(b), err)
		}
		sha, md := m.digestsOf(o)
		s, h := sha256.Sum256(b), md5.Sum(b)
		if sha != hex.EncodeToString(s[:]) || md != hex.EncodeToString(h[:]) {
			t.Fatalf("size %d: digests %s %s, content hashes to %x %x", size, sha, md, s, h)
		}
		// a range read gives the same bytes
		r := m.newReader(o)
		off := size / 3
		r.Seek(off, io.SeekStart)
		part := make([]byte, min(size-off, 5000))
		io.ReadFull(r, part)
		if string(part) != string(b[off:off+int64(len(part))]) {
			t.Fatalf("size %d: bytes from %d differ from the whole read", size, off)
		}
		other := object{size: size, key: o.key ^ 0xbad}
		if s2, _ := m.digestsOf(other); s2 == sha {
			t.Fatalf("size %d: two objects with the same digest", size)
		}
	}
}

// naiveKeys lists every key by walking the projects, then sorts them.
func naiveKeys(m *Mirror) []string {
	keys := []string{m.root + "status", m.root + "web/simple/index.html", m.root + "web/simple/index.v1_json"}
	for i := range m.names {
		keys = append(keys, m.root+"web/json/"+m.names[i], m.root+"web/pypi/"+m.names[i]+"/json",
			m.root+"web/simple/"+m.norms[i]+"/index.html", m.root+"web/simple/"+m.norms[i]+"/index.v1_json")
		for p := m.start[i]; p < m.start[i+1]; p++ {
			if f := m.fileAt(p); f.inBucket() {
				keys = append(keys, m.key(f))
				if f.meta {
					keys = append(keys, m.key(f)+".metadata")
				}
			}
		}
	}
	slices.Sort(keys)
	return keys
}

func testMirror(t *testing.T, cfg Config) *Mirror {
	t.Helper()
	if cfg.Names == nil && cfg.Projects == 0 {
		cfg.Projects = 150
	}
	cfg.Seed = max(cfg.Seed, 7)
	cfg.MedianSize, cfg.MaxSize = 3000, 300<<10 // checkpoints and reads stay small
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

var defects = Config{Missing: 0.02, Orphan: 0.02, SizeMismatch: 0.02, HashMismatch: 0.02, Removed: 0.03, ChangeRate: 0.05, Night: 1}

func TestListingIsSortedAndComplete(t *testing.T) {
	cfg := defects
	cfg.Root = "mirror"
	// names whose byte order differs between web/json/<n>, web/pypi/<n>/json and the normal form
	cfg.Names = []string{"a", "a-b", "a.c", "A_d", "index", "index-x", "Zope", "zope.interface", "b"}
	for i := range 60 {
		cfg.Names = append(cfg.Names, generatedName(1, i))
	}
	m := testMirror(t, cfg)
	want := naiveKeys(m)
	var got []string
	m.Keys(func(k string) error { got = append(got, k); return nil })
	if !slices.Equal(got, want) {
		t.Fatalf("the cursor lists %d keys, the projects hold %d; first difference %q", len(got), len(want), firstDiff(got, want))
	}
	// paged, from every start-after, with small pages
	for _, after := range []string{"", "mirror/web/packages/", "mirror/web/packages/7", want[len(want)/2], "mirror/web/simple/index.html", "mirror/web/pypi/a/json"} {
		var paged []string
		last, isPrefix := after, false
		for {
			page, more := m.List("mirror/", last, isPrefix, "", 7)
			for _, l := range page {
				paged = append(paged, l.Key)
			}
			if !more {
				break
			}
			last = page[len(page)-1].Key
		}
		var tail []string
		for _, k := range want {
			if k > after {
				tail = append(tail, k)
			}
		}
		if !slices.Equal(paged, tail) {
			t.Fatalf("after %q: %d keys listed, want %d; first difference %q", after, len(paged), len(tail), firstDiff(paged, tail))
		}
	}
	// with a delimiter: the folders under web/packages/ and web/simple/
	for _, prefix := range []string{"mirror/web/packages/", "mirror/web/simple/", "mirror/web/"} {
		seen := map[string]bool{}
		var wantDirs, wantObjs []string
		for _, k := range want {
			if rest, ok := strings.CutPrefix(k, prefix); ok {
				if d, _, found := strings.Cut(rest, "/"); found {
					if !seen[d] {
						seen[d] = true
						wantDirs = append(wantDirs, prefix+d+"/")
					}
				} else {
					wantObjs = append(wantObjs, k)
				}
			}
		}
		var dirs, objs []string
		last, isPrefix := "", false
		for {
			page, more := m.List(prefix, last, isPrefix, "/", 5)
			for _, l := range page {
				if l.Prefix {
					dirs = append(dirs, l.Key)
				} else {
					objs = append(objs, l.Key)
				}
			}
			if !more {
				break
			}
			last, isPrefix = page[len(page)-1].Key, page[len(page)-1].Prefix
		}
		if !slices.Equal(dirs, wantDirs) || !slices.Equal(objs, wantObjs) {
			t.Fatalf("%s with /: %d folders, %d objects; want %d, %d", prefix, len(dirs), len(objs), len(wantDirs), len(wantObjs))
		}
	}
	// every key is found again, and nothing else
	for _, k := range want {
		if _, ok := m.lookup(k); !ok {
			t.Fatalf("lookup(%q) misses a listed key", k)
		}
	}
	for _, k := range []string{"mirror/web/json/nope", "web/json/a", "mirror/web/packages/00/00/" + strings.Repeat("0", 60) + "/x.whl", want[len(want)/2] + "x"} {
		if _, ok := m.lookup(k); ok {
			t.Fatalf("lookup(%q) finds a key that is not listed", k)
		}
	}
}

func firstDiff(a, b []string) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return a[i] + " vs " + b[i]
		}
	}
	return "(one is a prefix of the other)"
}

func TestDocumentsAgreeWithTheBucket(t *testing.T) {
	m := testMirror(t, defects)
	for i := range m.Projects() {
		var doc struct {
			Info       struct{ Name string }
			LastSerial int64 `json:"last_serial"`
			Releases   map[string][]struct {
				Filename string
				URL      string
				Size     int64
				Digests  struct{ SHA256, MD5 string }
				Core     map[string]string `json:"core-metadata"`
			}
		}
		body := m.document(i, docJSON, true)
		if err := json.Unmarshal(body, &doc); err != nil {
			t.Fatalf("project %d: %v", i, err)
		}
		if int64(len(body)) != m.docSize(i, docJSON) {
			t.Fatalf("project %d: listed size %d, body %d", i, m.docSize(i, docJSON), len(body))
		}
		for _, files := range doc.Releases {
			for _, f := range files {
				rel := strings.TrimPrefix(f.URL, "https://files.example.invalid/")
				fl, ok := m.fileByRel(rel)
				if !ok || fl.proj != i {
					t.Fatalf("%s: the url names no file of the project", f.URL)
				}
				b, _ := io.ReadAll(m.newReader(fl.content))
				s, h := sha256.Sum256(b), md5.Sum(b)
				if int64(len(b)) != f.Size || hex.EncodeToString(s[:]) != f.Digests.SHA256 || hex.EncodeToString(h[:]) != f.Digests.MD5 {
					t.Fatalf("%s: document says %d %s, upstream's bytes are %d %x", f.Filename, f.Size, f.Digests.SHA256, len(b), s)
				}
				e, inBucket := m.lookup("web/" + rel)
				if inBucket != (fl.defect != DefectMissing) {
					t.Fatalf("%s: in the bucket %v with defect %d", rel, inBucket, fl.defect)
				}
				if inBucket {
					inf := m.info(e, true)
					same := inf.SHA256 == f.Digests.SHA256 && inf.Size == f.Size && inf.ETag == `"`+f.Digests.MD5+`"`
					if same != (fl.defect == DefectNone) {
						t.Fatalf("%s: stored %d %s %s, defect %d", rel, inf.Size, inf.SHA256, inf.ETag, fl.defect)
					}
				}
			}
		}
	}
}

func TestNightsChangeOnlyTheChangedProjects(t *testing.T) {
	cfg := defects
	cfg.Night = 0
	m0 := testMirror(t, cfg)
	cfg.Night = 1
	m1 := testMirror(t, cfg)
	changed := 0
	for i := range m0.Projects() {
		same := string(m0.document(i, docJSON, true)) == string(m1.document(i, docJSON, true))
		sameTag := m0.docETag(i, docJSON) == m1.docETag(i, docJSON)
		if same != !m1.Changed(i) || sameTag != same {
			t.Fatalf("project %d: document same %v, tag same %v, changed %v", i, same, sameTag, m1.Changed(i))
		}
		if !same {
			changed++
		}
	}
	if changed == 0 {
		t.Fatal("no project changed on night 1")
	}
	k0, k1 := naiveKeys(m0), naiveKeys(m1)
	if added := len(k1) - len(k0); added < 2*changed {
		t.Fatalf("%d projects changed, the bucket grew by %d keys", changed, added)
	}
	for _, k := range k0 {
		if _, ok := slices.BinarySearch(k1, k); !ok {
			t.Fatalf("%s is gone on night 1", k)
		}
	}
}

func BenchmarkDescribe(b *testing.B) {
	m, _ := New(Config{Seed: 1, Projects: 10000})
	b.ResetTimer()
	for k := range b.N {
		f := m.fileAtG(uint64(k) % m.slots)
		_ = m.key(f)
	}
}

func BenchmarkListPage(b *testing.B) {
	m, _ := New(Config{Seed: 1, Projects: 10000})
	b.ResetTimer()
	for range b.N {
		m.List("web/packages/", "web/packages/4", false, "", 1000)
	}
}
