package stages

import (
	"runtime"
	"runtime/debug"
	"sync"
	"testing"
)

// TestResetPeakMemoryDropsPooledBuffers: what a stage left in a sync.Pool
// (scan metadata's document buffers, the zstd coders of its listing's
// merge) is gone from the heap once run resets the peak for the next
// stage. One collection (debug.FreeOSMemory alone) only moved it to the
// pool's victim cache, where it stayed resident and counted in the next
// stage's peak (scan upstream in run: 108 MiB at full size, 72 alone).
func TestResetPeakMemoryDropsPooledBuffers(t *testing.T) {
	var pool sync.Pool
	old := debug.SetGCPercent(-1) // no collection while the pool fills
	for range 32 {
		b := make([]byte, 1<<20)
		b[0] = 1
		pool.Put(&b)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	debug.SetGCPercent(old)
	resetPeakMemory()
	runtime.ReadMemStats(&after)
	if freed := int64(before.HeapAlloc) - int64(after.HeapAlloc); freed < 24<<20 {
		t.Errorf("the pool's 32 MiB: %d MiB freed by resetPeakMemory (heap %d -> %d MiB)", freed>>20, before.HeapAlloc>>20, after.HeapAlloc>>20)
	}
	runtime.KeepAlive(&pool)
}
