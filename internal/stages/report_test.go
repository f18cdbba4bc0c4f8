package stages

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The report lists each of the first problems, not one of them again and
// again, and its plan table is the plan's.
func TestReportListsEachProblem(t *testing.T) {
	f := newFixture(t, map[string]string{
		"web/json/broken-one":                       `{"info": {"name": "broken-one"}, "releases": {"1.0": [`,
		"web/json/broken-two":                       `{"info": {"name": "broken-two"}, "releases": [`,
		"web/json/broken-three":                     `not json`,
		"web/packages/aa/bb/0123/orphan-1.0.tar.gz": "x",
	})
	f.scans()
	if n := len(f.rows("problems/metadata")); n != 3 {
		t.Fatalf("%d metadata problems, want 3", n)
	}
	if err := (&PlanOptions{MaxRemoveProjects: Limit{Percent: 100, IsPct: true}, Memory: 64 << 20}).Run(f.ctx, f.env); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "report.html")
	if err := (&ReportOptions{Out: out, Top: 20}).Run(f.ctx, f.env); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	for _, p := range []string{"web/json/broken-one", "web/json/broken-two", "web/json/broken-three"} {
		if strings.Count(page, ">"+p+"<") != 1 {
			t.Errorf("the report shows problem %s %d times, want once", p, strings.Count(page, ">"+p+"<"))
		}
	}
	if !strings.Contains(page, "orphan") {
		t.Error("the report's plan does not list the unowned file's project")
	}
}
