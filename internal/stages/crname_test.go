package stages

import (
	"strings"
	"testing"
)

// TestCarriageReturnNamesAreProblems: two stored names that differ only
// by "\r\n" and "\n" (CSV reads the first back as the second) do not stop
// plan for good: the name with the carriage return is a problems/storage row,
// never planned, and the other is a stored file like any other, so the plan
// deletes it (unowned) and leaves the first alone. A JSON document naming a
// path with a carriage return (percent-encoded) is a problems/metadata row.
func TestCarriageReturnNamesAreProblems(t *testing.T) {
	t.Parallel()
	a := pkg{"keep-1.0.tar.gz", "1.0", "a"}
	crURL := pkg{"cr%0D%0Aname-1.0.tar.gz", "1.0", "c"}
	f := newFixture(t, map[string]string{
		"web/json/keep":                   jsonDoc("keep", 1, a),
		"web/json/crdoc":                  jsonDoc("crdoc", 2, crURL),
		a.key():                           a.content,
		"web/packages/aa/bb/x\r\ny.whl":   "one",
		"web/packages/aa/bb/x\ny.whl":     "two",
		"web/packages/aa/bb/lone\r\n.whl": "three",
	})
	f.scans()
	var problems []string
	for _, r := range f.rows("problems/storage") {
		problems = append(problems, r[0])
		if !strings.Contains(r[2], "carriage return") {
			t.Errorf("problem %q: %q", r[0], r[2])
		}
	}
	if len(problems) != 2 { // (read back, CSV shows them with "\n")
		t.Errorf("problems/storage %q, want the two names holding a carriage return", problems)
	}
	var meta []string
	for _, r := range f.rows("problems/metadata") {
		meta = append(meta, r[0]+": "+r[2])
	}
	if !strings.Contains(strings.Join(meta, "\n"), "carriage return") {
		t.Errorf("problems/metadata %q, want the document naming a carriage return", meta)
	}
	if err := f.plan(); err != nil {
		t.Fatalf("plan: %v", err)
	}
	if err := f.plan(); err != nil { // and again: nothing sticks
		t.Fatalf("plan again: %v", err)
	}
	got := f.column("plan/delete", 0)
	if len(got) != 1 || got[0] != "web/packages/aa/bb/x\ny.whl" {
		t.Errorf("plan/delete %q, want only the name without a carriage return", got)
	}
}
