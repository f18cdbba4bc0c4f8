package s3store

import (
	"context"
	"sync"
	"sync/atomic"
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

// Under contention, with SlowDowns halving the window, no more requests than
// the cap are ever in flight and every waiter gets a place in the end: no
// wakeup is lost.
func TestRequestWindowUnderContention(t *testing.T) {
	w := newRequestWindow(8)
	var inFlight, most atomic.Int64
	var wg sync.WaitGroup
	for g := range 64 {
		wg.Go(func() {
			for i := range 200 {
				if err := w.acquire(context.Background()); err != nil {
					t.Error(err)
					return
				}
				n := inFlight.Add(1)
				for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
				}
				inFlight.Add(-1)
				w.release((g+i)%97 == 0)
			}
		})
	}
	wg.Wait()
	if most.Load() > 8 || most.Load() < 1 {
		t.Fatalf("at most %d in flight, cap 8", most.Load())
	}
}
