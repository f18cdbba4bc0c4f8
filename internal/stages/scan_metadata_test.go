package stages

import (
	"bytes"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// TestScanMetadataInProcess reads each project's JSON into designated rows
// and a projects row, and a document it cannot read into one problem row.
func TestScanMetadataInProcess(t *testing.T) {
	t.Parallel()
	a1 := pkg{"alpha-1.0.tar.gz", "1.0", "alpha one"}
	a2 := pkg{"alpha-2.0-py3-none-any.whl", "2.0", "alpha two"}
	b1 := pkg{"beta-0.1.tar.gz", "0.1", "beta"}
	f := newFixture(t, map[string]string{
		"web/json/Alpha":              jsonDoc("Alpha", 11, a1, a2),
		"web/json/beta":               jsonDoc("beta", 12, b1),
		"web/json/broken":             `{"info": {"name": "broken"}, "releases": {"1.0": [`,
		"web/simple/alpha/index.html": "<html></html>",
		"web/packages/aa/x":           "",
	})
	f.scans()
	designated := f.rows("designated")
	var paths []string
	for _, r := range designated {
		paths = append(paths, r[0])
	}
	// in project order: alpha's files (in any order), then beta's
	want := []string{a1.key(), a2.key(), b1.key()}
	slices.Sort(want[:2])
	if len(paths) == 3 {
		slices.Sort(paths[:2])
	}
	if !slices.Equal(paths, want) {
		t.Errorf("designated paths %v, want %v", paths, want)
	}
	for _, r := range designated {
		if r[0] == a2.key() && (r[1] != "alpha" || r[2] != "9" || r[3] != sum(a2.content)) {
			t.Errorf("row of %s: %v", a2.file, r)
		}
	}
	problems := f.rows("problems/metadata")
	if len(problems) != 1 || !strings.Contains(problems[0][0], "broken") {
		t.Errorf("problems: %v, want one for web/json/broken", problems)
	}
	if n := len(f.rows("projects")); n < 2 {
		t.Errorf("%d projects rows", n)
	}
}

// TestScanMetadataFromSimple designates the files the simple pages link,
// with no JSON at all.
func TestScanMetadataFromSimple(t *testing.T) {
	t.Parallel()
	p := pkg{"gamma-1.0.tar.gz", "1.0", "gamma"}
	page := `<!DOCTYPE html><html><body><a href="../../packages/` + p.key()[len("web/packages/"):] +
		`#sha256=` + sum(p.content) + `">` + p.file + `</a></body></html>`
	f := newFixture(t, map[string]string{
		"web/simple/index.html":       `<html><body><a href="gamma/">gamma</a></body></html>`,
		"web/simple/gamma/index.html": page,
		p.key():                       p.content,
	})
	if _, err := (&ScanStorageOptions{Jobs: 1}).Run(f.ctx, f.env); err != nil {
		t.Fatal(err)
	}
	if _, err := (&ScanMetadataOptions{From: fromSimple, Jobs: 1}).Run(f.ctx, f.env); err != nil {
		t.Fatal(err)
	}
	d := f.rows("designated")
	if len(d) != 1 || d[0][0] != p.key() || d[0][3] != sum(p.content) {
		t.Errorf("designated from simple: %v", d)
	}
	if err := f.plan(); err != nil {
		t.Fatal(err)
	}
	if n := len(f.rows("plan/download")) + len(f.rows("plan/delete")); n != 0 {
		t.Errorf("a clean mirror read from simple pages planned %d actions", n)
	}
}

// TestScanMetadataHoldsDocumentsWithinBudget: the documents the workers
// hold (read whole, then as rows until written) stay within the scan's
// budget however many workers read at once; a document that does not fit
// is read by the writer as a stream, and the manifests are the same as
// with room for all. Before, each worker kept a 1 MiB buffer: 256 MiB with
// the 256 requests of S3, 530 MiB peak RSS for a tenth of the index.
// (Not parallel: it swaps the budget.)
func TestScanMetadataHoldsDocumentsWithinBudget(t *testing.T) {
	files := map[string]string{}
	for i := range 40 {
		var pkgs []pkg
		for j := range 20 + 40*(i%5) { // documents of about 5 to 45 KB
			pkgs = append(pkgs, pkg{fmt.Sprintf("p%02d-%d.0.tar.gz", i, j), fmt.Sprintf("%d.0", j), fmt.Sprintf("p%02d %d", i, j)})
		}
		files[fmt.Sprintf("web/json/p%02d", i)] = jsonDoc(fmt.Sprintf("p%02d", i), i, pkgs...)
	}
	scan := func(limit int64) (*memBudget, map[string][][]string) {
		f := newFixture(t, files)
		var b *memBudget
		saved := newScanBudget
		newScanBudget = func(int64) *memBudget { b = newMemBudget(limit); return b }
		defer func() { newScanBudget = saved }()
		if _, err := (&ScanMetadataOptions{Jobs: 16}).Run(f.ctx, f.env); err != nil {
			t.Fatal(err)
		}
		out := map[string][][]string{}
		for _, m := range []string{"projects", "designated", "problems/metadata"} {
			out[m] = f.rows(m)
		}
		for i, r := range out["projects"] {
			out["projects"][i] = r[:len(r)-1] // documents: the identities of this fixture's files
		}
		return b, out
	}
	roomy, want := scan(1 << 30)
	tight, got := scan(64 << 10)
	for m := range want {
		if !slices.EqualFunc(got[m], want[m], slices.Equal) {
			t.Errorf("%s differs under a tight budget: %d rows, want %d", m, len(got[m]), len(want[m]))
		}
	}
	if tight.peak > 64<<10 || tight.used != 0 || roomy.used != 0 || tight.refused == 0 || roomy.refused != 0 {
		t.Errorf("budget of 64 KiB: held at most %d bytes, %d still held at the end (roomy: %d), %d documents left to the writer (roomy: %d)",
			tight.peak, tight.used, roomy.used, tight.refused, roomy.refused)
	}
	if len(want["designated"]) != 40*(20+40*2) || roomy.peak == 0 {
		t.Errorf("%d designated rows; roomy budget peak %d", len(want["designated"]), roomy.peak)
	}
}

// TestScanMetadataBudgetFollowsMemory: the documents held in flight are an
// eighth of --memory (plan's too, which run gives the scan), not a constant
// 32 MiB whatever the budget.
func TestScanMetadataBudgetFollowsMemory(t *testing.T) {
	files := map[string]string{"web/json/a": jsonDoc("a", 1, pkg{"a-1.0.tar.gz", "1.0", "a"})}
	for _, c := range []struct {
		memory ByteSize
		want   int64
	}{{0, 32 << 20}, {DefaultScanMetadataOptions().Memory, 32 << 20}, {64 << 20, 8 << 20}, {1 << 30, 128 << 20}} {
		f := newFixture(t, files)
		var got int64
		saved := newScanBudget
		newScanBudget = func(limit int64) *memBudget { got = limit; return newMemBudget(limit) }
		_, err := (&ScanMetadataOptions{Jobs: 2, Memory: c.memory}).Run(f.ctx, f.env)
		newScanBudget = saved
		if err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("--memory %d: document budget %d, want %d", c.memory, got, c.want)
		}
	}
}

// TestReadInlineReusesItsBuffers: the documents read whole are read into
// buffers lent by a pool and given back once parsed: 200 documents of
// 10 KB allocate a few buffers, not one of 16 KiB (zeroed) a document, as
// they did; a document of exactly the limit is read whole, one byte more is
// too large; the budget is given back either way.
func TestReadInlineReusesItsBuffers(t *testing.T) {
	m := &metaScan{mem: newMemBudget(1 << 20)}
	doc := bytes.Repeat([]byte("x"), 10_000)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 200 {
		buf, held, err := m.readInline(bytes.NewReader(doc), inlineLimit)
		if err != nil || !bytes.Equal(buf, doc) {
			t.Fatalf("read %d bytes, %v", len(buf), err)
		}
		putDocBuf(buf)
		m.mem.give(held)
	}
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 40*docBufMin {
		t.Errorf("200 documents of 10 KB allocated %d KiB", grew>>10)
	}
	for _, c := range []struct {
		size int
		err  error
	}{{64 << 10, nil}, {64<<10 + 1, errTooLarge}, {100, nil}, {0, nil}} {
		buf, held, err := m.readInline(bytes.NewReader(make([]byte, c.size)), 64<<10)
		if err != c.err || err == nil && len(buf) != c.size || held > 64<<10 {
			t.Errorf("%d bytes at a limit of 64 KiB: %d read, %d held, %v", c.size, len(buf), held, err)
		}
		putDocBuf(buf)
		m.mem.give(held)
	}
	if m.mem.used != 0 {
		t.Errorf("%d bytes of the budget still held", m.mem.used)
	}
}

// TestScanMetadataWithoutBudget: a scan whose document budget is nil (no
// limit, as memBudget's methods allow) runs and logs its use; its closing
// log line read the budget's fields and panicked on nil.
func TestScanMetadataWithoutBudget(t *testing.T) {
	f := newFixture(t, map[string]string{"web/json/a": jsonDoc("a", 1, pkg{"a-1.0.tar.gz", "1.0", "a"})})
	saved := newScanBudget
	newScanBudget = func(int64) *memBudget { return nil }
	defer func() { newScanBudget = saved }()
	if _, err := (&ScanMetadataOptions{Jobs: 2}).Run(f.ctx, f.env); err != nil {
		t.Fatal(err)
	}
}
