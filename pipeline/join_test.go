package pipeline

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

type sliceRows struct {
	rows [][]string
	i    int
}

func (s *sliceRows) Next() ([]string, error) {
	if s.i >= len(s.rows) {
		return nil, io.EOF
	}
	s.i++
	return s.rows[s.i-1], nil
}
func (s *sliceRows) Close() error { return nil }

type recordPlan struct{ out []string }

func (r *recordPlan) Download(d Download) error {
	r.out = append(r.out, "download "+d.Path+" "+d.Reason)
	return nil
}
func (r *recordPlan) Delete(path, size, reason string) error {
	r.out = append(r.out, "delete "+path+" "+reason)
	return nil
}

var (
	old    = "2020-01-01T00:00:00Z"
	fresh  = "2030-01-01T00:00:00Z"
	cutoff = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
)

func st(path, size, mod, sha string) []string { return []string{path, size, mod, sha} }
func ds(path, size, sha string, removed bool) []string {
	r := ""
	if removed {
		r = "1"
	}
	return []string{path, size, sha, "https://x.invalid/" + path, r, ""}
}

func TestJoinTable(t *testing.T) {
	for _, tc := range []struct {
		name       string
		storage    [][]string
		designated [][]string
		want       []string
		heldBack   int64
		err        string
	}{
		{name: "empty"},
		{name: "all missing", designated: [][]string{ds("a", "1", "", false), ds("b", "", "", false)},
			want: []string{"download a missing", "download b missing"}},
		{name: "all unowned", storage: [][]string{st("a", "1", old, ""), st("b", "1", old, "")},
			want: []string{"delete a unowned", "delete b unowned"}},
		{name: "typical",
			storage:    [][]string{st("a", "1", old, ""), st("b", "2", old, "h1"), st("c", "3", old, "h1"), st("d", "4", old, ""), st("f", "9", old, "")},
			designated: [][]string{ds("a", "1", "", false), ds("b", "5", "", false), ds("c", "3", "h2", false), ds("d", "", "zz", false), ds("e", "1", "", false)},
			want:       []string{"download b size-mismatch", "download c hash-mismatch", "download e missing", "delete f unowned"}},
		{name: "a/b vs a-b byte order",
			storage:    [][]string{st("p/a-b", "1", old, ""), st("p/a/b", "1", old, "")},
			designated: [][]string{ds("p/a-b", "1", "", false), ds("p/a/c", "1", "", false)},
			want:       []string{"delete p/a/b unowned", "download p/a/c missing"}},
		{name: "duplicate designated: owned wins",
			storage:    [][]string{st("x", "1", old, ""), st("y", "1", old, "")},
			designated: [][]string{ds("x", "1", "", true), ds("x", "1", "", false), ds("y", "1", "", true), ds("y", "1", "", true)},
			want:       []string{"delete y project-removed"}},
		{name: "removed project's missing file is not fetched",
			designated: [][]string{ds("x", "1", "", true)}},
		{name: "grace keeps fresh files",
			storage: [][]string{st("a", "1", fresh, ""), st("b", "1", fresh, "")}, designated: [][]string{ds("b", "1", "", true)},
			heldBack: 2},
		{name: "unparseable time is held back", storage: [][]string{st("a", "1", "yesterday", "")}, heldBack: 1},
		{name: "unsorted storage", storage: [][]string{st("b", "1", old, ""), st("a", "1", old, "")}, err: "storage: row 2"},
		{name: "duplicate storage", storage: [][]string{st("a", "1", old, ""), st("a", "1", old, "")}, err: "storage: row 2"},
		{name: "unsorted designated", designated: [][]string{ds("b", "1", "", false), ds("a", "1", "", false)}, err: "designated: row 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var p recordPlan
			sum, err := Join(&sliceRows{rows: tc.storage}, &sliceRows{rows: tc.designated}, cutoff, &p)
			if tc.err != "" {
				var oe *OrderError
				if !errors.As(err, &oe) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want an OrderError with %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(p.out, tc.want) {
				t.Errorf("plan\n got %q\nwant %q", p.out, tc.want)
			}
			var held int64
			for _, h := range sum.HeldBack {
				held += h.Files
			}
			if held != tc.heldBack {
				t.Errorf("held back %d, want %d", held, tc.heldBack)
			}
		})
	}
}

// naivePlan is the same decision made with maps in memory.
func naivePlan(storage, designated [][]string) []string {
	type dfile struct {
		size, sha string
		owned     bool
		seen      bool
	}
	dm := map[string]*dfile{}
	for _, d := range designated {
		f := dm[d[DPath]]
		live := d[DRemoved] != "1"
		if f == nil {
			dm[d[DPath]] = &dfile{size: d[DSize], sha: d[DSHA256], owned: live}
		} else if !f.owned && live {
			*f = dfile{size: d[DSize], sha: d[DSHA256], owned: true}
		}
	}
	var out []string
	for _, s := range storage {
		f := dm[s[0]]
		switch {
		case f == nil:
			out = append(out, "delete "+s[0]+" unowned")
		case !f.owned:
			out = append(out, "delete "+s[0]+" project-removed")
		case f.size != "" && f.size != s[1]:
			out = append(out, "download "+s[0]+" size-mismatch")
		case f.sha != "" && s[3] != "" && f.sha != s[3]:
			out = append(out, "download "+s[0]+" hash-mismatch")
		}
		if f != nil {
			f.seen = true
		}
	}
	for p, f := range dm {
		if !f.seen && f.owned {
			out = append(out, "download "+p+" missing")
		}
	}
	sort.Slice(out, func(i, j int) bool { return strings.Fields(out[i])[1] < strings.Fields(out[j])[1] })
	return out
}

func TestJoinMatchesNaivePlan(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for iter := range 300 {
		paths := map[string]bool{}
		for range rng.IntN(60) {
			paths[fmt.Sprintf("web/packages/%c%c/%d", "ab-/"[rng.IntN(4)], "xy/."[rng.IntN(4)], rng.IntN(5))] = true
		}
		var storage, designated [][]string
		for p := range paths {
			if rng.IntN(3) > 0 {
				storage = append(storage, st(p, fmt.Sprint(rng.IntN(3)), old, []string{"", "h1", "h2"}[rng.IntN(3)]))
			}
			for range rng.IntN(3) {
				designated = append(designated, ds(p, []string{"", "0", "1", "2"}[rng.IntN(4)], []string{"", "h1", "h2"}[rng.IntN(3)], rng.IntN(4) == 0))
			}
		}
		sort.Slice(storage, func(i, j int) bool { return storage[i][0] < storage[j][0] })
		sort.SliceStable(designated, func(i, j int) bool { return designated[i][0] < designated[j][0] })
		var p recordPlan
		if _, err := Join(&sliceRows{rows: storage}, &sliceRows{rows: designated}, cutoff, &p); err != nil {
			t.Fatal(err)
		}
		if want := naivePlan(storage, designated); !slices.Equal(p.out, want) {
			t.Fatalf("iteration %d:\n got %q\nwant %q", iter, p.out, want)
		}
	}
}
