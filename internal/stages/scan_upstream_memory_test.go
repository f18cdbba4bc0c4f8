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
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", sources.SimpleJSONType)
		bw := bufio.NewWriter(w)
		io.WriteString(bw, `{"meta":{"api-version":"1.1","_last-serial":9000000},"projects":[`)
		for i := range names {
			if i > 0 {
				bw.WriteByte(',')
			}
			// a spread of first letters, out of order, as upstream's are
			fmt.Fprintf(bw, `{"name":"Project_%07d-x","_last-serial":%d}`, (i*7919)%names, 1000+i)
		}
		io.WriteString(bw, "]}")
		bw.Flush()
	}))
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
	m, err := pipeline.NewState(g.State).Manifest("upstream")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	n, prev := 0, ""
	for ; ; n++ {
		row, err := m.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if row[0] <= prev {
			t.Fatalf("row %d: %q after %q", n, row[0], prev)
		}
		prev = row[0]
	}
	if n != names {
		t.Errorf("%d names in the manifest, want %d", n, names)
	}
}
