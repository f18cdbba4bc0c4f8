package stages

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

// gcPercent is the collector's target now (-1: off).
func gcPercent() int {
	p := debug.SetGCPercent(-1)
	debug.SetGCPercent(p)
	return p
}

// TestStagesOnlyLowerTheGCTarget: a stage lowers the collector's target
// (scan storage to 60, plan and report to 40) but keeps a lower one, and
// keeps GOGC=off off: a listing scan with the collector off collected
// twice in a 60 ms crash run. Not parallel: the target is the process's.
func TestStagesOnlyLowerTheGCTarget(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	for _, c := range []struct{ before, during int }{{-1, -1}, {20, 20}, {60, 60}, {100, 60}, {400, 60}} {
		debug.SetGCPercent(c.before)
		restore := lowerGCPercent(60)
		if got := gcPercent(); got != c.during {
			t.Errorf("GOGC=%d: %d during the stage, want %d", c.before, got, c.during)
		}
		restore()
		if got := gcPercent(); got != c.before {
			t.Errorf("GOGC=%d: %d after the stage", c.before, got)
		}
	}

	files := map[string]string{}
	for i := range 600 {
		files[fmt.Sprintf("web/packages/%02x/%02x/p%d/p%d-1.0.tar.gz", i%256, i/256, i, i)] = fmt.Sprint(i)
	}
	f := newFixture(t, files)
	runtime.GC()
	debug.SetGCPercent(-1)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, err := (&ScanStorageOptions{Jobs: 2, Hash: HashContent}).Run(f.ctx, f.env); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if n := (after.NumGC - after.NumForcedGC) - (before.NumGC - before.NumForcedGC); n != 0 {
		t.Errorf("scan storage --hash collected %d times with the collector off (%d MiB allocated)", n, (after.TotalAlloc-before.TotalAlloc)>>20)
	}
	if got := gcPercent(); got != -1 {
		t.Errorf("the collector is at %d after the scan, want off", got)
	}
}

// TestFloorGCPercent: the target whose heap goal is the floor for a small
// live heap, and GOGC=100 once the live heap is half the floor or more.
func TestFloorGCPercent(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		live uint64
		want int
	}{{0, 1200}, {2 * mib, 1200}, {8 * mib, 500}, {16 * mib, 200}, {24 * mib, 100}, {40 * mib, 100}, {400 * mib, 100}} {
		if got := floorGCPercent(c.live, 48*mib, 100); got != c.want {
			t.Errorf("live %d MiB: GOGC %d, want %d", c.live/mib, got, c.want)
		}
	}
	// a stage's pace of 25: the floor below it, 25 once live*1.25 passes it
	for _, c := range []struct {
		live uint64
		want int
	}{{2 * mib, 1200}, {24 * mib, 100}, {32 * mib, 50}, {40 * mib, 25}, {400 * mib, 25}} {
		if got := floorGCPercent(c.live, 48*mib, 25); got != c.want {
			t.Errorf("pace 25, live %d MiB: GOGC %d, want %d", c.live/mib, got, c.want)
		}
	}
}

// TestHeapFloorSparesShortRuns: under heapFloor, 24 MB of garbage on a
// small live heap is not collected at all (at GOGC=100 it is, several
// times); a live heap above the floor is collected at GOGC=100 again after
// the next collection; an operator's GOGC and a stage's lower target are
// kept; overlapping calls restore the default only when the last ends.
// Not parallel: the target is the process's.
func TestHeapFloorSparesShortRuns(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	t.Setenv("GOGC", "")
	garbage := func() uint32 { // collections while 24 MB are allocated and dropped
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range 24 << 10 {
			sink = make([]byte, 1024)
		}
		runtime.ReadMemStats(&after)
		return (after.NumGC - after.NumForcedGC) - (before.NumGC - before.NumForcedGC)
	}
	runtime.GC()
	if n := garbage(); n == 0 {
		t.Fatalf("at GOGC=100, 24 MB of garbage were never collected: the test proves nothing here")
	}
	runtime.GC()
	restore := heapFloor(128 << 20)
	if n := garbage(); n != 0 {
		t.Errorf("under a 128 MiB floor, 24 MB of garbage were collected %d times", n)
	}
	restore2 := heapFloor(128 << 20) // a second sync at once
	restore()
	if p := gcPercent(); p <= 100 {
		t.Errorf("GOGC %d while a second sync still runs", p)
	}

	// a live heap of 160 MiB: the next collection sets GOGC=100 again
	live := make([][]byte, 160)
	for i := range live {
		live[i] = make([]byte, 1<<20)
	}
	runtime.GC()
	deadline := time.Now().Add(5 * time.Second)
	for gcPercent() != 100 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond) // the finalizer runs after the collection
	}
	if p := gcPercent(); p != 100 {
		t.Errorf("with 160 MiB live over a 128 MiB floor, GOGC is %d, want 100", p)
	}
	runtime.KeepAlive(live)
	live = nil
	restore2()
	if p := gcPercent(); p != 100 {
		t.Errorf("GOGC %d after both syncs, want 100", p)
	}

	for _, c := range []struct {
		env    string
		before int
	}{{"50", 100}, {"off", -1}, {"", 60}, {"", -1}} {
		t.Setenv("GOGC", c.env)
		debug.SetGCPercent(c.before)
		restore := heapFloor(128 << 20)
		if p := gcPercent(); p != c.before {
			t.Errorf("GOGC=%q, target %d: %d under heapFloor, want it kept", c.env, c.before, p)
		}
		restore()
		if p := gcPercent(); p != c.before {
			t.Errorf("GOGC=%q, target %d: %d after heapFloor", c.env, c.before, p)
		}
	}
}

var sink []byte

// TestHeapFloorTakesAStagesLowerPace: inside a sync, a stage that lowers
// the target (sync upstream's writeUpstream to 25) sets the pace above the
// heap floor: a small heap is still not collected below the floor, and a
// live heap above it is collected at the stage's 25, not at 100, until the
// stage ends. Before, the floor's tuner set its own target back after the
// next collection (800 on a small heap: the stage's low target was lost).
func TestHeapFloorTakesAStagesLowerPace(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	t.Setenv("GOGC", "")
	runtime.GC() // the live heap as of now, not an earlier test's
	restoreFloor := heapFloor(syncHeapFloor)
	defer restoreFloor()
	floorMu.Lock()
	tuner := floorTuner
	floorMu.Unlock()
	collect := func() { // a collection, and the tuner's turn after it
		t.Helper()
		floorMu.Lock()
		before := tuner.turns
		floorMu.Unlock()
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			runtime.GC()
			time.Sleep(time.Millisecond)
			floorMu.Lock()
			n := tuner.turns
			floorMu.Unlock()
			if n > before {
				return
			}
		}
		t.Fatal("the tuner never ran after a collection")
	}
	restoreStage := lowerGCPercent(25)
	collect()
	if p := gcPercent(); p <= 100 {
		t.Errorf("a small heap under the floor, in a stage of pace 25: GOGC %d, want the floor's (above 100)", p)
	}
	live := make([][]byte, 160) // 160 MiB live, five times the floor
	for i := range live {
		live[i] = make([]byte, 1<<20)
	}
	for range 3 {
		collect()
		if p := gcPercent(); p != 25 {
			t.Fatalf("160 MiB live in a stage of pace 25: GOGC %d after a collection, want 25", p)
		}
	}
	restoreStage()
	collect()
	if p := gcPercent(); p != 100 {
		t.Errorf("160 MiB live after the stage: GOGC %d, want 100", p)
	}
	runtime.KeepAlive(live)
}
