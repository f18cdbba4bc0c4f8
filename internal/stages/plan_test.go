package stages

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/bandercheck/bandercheck/pipeline"
)

// upstreamIndex serves a PEP 503 root index listing names.
func upstreamIndex(t *testing.T, names ...string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("<!DOCTYPE html><html><body>\n")
	for _, n := range names {
		fmt.Fprintf(&b, "<a href=\"/simple/%s/\">%s</a>\n", n, n)
	}
	b.WriteString("</body></html>\n")
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/simple/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, b.String())
	}))
	t.Cleanup(s.Close)
	return s.URL
}

// planFixture is a mirror with one of each difference: a missing file, a
// file of the right size and the wrong content, one of the wrong size, an
// orphan, and a project gone upstream.
func planFixture(t *testing.T) (f *fixture, missing, badHash, badSize pkg) {
	kept := pkg{"alpha-1.0.tar.gz", "1.0", "alpha one"}
	missing = pkg{"alpha-2.0-py3-none-any.whl", "2.0", "alpha two"}
	badHash = pkg{"beta-0.1.tar.gz", "0.1", "beta"}
	badSize = pkg{"beta-0.2.tar.gz", "0.2", "beta two"}
	gone := pkg{"gone-1.0.tar.gz", "1.0", "gone"}
	f = newFixture(t, map[string]string{
		"web/json/alpha":                jsonDoc("alpha", 1, kept, missing),
		"web/json/beta":                 jsonDoc("beta", 2, badHash, badSize),
		"web/json/gone":                 jsonDoc("gone", 3, gone),
		"web/simple/gone/index.html":    "<html></html>",
		kept.key():                      kept.content,
		badHash.key():                   "BETA",
		badSize.key():                   "short",
		gone.key():                      gone.content,
		"web/packages/ff/ff/orphan.whl": "nobody's",
	})
	if _, err := (&ScanStorageOptions{Jobs: 2, Hash: HashContent}).Run(f.ctx, f.env); err != nil {
		t.Fatal(err)
	}
	if _, err := (&ScanMetadataOptions{From: fromJSON, Jobs: 2}).Run(f.ctx, f.env); err != nil {
		t.Fatal(err)
	}
	return f, missing, badHash, badSize
}

// TestPlanInProcess joins storage against designated files: each kind of
// difference gets its reason, and the files of a project gone upstream are
// planned with the project's removal.
func TestPlanInProcess(t *testing.T) {
	t.Parallel()
	f, missing, badHash, badSize := planFixture(t)
	if err := (&ScanUpstreamOptions{Upstream: upstreamIndex(t, "alpha", "beta"), Timeout: DefaultScanUpstreamOptions().Timeout, Attempts: 1}).Run(f.ctx, f.env); err != nil {
		t.Fatal(err)
	}
	if got := f.column("upstream", 0); !slices.Equal(got, []string{"alpha", "beta"}) {
		t.Errorf("upstream rows %v", got)
	}
	var summary strings.Builder
	f.env.Stdout = &summary
	if err := (&PlanOptions{MaxRemoveProjects: Limit{Percent: 50, IsPct: true}, Memory: 64 << 20}).Run(f.ctx, f.env); err != nil {
		t.Fatal(err)
	}
	flat := strings.Join(strings.Fields(summary.String()), " ")
	for _, line := range []string{"download size-mismatch 1 8", "delete project-removed 1 4", "delete unowned 1 8", "1 removed upstream"} {
		if !strings.Contains(flat, line) {
			t.Errorf("the summary lacks %q:\n%s", line, summary.String())
		}
	}
	downloads := map[string]string{}
	for _, r := range f.rows("plan/download") {
		downloads[r[pipeline.DownloadPath]] = r[pipeline.DownloadReason]
	}
	want := map[string]string{missing.key(): pipeline.ReasonMissing, badHash.key(): pipeline.ReasonHashMismatch, badSize.key(): pipeline.ReasonSizeMismatch}
	if fmt.Sprint(downloads) != fmt.Sprint(want) {
		t.Errorf("downloads %v, want %v", downloads, want)
	}
	deletes := map[string]string{}
	for _, r := range f.rows("plan/delete") {
		deletes[r[pipeline.DeletePath]] = r[pipeline.DeleteReason]
	}
	if deletes["web/packages/ff/ff/orphan.whl"] != pipeline.ReasonUnowned {
		t.Errorf("the orphan is not planned as unowned: %v", deletes)
	}
	removals := f.rows("plan/remove-projects")
	var removed []string
	for _, r := range removals {
		if r[pipeline.RemoveProject] != "gone" {
			t.Errorf("removal of %v", r)
		}
		removed = append(removed, r[pipeline.RemovePath])
	}
	if !slices.Contains(removed, "web/json/gone") || !slices.Contains(removed, "web/simple/gone/") {
		t.Errorf("removal paths of gone: %v", removed)
	}
}

// TestPlanRefusesManyRemovals leaves project removals out, with a refusal,
// when more local projects are missing upstream than allowed.
func TestPlanRefusesManyRemovals(t *testing.T) {
	t.Parallel()
	f, _, _, _ := planFixture(t)
	if err := (&ScanUpstreamOptions{Upstream: upstreamIndex(t, "alpha"), Timeout: DefaultScanUpstreamOptions().Timeout, Attempts: 1}).Run(f.ctx, f.env); err != nil {
		t.Fatal(err)
	}
	err := (&PlanOptions{MaxRemoveProjects: Limit{N: 1}, Memory: 64 << 20}).Run(f.ctx, f.env)
	var re *pipeline.RefusedError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "--max-remove-projects") {
		t.Fatalf("plan with 2 of 3 projects gone and a limit of 1: %v", err)
	}
	if r := f.rows("plan/remove-projects"); len(r) != 0 {
		t.Errorf("refused removals still planned: %v", r)
	}
}

// TestPlanNeedsScans names the scan to run first.
func TestPlanNeedsScans(t *testing.T) {
	t.Parallel()
	f := newFixture(t, map[string]string{"web/packages/aa/x.whl": "x"})
	if _, err := (&ScanStorageOptions{Jobs: 1}).Run(f.ctx, f.env); err != nil {
		t.Fatal(err)
	}
	err := f.plan()
	var ue *pipeline.UsageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "scan metadata") {
		t.Fatalf("plan without a metadata scan: %v", err)
	}
}

// TestPlanMaxDownload refuses a plan that downloads more than --max-download
// (a share of the designated files, a count or a size), and apply refuses
// to run it; a higher limit lets it through.
func TestPlanMaxDownload(t *testing.T) {
	t.Parallel()
	f, _, _, _ := planFixture(t) // 3 of 5 designated files to download, 21 bytes
	for _, c := range []struct {
		limit  string
		refuse bool
	}{{"10%", true}, {"2", true}, {"20B", true}, {"60%", false}, {"3", false}, {"1KiB", false}} {
		limit, err := ParseDownloadLimit(c.limit)
		if err != nil {
			t.Fatal(err)
		}
		err = (&PlanOptions{MaxRemoveProjects: Limit{Percent: 100, IsPct: true}, Memory: 64 << 20, MaxDownload: limit}).Run(f.ctx, f.env)
		var re *pipeline.RefusedError
		if got := errors.As(err, &re) && strings.Contains(err.Error(), "--max-download "+limit.String()); got != c.refuse {
			t.Errorf("--max-download %s: %v, want refused %v", c.limit, err, c.refuse)
		}
		if !c.refuse && err != nil {
			t.Errorf("--max-download %s: %v", c.limit, err)
		}
		a := testApply("http://127.0.0.1:1")
		a.DryRun = true // the refusal comes first
		aerr := a.Run(f.ctx, f.env)
		if refused := errors.As(aerr, &re); refused != c.refuse {
			t.Errorf("apply after --max-download %s: %v", c.limit, aerr)
		}
	}
	if _, err := ParseDownloadLimit("lots"); err == nil {
		t.Errorf("a bad --max-download parses")
	}
}

// TestPathPrefixKeepsPathOrder: plan's sorters order paths by their bytes,
// and pathPrefix, compared first, never contradicts that order, for the
// paths of packages, of metadata temp files before and after them, and for
// bytes that the sort key of before (the path without web/packages/, others
// behind a \x01 or \xff) put out of order.
func TestPathPrefixKeepsPathOrder(t *testing.T) {
	paths := []string{
		"web/json/.tmp-a", "web/packages", "web/packages/", "web/packages/0", "web/packages/00/aa/b",
		"web/packages/ab/cd/ef0123/x-1.0.tar.gz", "web/packages/ab/cd/ef0123/x-1.0.whl", "web/packages/ab/cd/ef",
		"web/packages/ab/cd/e", "web/packages/ff/ff/ffffff", "web/packages/\x00x", "web/packages/\x01x",
		"web/packages/\xffx", "web/packages/\xff\xff\xff\xff\xff\xff\xff\xff", "web/packages0", "web/pypi/.tmp-b",
		"web/simple/.tmp-c", "", "\xff", "a",
	}
	for _, a := range paths {
		for _, b := range paths {
			if a < b && pathPrefix(a) > pathPrefix(b) {
				t.Errorf("%q < %q, but its prefix %#x > %#x", a, b, pathPrefix(a), pathPrefix(b))
			}
		}
	}
}
