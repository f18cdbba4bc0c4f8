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
// collected twice in a 60 ms crash run.
func lowerGCPercent(percent int) (restore func()) {
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
// often as before. It acts only when the target is the default 100 and the
// environment sets no GOGC (an operator's GOGC, GOGC=off, or a stage's
// lower target is kept). Calls may overlap (tests run syncs side by side):
// the first sets the floor, the last restores the target.
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
		floorTuner = &gcTuner{floor: floor}
		floorTuner.set = floorTuner.percent()
		debug.SetGCPercent(floorTuner.set)
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
	set     int  // the target it set last; guarded by floorMu
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
// one until the tuner is stopped. A target it did not set (a stage's own
// lower one, from lowerGCPercent, inside a sync) is left in force; the
// tuner takes over again once the stage restores the tuner's.
func (t *gcTuner) arm() {
	runtime.SetFinalizer(&gcSentinel{t: t}, func(s *gcSentinel) {
		floorMu.Lock()
		defer floorMu.Unlock()
		if s.t.stopped {
			return
		}
		s.t.turns++
		want := s.t.percent()
		if cur := debug.SetGCPercent(want); cur != s.t.set {
			debug.SetGCPercent(cur)
		} else {
			s.t.set = want
		}
		s.t.arm()
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
	return floorGCPercent(live, t.floor)
}

// floorGCPercent is the GOGC whose heap goal is floor for a live heap of
// live bytes, and 100 (twice the live heap) once that is more than floor.
// The runtime's goal is the larger of live*(1+GOGC/100) and 4 MB*GOGC/100,
// so the target is also bounded by floor/4 MB.
func floorGCPercent(live, floor uint64) int {
	const minHeap = 4 << 20
	p := uint64(100) * floor / minHeap
	if live > 0 {
		p = min(p, 100*(floor-min(live, floor))/live)
	}
	return int(max(p, 100))
}
