package stages

import (
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
	if err := (&ScanStorageOptions{Jobs: 1}).Run(f.ctx, f.env); err != nil {
		t.Fatal(err)
	}
	if err := (&ScanMetadataOptions{From: fromSimple, Jobs: 1}).Run(f.ctx, f.env); err != nil {
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
