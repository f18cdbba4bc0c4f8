package stages

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/bandercheck/bandercheck/pipeline"
	"github.com/bandercheck/bandercheck/sources"
)

// TestScanUpstreamOfABigIndexHoldsLittle: scan upstream streams the index
// into a sort of a fixed small budget, so its heap does not follow the
// index's size. Its sort of 64 MiB held two arenas of 9 MiB each from 131k
// names up (resident memory 25 MiB at 1% of upstream's names, 37 at 10%,
// 72 at all 886k), and its collector at GOGC 100 doubled them. An index of
// 400,000 names (23 MB of JSON) is read here while the heap is sampled;
// the manifest must hold every name, sorted. Not parallel: the heap is the
// process's.
func TestScanUpstreamOfABigIndexHoldsLittle(t *testing.T) {
	const names = 400_000
	srv := indexServer(names)
	defer srv.Close()
	dir := t.TempDir()
	g := &Env{Mirror: Location{Path: dir}, State: filepath.Join(dir, "state"), Progress: "never", Stdout: io.Discard, Stderr: io.Discard}
	runtime.GC()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(sample)
	base := sample[0].Value.Uint64()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var most uint64
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Microsecond):
			}
			metrics.Read(sample)
			most = max(most, sample[0].Value.Uint64())
		}
	})
	err := (&ScanUpstreamOptions{Upstream: srv.URL, Timeout: time.Minute, Attempts: 1}).Run(context.Background(), g)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	grew := int64(most) - int64(base)
	t.Logf("heap at most %d MiB above the %d MiB before", grew>>20, base>>20)
	if grew > 20<<20 {
		t.Errorf("scan upstream of %d names: heap grew by %d MiB, want at most 20", names, grew>>20)
	}
	wantSortedUpstream(t, g.State, names)
}

// wantSortedUpstream fails unless STATE's upstream manifest holds n names,
// each once, in order.
func wantSortedUpstream(t *testing.T, state string, n int) {
	t.Helper()
	m, err := pipeline.NewState(state).Manifest("upstream")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	rows, prev := 0, ""
	for ; ; rows++ {
		row, err := m.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if row[0] <= prev {
			t.Fatalf("%d names: row %d: %q after %q", n, rows, row[0], prev)
		}
		prev = row[0]
	}
	if rows != n {
		t.Fatalf("%d names: %d rows in the manifest", n, rows)
	}
}

// indexServer serves an upstream index of n names, out of order (a spread
// of first letters, as upstream's are).
func indexServer(n int) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", sources.SimpleJSONType)
		bw := bufio.NewWriter(w)
		io.WriteString(bw, `{"meta":{"api-version":"1.1","_last-serial":9000000},"projects":[`)
		for i := range n {
			if i > 0 {
				bw.WriteByte(',')
			}
			fmt.Fprintf(bw, `{"name":"Project_%07d-x","_last-serial":%d}`, (i*7919)%n, 1000+i)
		}
		io.WriteString(bw, "]}")
		bw.Flush()
	}))
}

// TestScanUpstreamSortHoldsTheSameFrom1Percent: the sort of the names
// holds as much for 1% of upstream's names as for 10% and for 400,000 (in
// chunks of 1 MiB: within one), so scan upstream's memory does not grow
// with upstream. Its 16 MiB budget held one chunk at 1% and four from 10%
// up (with their indexes, 6 MiB more live heap: scan upstream alone was 24
// MiB resident at 1%, 31 at 10%, 35 at all of them). Nor do the runs it
// reads at once to merge them down (about OpenRunBytes each): no more for
// 400,000 names than for 88,632 (upstreamMergeWidth, 6); a width of the
// budget's worth (34) merged 6 at once at 10% and 34 from some 150,000
// names up (400,000 here: 37 runs; all 886k: some 80), 4 MiB of readers
// more.
func TestScanUpstreamSortHoldsTheSameFrom1Percent(t *testing.T) {
	sizes := []int{8_863, 88_632, 400_000}
	held, widest := map[int]int64{}, map[int]int{}
	for _, n := range sizes {
		srv := indexServer(n)
		dir := t.TempDir()
		g := &Env{Mirror: Location{Path: dir}, State: filepath.Join(dir, "state"), Progress: "never", Stdout: io.Discard, Stderr: io.Discard}
		_, use, err := sortUpstream(context.Background(), g, &http.Client{Timeout: time.Minute}, srv.URL, filepath.Join(dir, "tmp"), "scan upstream", pipeline.MustSpec("upstream"), 0)
		srv.Close()
		if err != nil {
			t.Fatal(err)
		}
		wantSortedUpstream(t, g.State, n)
		held[n] = use.held
		t.Logf("%d names: the sort's arenas held at most %d KiB; it merged at most %d runs at once", n, use.held>>10, use.widest)
		widest[n] = use.widest
	}
	if widest[400_000] > widest[88_632] {
		t.Errorf("the sort merged up to %d runs at once for 400,000 names, %d for 88,632: want no more than at 10%%", widest[400_000], widest[88_632])
	}
	least, most := held[sizes[0]], held[sizes[0]]
	for _, h := range held {
		least, most = min(least, h), max(most, h)
	}
	if most-least > 1<<20 {
		t.Errorf("the sort's arenas held %d KiB for 8,863 names, %d KiB for 88,632 and %d KiB for 400,000: want the same within one chunk (1 MiB)", held[8_863]>>10, held[88_632]>>10, held[400_000]>>10)
	}
}
