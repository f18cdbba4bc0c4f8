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

// arenaBytes is what the sorter's arenas and its free chunks hold.
func arenaBytes(s *Sorter) int {
	n := 0
	for _, b := range []*sortBuf{s.cur, s.spare, s.inflight} {
		if b != nil {
			for _, c := range b.chunks {
				n += cap(c)
			}
		}
	}
	for _, c := range s.free {
		n += cap(c)
	}
	return n
}

// TestSorterArenasSharePool: the two arenas share a pool a quarter larger
// than one arena, so a sort of many runs holds little more than one run's
// records. With an arena each (kept full for the next fill), a sort held
// twice a run from its second run on, and plan's peak grew from 142 MiB at
// 1% of the index (one arena and a bit) to 204 MiB at 10% (two). Rows are
// added while a run is written, and wait for its chunks only once the
// pool is spent.
func TestSorterArenasSharePool(t *testing.T) {
	const memory = 16 << 20
	rng := rand.New(rand.NewPCG(7, 8))
	var in [][]string
	s := NewSorter(t.TempDir(), memory, 3, 0)
	defer s.Close()
	most, data := 0, 0
	for i := range 100_000 { // ~40 MB of records: some five runs
		row := []string{fmt.Sprintf("web/packages/%08x/%d", rng.Uint32(), i), fmt.Sprint(i), fmt.Sprintf("https://files.example.invalid/packages/aa/bb/%0300x/some-project-1.2.3.tar.gz", i)}
		in = append(in, row)
		data += len(row[0]) + len(row[1]) + len(row[2]) + 2
		if err := s.Add(row); err != nil {
			t.Fatal(err)
		}
		most = max(most, arenaBytes(s))
	}
	if err := s.wait(); err != nil {
		t.Fatal(err)
	}
	open := 0 // the records of the arena still filling
	for _, c := range s.cur.chunks {
		open += len(c)
	}
	runs := len(s.runs)
	perRun := (data - open) / runs
	t.Logf("%d MB of records in %d runs (%d KiB each); arenas held at most %d KiB, the sorter says %d KiB", data>>20, runs, perRun>>10, most>>10, s.PeakHeld()>>10)
	if runs < 4 {
		t.Fatalf("%d runs: the test wants many", runs)
	}
	if most > memory*3/4+arenaChunk {
		t.Errorf("arenas held %d KiB at once, want at most the pool (%d KiB) and a chunk", most>>10, memory*3/4>>10)
	}
	if most*4 > perRun*6 {
		t.Errorf("arenas held %d KiB for runs of %d KiB: want at most 1.5 times a run (two arenas of their own held 2)", most>>10, perRun>>10)
	}
	if int(s.PeakHeld()) != most {
		t.Errorf("PeakHeld says %d, the arenas held %d", s.PeakHeld(), most)
	}
	rr, err := s.Sort()
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Close()
	want := slices.Clone(in)
	sort.SliceStable(want, func(i, j int) bool { return want[i][0] < want[j][0] })
	for i := 0; ; i++ {
		row, err := rr.Next()
		if err == io.EOF {
			if i != len(want) {
				t.Fatalf("%d rows back of %d", i, len(want))
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(row, want[i]) {
			t.Fatalf("row %d: %q, want %q", i, row, want[i])
		}
	}
}

// TestSortMergesDownToItsFanIn: a sorter whose rows are read through a long
// stage keeps few runs open (scan metadata's listing of all of upstream
// spilled about 50, whose readers held 37 MiB through the whole scan): Sort
// merges the first runs into one until the fan-in is left, and leaves the
// other runs' files as they were (a merge reads and writes again only the
// runs it must). Equal keys keep their input order.
func TestSortMergesDownToItsFanIn(t *testing.T) {
	for _, tc := range []struct{ fanIn int }{{4}, {8}} {
		t.Run(fmt.Sprint(tc.fanIn), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(9, 10))
			var in [][]string
			s := NewSorter(t.TempDir(), 1<<20, 2, 0).WithFanIn(tc.fanIn)
			defer s.Close()
			for i := range 200_000 {
				row := []string{fmt.Sprintf("k%05d", rng.IntN(50_000)), fmt.Sprintf("%d-%064x", i, rng.Uint64())}
				in = append(in, row)
				if err := s.Add(row); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.spill(); err != nil {
				t.Fatal(err)
			}
			if err := s.wait(); err != nil {
				t.Fatal(err)
			}
			runs := slices.Clone(s.runs)
			if len(runs) < 20 {
				t.Fatalf("%d runs: the test wants many", len(runs))
			}
			kept := map[string]os.FileInfo{}
			merged := len(runs) - tc.fanIn + 1
			for _, r := range runs[merged:] {
				fi, err := os.Stat(r)
				if err != nil {
					t.Fatal(err)
				}
				kept[r] = fi
			}
			var before, after runtime.MemStats
			s.dropArenas() // (Sort drops them too; here before measuring)
			runtime.GC()
			runtime.ReadMemStats(&before)
			rr, err := s.Sort()
			if err != nil {
				t.Fatal(err)
			}
			defer rr.Close()
			runtime.GC() // twice: what the merged runs held goes to the victim caches first
			runtime.GC()
			runtime.ReadMemStats(&after)
			m := rr.(*mergeRows)
			if len(m.all) != tc.fanIn {
				t.Errorf("%d runs open, want %d", len(m.all), tc.fanIn)
			}
			held := int64(after.HeapInuse) - int64(before.HeapInuse)
			t.Logf("%d runs, merged down to %d: the reader holds %d KiB", len(runs), len(m.all), held>>10)
			if held > int64(tc.fanIn)*(1<<20) {
				t.Errorf("the reader of %d runs holds %d KiB", tc.fanIn, held>>10)
			}
			for r, fi := range kept {
				now, err := os.Stat(r)
				if err != nil || !os.SameFile(fi, now) || now.ModTime() != fi.ModTime() {
					t.Errorf("run %s was rewritten (%v), want only the first %d merged", r, err, merged)
				}
			}
			want := slices.Clone(in)
			sort.SliceStable(want, func(i, j int) bool { return want[i][0] < want[j][0] })
			for i := 0; ; i++ {
				row, err := rr.Next()
				if err == io.EOF {
					if i != len(want) {
						t.Fatalf("%d rows back of %d", i, len(want))
					}
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(row, want[i]) {
					t.Fatalf("row %d: %q, want %q (equal keys in input order)", i, row, want[i])
				}
			}
		})
	}
}

// TestMergeDownKeepsToItsWidth: merging many runs down to a few opens no
// more of them at once than the sorter's merge width. Scan upstream's sort
// of 4 MiB makes some 80 runs of all of upstream's names: merged down to
// four in one merge of 77, its readers held 9 MiB (about 120 KiB each),
// twice the budget. The rows come out sorted, all of them, equal keys in
// input order.
func TestMergeDownKeepsToItsWidth(t *testing.T) {
	const memory, rows, width = 4 << 20, 700_000, 32
	s := NewSorter(t.TempDir(), memory, 2, 0).WithFanIn(4).WithMergeWidth(width)
	defer s.Close()
	r := rand.New(rand.NewPCG(1, 2))
	for i := range rows {
		if err := s.Add([]string{fmt.Sprintf("k%06d", r.IntN(rows/2)), fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	runs := len(s.runs)
	sorted, err := s.Sort()
	if err != nil {
		t.Fatal(err)
	}
	defer sorted.Close()
	n, prevKey, prevSeq := 0, "", -1
	for {
		row, err := sorted.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var seq int
		fmt.Sscan(row[1], &seq)
		if row[0] < prevKey || row[0] == prevKey && seq < prevSeq {
			t.Fatalf("row %d: %v after %s %d", n, row, prevKey, prevSeq)
		}
		prevKey, prevSeq = row[0], seq
		n++
	}
	if n != rows {
		t.Fatalf("%d rows out, want %d", n, rows)
	}
	if runs < 2*width {
		t.Fatalf("only %d runs: the test needs more than twice the width", runs)
	}
	t.Logf("%d runs, merged at most %d at once", runs, s.widest)
	if s.widest > width {
		t.Errorf("%d runs merged down with up to %d open at once, want at most %d", runs, s.widest, width)
	}
}

// TestSortReadsMoreThan128RunsWhenAsked: a fan-in above defaultFanIn, for a
// sort whose arenas are let go before its final merge (plan's), reads all
// its runs at once instead of merging the first ones again. Capped at 128,
// plan's 175 runs at full size had 48 merged once more first (17 s of CPU).
func TestSortReadsMoreThan128RunsWhenAsked(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	s := NewSorter(t.TempDir(), 1<<20, 2, 0).WithFanIn(200)
	defer s.Close()
	const rows = 400_000
	for i := range rows {
		if err := s.Add([]string{fmt.Sprintf("k%05d", rng.IntN(50_000)), fmt.Sprintf("%d-%064x", i, rng.Uint64())}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.spill(); err != nil {
		t.Fatal(err)
	}
	if err := s.wait(); err != nil {
		t.Fatal(err)
	}
	runs := len(s.runs)
	rr, err := s.Sort()
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Close()
	if runs <= defaultFanIn || runs > 200 {
		t.Fatalf("%d runs: the test wants between %d and 200", runs, defaultFanIn+1)
	}
	if s.widest != 0 || len(rr.(*mergeRows).all) != runs {
		t.Errorf("%d runs: %d merged first (at most %d at once), %d read by the final merge; want none merged first", runs, runs-len(rr.(*mergeRows).all), s.widest, len(rr.(*mergeRows).all))
	}
	n, prev := 0, ""
	for {
		row, err := rr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if row[0] < prev {
			t.Fatalf("row %d: %q after %q", n, row[0], prev)
		}
		prev = row[0]
		n++
	}
	if n != rows {
		t.Fatalf("%d rows out, want %d", n, rows)
	}
}
