package stages

import (
	"math"
	"runtime/debug"
	"testing"
)

// TestHoldHeapKeepsTheLowestLimitAndRestoresTheFirst: holds overlap as
// stages run side by side; the lowest held limit applies, a lower limit
// set before (GOMEMLIMIT) is kept, and the last release restores it.
func TestHoldHeapKeepsTheLowestLimitAndRestoresTheFirst(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(before)
	debug.SetMemoryLimit(math.MaxInt64)
	a := holdHeap(100 << 20)
	if got := debug.SetMemoryLimit(-1); got != 100<<20 {
		t.Fatalf("one hold of 100 MiB: limit %d", got)
	}
	b := holdHeap(40 << 20)
	if got := debug.SetMemoryLimit(-1); got != 40<<20 {
		t.Fatalf("holds of 100 and 40 MiB: limit %d, want the lower", got)
	}
	b()
	b() // a second release is a no-op
	if got := debug.SetMemoryLimit(-1); got != 100<<20 {
		t.Fatalf("after the 40 MiB hold ended: limit %d, want 100 MiB", got)
	}
	c := holdHeap(200 << 20)
	a() // released out of order: the 200 MiB hold is left
	if got := debug.SetMemoryLimit(-1); got != 200<<20 {
		t.Fatalf("the 200 MiB hold alone: limit %d", got)
	}
	c()
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Fatalf("after every hold: limit %d, want none (as before)", got)
	}
	debug.SetMemoryLimit(64 << 20) // an operator's GOMEMLIMIT
	d := holdHeap(100 << 20)
	if got := debug.SetMemoryLimit(-1); got != 64<<20 {
		t.Fatalf("GOMEMLIMIT 64 MiB and a hold of 100: limit %d, want 64 MiB", got)
	}
	d()
	if got := debug.SetMemoryLimit(-1); got != 64<<20 {
		t.Fatalf("after the hold: limit %d, want GOMEMLIMIT's 64 MiB back", got)
	}
}
