package filters

import (
	"encoding/json"
	"os"
	"slices"
	"testing"
)

// TestPEP440AgainstPackaging checks the specifier and ordering decisions the
// filters take from go-pep440-version against Python's packaging 23 (the
// library bandersnatch uses): testdata/pep440.json is what
// testdata/pep440.py printed with it.
func TestPEP440AgainstPackaging(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("testdata/pep440.json")
	if err != nil {
		t.Fatal(err)
	}
	var want struct {
		Contains [][3]any `json:"contains"`
		Order    []string `json:"order"`
	}
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	bad := 0
	for _, c := range want.Contains {
		spec, v, in := c[0].(string), c[1].(string), c[2].(bool)
		set, err := parseSpecifierSet(spec)
		if err != nil {
			t.Errorf("%s: %v", spec, err)
			continue
		}
		ver, err := parseVersion(v)
		if err != nil {
			t.Errorf("version %s: %v", v, err)
			continue
		}
		if got := set.contains(ver); got != in {
			bad++
			t.Errorf("%s in %s: %v, packaging says %v", v, spec, got, in)
		}
	}
	got := slices.Clone(want.Order)
	slices.Reverse(got)
	slices.SortStableFunc(got, func(a, b string) int {
		va, _ := newSortableVersion(a)
		vb, _ := newSortableVersion(b)
		return va.compare(vb)
	})
	for i := range got {
		va, _ := parseVersion(got[i])
		vb, _ := parseVersion(want.Order[i])
		if va.Compare(vb) != 0 {
			t.Errorf("order %v\nwant  %v", got, want.Order)
			break
		}
	}
	t.Logf("%d specifier cases, %d disagree", len(want.Contains), bad)
}
