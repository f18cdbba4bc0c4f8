package stages

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/bandercheck/bandercheck/internal/synth"
	"github.com/bandercheck/bandercheck/pipeline"
)

// TestPlanHeapStaysCloseToWhatItHolds: plan's peak is the garbage its
// decoding makes on top of what it holds (the sort arenas, full from a few
// percent of the index up): the collector's headroom over the live heap
// is most of the difference between plan's peak and its sort budget. At
// GOGC 40 the heap here reached 1.40–1.43 times the live heap (and plan
// alone peaked at 213 MiB at 10% of the index); at 20, 1.21–1.22 (188 MiB,
// for the same CPU). The heap is sampled while plan runs, against the live
// heap of the last collection, once that is over 24 MiB (below, the
// runtime's fixed part weighs in). Not parallel: the heap is the process's.
func TestPlanHeapStaysCloseToWhatItHolds(t *testing.T) {
	m, err := synth.New(synth.Config{Seed: 3, Projects: 3000, MedianSize: 2000, MaxSize: 64 << 10, Missing: 0.01, Orphan: 0.01})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := synth.Start(m, "mirror", "", "")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	dir := t.TempDir()
	conf := filepath.Join(dir, "b.conf")
	if err := os.WriteFile(conf, []byte("[mirror]\njson = true\n[s3]\naws_access_key_id = synth\naws_secret_access_key = synth\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	g := &Env{Mirror: Location{Bucket: "mirror"}, Config: conf, S3Endpoint: srv.S3URL, S3PathStyle: true,
		State: filepath.Join(dir, "state"), Progress: "never", Stdout: io.Discard, Stderr: io.Discard}
	ctx := context.Background()
	if _, err := (&ScanStorageOptions{Jobs: 4}).Run(ctx, g); err != nil {
		t.Fatal(err)
	}
	if _, err := (&ScanMetadataOptions{Jobs: 4}).Run(ctx, g); err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	samples := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/gc/heap/live:bytes"}, {Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(samples)
	cycles0 := samples[2].Value.Uint64()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var worst float64
	var worstHeap, worstLive uint64
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			metrics.Read(samples)
			heap, live := samples[0].Value.Uint64(), samples[1].Value.Uint64()
			if live > 24<<20 && samples[2].Value.Uint64() > cycles0 { // a collection of plan's own
				if r := float64(heap) / float64(live); r > worst {
					worst, worstHeap, worstLive = r, heap, live
				}
			}
			time.Sleep(50 * time.Microsecond)
		}
	})
	opt := DefaultPlanOptions()
	opt.Grace, opt.MaxRemoveProjects = 0, Limit{Percent: 100, IsPct: true}
	sum, err := opt.plan(ctx, g)
	close(stop)
	wg.Wait()
	var refused *pipeline.RefusedError
	if err != nil && !errors.As(err, &refused) {
		t.Fatal(err)
	}
	metrics.Read(samples)
	t.Logf("%d designated files, %d collections; heap at most %.2f times the live heap (%d of %d bytes)",
		sum.Join.Designated.Files, samples[2].Value.Uint64()-cycles0, worst, worstHeap, worstLive)
	if samples[2].Value.Uint64()-cycles0 < 5 {
		t.Fatalf("plan collected %d times: too few to see its headroom", samples[2].Value.Uint64()-cycles0)
	}
	if worst > 1.3 {
		t.Errorf("plan's heap reached %.2f times its live heap (%d of %d bytes): want at most 1.3 (GOGC 20 and the runtime's slack; at GOGC 40, 1.40–1.43)", worst, worstHeap, worstLive)
	}
}
