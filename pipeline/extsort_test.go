package pipeline

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"sort"
	"testing"
)

func TestSorterMatchesStableSort(t *testing.T) {
	for _, tc := range []struct {
		rows   int
		memory int64
	}{{0, 1 << 20}, {1, 1 << 20}, {500, 1 << 20}, {20000, 64 << 10}, {20000, 300 << 10}, {300000, 64 << 10}} {
		t.Run(fmt.Sprintf("%d rows %d bytes", tc.rows, tc.memory), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(tc.rows), 7))
			var in [][]string
			for i := range tc.rows {
				// few distinct keys so that ties are common; awkward bytes included
				k := fmt.Sprintf("web/packages/%c/%d", "a-/_.Z\xff,"[rng.IntN(8)], rng.IntN(50))
				in = append(in, []string{k, fmt.Sprint(i), "x\n\"y\""})
			}
			before := runtime.NumGoroutine()
			s := NewSorter(t.TempDir(), tc.memory, 3, 0)
			for _, r := range in {
				if err := s.Add(r); err != nil {
					t.Fatal(err)
				}
			}
			spilled := len(s.runs)
			rr, err := s.Sort()
			if err != nil {
				t.Fatal(err)
			}
			if len(s.runs) > defaultFanIn {
				t.Errorf("%d runs spilled, %d merged at once: more than %d", spilled, len(s.runs), defaultFanIn)
			}
			if files, _ := os.ReadDir(s.runDir); s.runDir != "" && len(files) != len(s.runs) {
				t.Errorf("%d run files left for %d runs", len(files), len(s.runs))
			}
			var got [][]string
			for {
				row, err := rr.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, slices.Clone(row))
			}
			if err := rr.Close(); err != nil {
				t.Fatal(err)
			}
			want := slices.Clone(in)
			sort.SliceStable(want, func(i, j int) bool { return want[i][0] < want[j][0] })
			if !slices.EqualFunc(got, want, slices.Equal) {
				t.Fatalf("sorted output differs from a stable in-memory sort (%d runs)", len(s.runs))
			}
			if runtime.NumGoroutine() > before {
				t.Errorf("goroutines leaked: %d before, %d after", before, runtime.NumGoroutine())
			}
			if tc.memory < 1<<20 && tc.rows > 0 && spilled < 2 || tc.rows == 300000 && spilled <= defaultFanIn {
				t.Errorf("expected more runs with a small budget, got %d", spilled)
			}
		})
	}
}

// TestSorterHoldsWhatItSorts: a sorter of a few rows with a budget of
// 256 MiB holds a few MiB, not the budget: its arena is taken in chunks as
// rows arrive (it was one allocation of the whole budget, which plan's
// sorters made in every run, whatever the mirror's size), and a record
// larger than a chunk still sorts.
func TestSorterHoldsWhatItSorts(t *testing.T) {
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	s := NewSorter(t.TempDir(), 256<<20, 2, 0)
	defer s.Close()
	big := string(make([]byte, 3<<20))
	for i := range 5000 {
		v := "v"
		if i == 2500 {
			v = big
		}
		if err := s.Add([]string{fmt.Sprintf("k%05d", 5000-i), v}); err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&m1)
	if grew := int64(m1.TotalAlloc - m0.TotalAlloc); grew > 16<<20 {
		t.Errorf("5,000 small rows and one of 3 MiB took %d MiB", grew>>20)
	}
	rows, err := s.Sort()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for prev := ""; ; n++ {
		r, err := rows.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if r[0] < prev || (r[0] == "k02500") != (len(r[1]) == len(big)) {
			t.Fatalf("row %d: %q after %q, value of %d bytes", n, r[0], prev, len(r[1]))
		}
		prev = r[0]
	}
	if n != 5000 {
		t.Errorf("%d rows back", n)
	}
}

// TestMergeHoldsLittlePerRun: the final merge holds every run open at once,
// so what one open run holds is what plan's memory grows by with the size
// of the mirror (about 100 runs for all of the index at --memory 256MiB).
// It was 1.7 MiB (a 1 MiB zstd window and a 256 KiB read buffer): 170 MiB
// of buffers at full size, on top of the rest of plan; then 354 KiB (a
// 64 KiB zstd window, 64 KiB buffers). Runs are now S2 streams of 64 KiB
// blocks: 119 KiB.
func TestMergeHoldsLittlePerRun(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	s := NewSorter(t.TempDir(), 6<<20, 3, 0)
	for i := range 1_200_000 {
		row := []string{fmt.Sprintf("web/packages/%08x/%d", rng.Uint32(), i), fmt.Sprintf("%064x", rng.Uint64()),
			"https://files.example.invalid/packages/aa/bb/cccccccccccccc/some-project-1.2.3.tar.gz"}
		if err := s.Add(row); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.wait(); err != nil {
		t.Fatal(err)
	}
	runs := int64(len(s.runs) + 1) // and the one Sort spills
	if runs < 60 || runs > defaultFanIn {
		t.Fatalf("%d runs: the test wants many runs in one merge", runs)
	}
	var before, after runtime.MemStats
	s.cur, s.spare = nil, nil // (Sort drops the arenas too; here before measuring)
	runtime.GC()
	runtime.ReadMemStats(&before)
	rr, err := s.Sort()
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Close()
	s.cur, s.spare = nil, nil
	runtime.GC()
	runtime.ReadMemStats(&after)
	perRun := (int64(after.HeapInuse) - int64(before.HeapInuse)) / runs
	t.Logf("%d runs open: %d KiB each", runs, perRun>>10)
	if perRun > 256<<10 {
		t.Errorf("%d runs open: %d KiB each (%d MiB in all), want at most 256 KiB", runs, perRun>>10, perRun*runs>>20)
	}
	if row, err := rr.Next(); err != nil || len(row) != 3 {
		t.Fatalf("merge: %v %v", row, err)
	}
}

// TestSorterHoldsTheKeyOnce: a record holds the key field once (it held the
// key, then every field again, the key among them: plan's designated rows
// at 10,000 projects, 62 MB so, passed its 56 MiB arena and spilled two
// runs where round 2's rows had fit). Rows whose bytes fit the arena once,
// but not with their key twice, sort in memory, by a field other than the
// first, through a prefix of the caller's, and come back whole.
func TestSorterHoldsTheKeyOnce(t *testing.T) {
	const rows = 1000
	rng := rand.New(rand.NewPCG(3, 4))
	in := make([][]string, rows)
	for i := range in {
		key := fmt.Sprintf("%c%0999d", "ab\xff"[rng.IntN(3)], rng.IntN(100)) // 1,000 bytes, ties common
		in[i] = []string{fmt.Sprint(i), key, "x\n\"y\""}
	}
	// two arenas of 1.75 MiB each, 1.53 MiB of records: the rows take
	// ~1.02 MB with their key once, ~2.02 MB with it twice
	s := NewSorter(t.TempDir(), 3584<<10, 3, 1).WithPrefix(func(k string) uint64 { return uint64(k[0]) })
	for _, r := range in {
		if err := s.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	if len(s.runs) != 0 {
		t.Errorf("%d runs spilled: %d rows of 1,014 bytes did not fit 1.53 MiB", len(s.runs), rows)
	}
	rr, err := s.Sort()
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Close()
	var got [][]string
	for {
		row, err := rr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, slices.Clone(row))
	}
	want := slices.Clone(in)
	sort.SliceStable(want, func(i, j int) bool { return want[i][1] < want[j][1] })
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatal("sorted output differs from a stable in-memory sort by the second field")
	}
}

// TestSorterSpillsRowsWhole: rows sorted by their last field through runs
// (the key is stored apart from the other fields in a run too) come back
// whole and in order, ties in input order.
func TestSorterSpillsRowsWhole(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var in [][]string
	for i := range 30000 {
		in = append(in, []string{fmt.Sprint(i), "", fmt.Sprintf("k%d", rng.IntN(300))})
	}
	s := NewSorter(t.TempDir(), 64<<10, 3, 2)
	for _, r := range in {
		if err := s.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	rr, err := s.Sort()
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Close()
	if len(s.runs) < 2 {
		t.Fatalf("%d runs: the test wants a merge", len(s.runs))
	}
	var got [][]string
	for {
		row, err := rr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, slices.Clone(row))
	}
	want := slices.Clone(in)
	sort.SliceStable(want, func(i, j int) bool { return want[i][2] < want[j][2] })
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatal("sorted output differs from a stable in-memory sort by the third field")
	}
}

// TestSorterSizeHintMakesTheIndexOnce: with a hint of the rows to come
// (sync upstream's last count), adding them allocates the index once
// instead of growing it by copying; a hint too small or too large for the
// budget still sorts every row as without one.
func TestSorterSizeHintMakesTheIndexOnce(t *testing.T) {
	const n = 10000
	rng := rand.New(rand.NewPCG(3, 5))
	in := make([][]string, n)
	for i := range in {
		in[i] = []string{fmt.Sprintf("proj-%07d", rng.IntN(1e7)), "Name", fmt.Sprint(i)}
	}
	fill := func(hint int, memory int64) *Sorter {
		s := NewSorter(t.TempDir(), memory, 3, 0)
		if hint >= 0 {
			s.WithSizeHint(hint)
		}
		for _, r := range in {
			if err := s.Add(r); err != nil {
				t.Fatal(err)
			}
		}
		return s
	}
	sortAll := func(hint int, memory int64) (allocs float64, out [][]string) {
		allocs = testing.AllocsPerRun(3, func() {
			if err := fill(hint, memory).Close(); err != nil {
				t.Fatal(err)
			}
		})
		rr, err := fill(hint, memory).Sort()
		if err != nil {
			t.Fatal(err)
		}
		defer rr.Close()
		for {
			row, err := rr.Next()
			if err == io.EOF {
				return allocs, out
			}
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, slices.Clone(row))
		}
	}
	plain, want := sortAll(-1, 4<<20)
	hinted, got := sortAll(n+n/64+64, 4<<20)
	if hinted > plain-5 {
		t.Errorf("adding %d rows with a size hint took %.0f allocations, without one %.0f: the index still grows", n, hinted, plain)
	}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatal("rows sorted with a size hint differ from those sorted without one")
	}
	for _, c := range []struct {
		hint   int
		memory int64
	}{{10, 4 << 20}, {1 << 30, 4 << 20}, {n, 64 << 10}} {
		if _, got := sortAll(c.hint, c.memory); !slices.EqualFunc(got, want, slices.Equal) {
			t.Fatalf("hint %d, budget %d: the rows sorted differ from those sorted without a hint", c.hint, c.memory)
		}
	}
}
