package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/bandercheck/bandercheck/internal/store"
)

// TestBuffersAreSizedAndBounded: a slice is as long as asked, its capacity
// the power of two above (4 KiB at least), and a Get that would pass the
// bound waits until enough is given back: here until its context ends.
func TestBuffersAreSizedAndBounded(t *testing.T) {
	b := store.NewBuffers(64 << 10)
	ctx := context.Background()
	for _, c := range []struct{ n, cap int }{{1, 4 << 10}, {4 << 10, 4 << 10}, {5000, 8 << 10}, {40 << 10, 64 << 10}} {
		p, err := b.Get(ctx, c.n)
		if err != nil {
			t.Fatal(err)
		}
		if len(*p) != c.n || cap(*p) != c.cap {
			t.Errorf("Get(%d): len %d cap %d, want cap %d", c.n, len(*p), cap(*p), c.cap)
		}
		b.Put(p)
	}
	held, err := b.Get(ctx, 40<<10) // 64 KiB counted: the whole bound
	if err != nil {
		t.Fatal(err)
	}
	waiting, cancel := context.WithCancel(ctx)
	got := make(chan error)
	go func() {
		p, err := b.Get(waiting, 1)
		if err == nil {
			b.Put(p)
		}
		got <- err
	}()
	cancel()
	if err := <-got; !errors.Is(err, context.Canceled) {
		t.Fatalf("a Get past the bound returned %v, want it to wait until its context ended", err)
	}
	b.Put(held)
	p, err := b.Get(ctx, 60<<10)
	if err != nil {
		t.Fatalf("after the Put: %v", err)
	}
	b.Put(p)
	// a slice larger than the bound is lent alone
	big, err := b.Get(ctx, 1<<20)
	if err != nil || len(*big) != 1<<20 {
		t.Fatalf("a slice larger than the bound: %v", err)
	}
	b.Put(big)
}
