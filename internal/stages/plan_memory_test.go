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
// heap of the last collection, once that is over 32 MiB (below, the
// runtime's fixed part weighs in); the assertion is on the collector's
// goal, which the sampled heap follows. Not parallel: the heap is the
// process's.
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
	samples := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/gc/heap/live:bytes"}, {Name: "/gc/cycles/total:gc-cycles"}, {Name: "/gc/heap/goal:bytes"}}
	metrics.Read(samples)
	cycles0 := samples[2].Value.Uint64()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var worst, worstGoal float64
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
			if live > 32<<20 && samples[2].Value.Uint64() > cycles0 { // a collection of plan's own
				if r := float64(heap) / float64(live); r > worst {
					worst, worstHeap, worstLive = r, heap, live
				}
				worstGoal = max(worstGoal, float64(samples[3].Value.Uint64())/float64(live))
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
	t.Logf("%d designated files, %d collections; heap goal at most %.2f times the live heap, the heap %.2f (%d of %d bytes)",
		sum.Join.Designated.Files, samples[2].Value.Uint64()-cycles0, worstGoal, worst, worstHeap, worstLive)
	if samples[2].Value.Uint64()-cycles0 < 5 {
		t.Fatalf("plan collected %d times: too few to see its headroom", samples[2].Value.Uint64()-cycles0)
	}
	// the goal, not the sampled heap, is compared: the heap overshoots its
	// goal by what is allocated while a collection marks, which depends on
	// the load (1.20–1.32 at GOGC 20 on a busy machine)
	if worstGoal > 1.3 {
		t.Errorf("plan's heap goal reached %.2f times its live heap: want at most 1.3 (GOGC 20 and the runtime's fixed part; at GOGC 40, 1.4 and more)", worstGoal)
	}
}
