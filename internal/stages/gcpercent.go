package stages

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// lowerGCPercent sets the collector's target to percent for a stage that
// keeps its heap near its live set, and returns what restores the setting
// before it. A process already running with a lower target keeps it, and
// one running with the collector off (GOGC=off: an operator's choice for a
// short run, or a test's crash runs) keeps it off: the stage only ever
// lowers the target. It used to set percent whatever was set, so GOGC=off
// collected twice in a 60 ms crash run. Under a sync's heap floor the
// stage's target is the pace above the floor (see heapFloor).
func lowerGCPercent(percent int) (restore func()) {
	floorMu.Lock()
	if t := floorTuner; t != nil {
		old := t.pace
		t.pace = min(old, percent)
		debug.SetGCPercent(t.percent())
		floorMu.Unlock()
		return func() {
			floorMu.Lock()
			defer floorMu.Unlock()
			if floorTuner == t {
				t.pace = old
				debug.SetGCPercent(t.percent())
			}
		}
	}
	floorMu.Unlock()
	old := debug.SetGCPercent(percent)
	if old < 0 || old <= percent {
		debug.SetGCPercent(old)
	}
	return func() { debug.SetGCPercent(old) }
}

// syncHeapFloor is the heap below which a sync does not collect. An
// incremental sync of 1% of 10,000 projects allocates some 20 MB in all;
// from the runtime's 4 MB minimum at GOGC=100 it collected six times, and
// without them its CPU fell from 71 to 58 ms (mean of 10 runs). The initial
// sync of 10,000 projects with files peaked at 53-55 MiB RSS, from 48.
const syncHeapFloor = 32 << 20

// heapFloor makes the collector wait until the heap reaches floor, and
// keeps its usual pace (a goal of twice the live heap, GOGC=100) above it:
// after each collection the target is set again from the live heap, so a
// large live heap (a project document of tens of MB) is collected as
// often as before. A stage inside the sync that lowers the target
// (lowerGCPercent: sync upstream's 25) lowers that pace: its goal is
// live*(1+pace/100) above the floor, and still the floor below it. It acts
// only when the target is the default 100 and the environment sets no
// GOGC (an operator's GOGC, GOGC=off, or a lower target already set is
// kept). Calls may overlap (tests run syncs side by side): the first sets
// the floor, the last restores the target.
func heapFloor(floor uint64) (restore func()) {
	floorMu.Lock()
	defer floorMu.Unlock()
	if floorUsers == 0 {
		if os.Getenv("GOGC") != "" {
			return func() {}
		}
		if old := debug.SetGCPercent(100); old != 100 {
			debug.SetGCPercent(old)
			return func() {}
		}
		floorTuner = &gcTuner{floor: floor, pace: 100}
		debug.SetGCPercent(floorTuner.percent())
		floorTuner.arm()
	}
	floorUsers++
	var once sync.Once
	return func() {
		once.Do(func() {
			floorMu.Lock()
			defer floorMu.Unlock()
			if floorUsers--; floorUsers == 0 {
				floorTuner.stopped = true
				floorTuner = nil
				debug.SetGCPercent(100)
			}
		})
	}
}

var (
	floorMu    sync.Mutex
	floorUsers int
	floorTuner *gcTuner
)

// gcTuner sets the collector's target after each collection.
type gcTuner struct {
	floor   uint64
	pace    int  // the target above the floor: 100, or a stage's lower one; guarded by floorMu
	stopped bool // guarded by floorMu
	turns   int  // collections it has seen (for the tests); guarded by floorMu
}

// gcSentinel is garbage as soon as it is made: its finalizer runs after
// the next collection (it holds a pointer, so it is not a tiny object,
// whose finalizer may never run).
type gcSentinel struct {
	t *gcTuner
	_ [16]byte
}

// arm sets the target again after the next collection, and after each
// one until the tuner is stopped.
func (t *gcTuner) arm() {
	runtime.SetFinalizer(&gcSentinel{t: t}, func(s *gcSentinel) {
		floorMu.Lock()
		defer floorMu.Unlock()
		if !s.t.stopped {
			s.t.turns++
			debug.SetGCPercent(s.t.percent())
			s.t.arm()
		}
	})
}

// percent is the target for the live heap as of the last collection.
func (t *gcTuner) percent() int {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	var live uint64
	if s[0].Value.Kind() == metrics.KindUint64 {
		live = s[0].Value.Uint64()
	}
	return floorGCPercent(live, t.floor, t.pace)
}

// floorGCPercent is the GOGC whose heap goal is floor for a live heap of
// live bytes, and pace (GOGC=100: twice the live heap; a stage's lower
// target) once the live heap is large enough for that goal to pass floor.
// The runtime's goal is the larger of live*(1+GOGC/100) and 4 MB*GOGC/100,
// so the target is also bounded by floor/4 MB.
func floorGCPercent(live, floor uint64, pace int) int {
	const minHeap = 4 << 20
	p := uint64(100) * floor / minHeap
	if live > 0 {
		p = min(p, 100*(floor-min(live, floor))/live)
	}
	return max(int(p), pace)
}
