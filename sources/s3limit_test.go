package sources

import (
	"context"
	"testing"
	"time"
)

// The window halves on a SlowDown, once for a burst, and grows back by
// about one per window of successes up to its cap; acquire waits for room.
func TestRequestWindowBacksOffAndRecovers(t *testing.T) {
	w := newRequestWindow(64)
	ctx := context.Background()
	for range 3 { // one burst of refusals
		if err := w.acquire(ctx); err != nil {
			t.Fatal(err)
		}
		w.release(true)
	}
	if got := w.Window(); got != 32 {
		t.Fatalf("after a burst of SlowDown the window is %d, want 32", got)
	}
	for range 32 * 3 {
		_ = w.acquire(ctx)
		w.release(false)
	}
	if got := w.Window(); got < 34 || got > 36 {
		t.Fatalf("after 96 successes the window is %d, want about 35", got)
	}
	for range 10000 {
		_ = w.acquire(ctx)
		w.release(false)
	}
	if got := w.Window(); got != 64 {
		t.Fatalf("the window grew to %d, past or short of its cap 64", got)
	}

	one := newRequestWindow(1)
	_ = one.acquire(ctx)
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := one.acquire(short); err == nil {
		t.Fatal("a full window let a second request in")
	}
	one.release(false)
	if err := one.acquire(ctx); err != nil {
		t.Fatalf("a freed window: %v", err)
	}
}
