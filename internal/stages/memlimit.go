package stages

import (
	"math"
	"runtime/debug"
	"slices"
	"sync"
)

// holdHeap sets the runtime's soft memory limit to limit bytes while a
// stage runs, and returns what lifts it again. The limit counts all the
// memory the Go runtime holds (heap, the free memory it has not returned
// yet, stacks, its own metadata), not the binary's code: with it a
// stage's resident memory stays near its budget whatever the mirror's
// size, because the collector runs earlier and the free memory goes back
// to the system sooner instead of the heap growing with what the stage
// read. Without it the peaks followed the mirror: scan metadata 113 / 119
// / 127 MiB and plan 127 / 139 / 149 MiB at 1% / 10% / 100% of PyPI.
//
// A lower limit already in force (GOMEMLIMIT, or a stage running beside
// this one) is kept; holds may overlap (tests run stages side by side):
// the lowest held limit applies, and the last one out restores the limit
// that was set before the first.
func holdHeap(limit int64) (release func()) {
	limitMu.Lock()
	defer limitMu.Unlock()
	if len(limitHeld) == 0 {
		limitBefore = debug.SetMemoryLimit(-1)
	}
	limitHeld = append(limitHeld, limit)
	applyHeldLimit()
	var once sync.Once
	return func() {
		once.Do(func() {
			limitMu.Lock()
			defer limitMu.Unlock()
			i := slices.Index(limitHeld, limit)
			limitHeld = slices.Delete(limitHeld, i, i+1)
			applyHeldLimit()
		})
	}
}

var (
	limitMu     sync.Mutex
	limitHeld   []int64 // the limits of the stages holding one
	limitBefore int64   // the limit before the first hold
)

// applyHeldLimit sets the lowest of the held limits and the one before;
// the one before when none is held. Called with limitMu held.
func applyHeldLimit() {
	l := limitBefore
	for _, h := range limitHeld {
		if h > 0 {
			l = min(l, h)
		}
	}
	if l <= 0 {
		l = math.MaxInt64
	}
	debug.SetMemoryLimit(l)
}
