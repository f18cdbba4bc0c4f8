package store

import (
	"context"
	"math/bits"
	"sync"

	"golang.org/x/sync/semaphore"
)

// Buffers lends byte slices sized to what they will hold, rounded up to a
// power of two from 4 KiB, from one pool a size, and bounds the bytes lent
// at once: a borrower waits while the others hold the rest. Workers that each
// kept a buffer of the largest size (256 S3 requests in flight, each with a
// 1 MiB document buffer) made the peak RSS of a scan swing with how many
// were alive at once.
type Buffers struct {
	sem   *semaphore.Weighted
	total int64
	pools [classes]sync.Pool
}

const (
	minClassShift = 12 // 4 KiB
	classes       = 20 // up to 2 GiB
)

// NewBuffers lends at most total bytes at once.
func NewBuffers(total int64) *Buffers {
	return &Buffers{sem: semaphore.NewWeighted(total), total: total}
}

// class is the size class of n bytes: its slices hold 4 KiB << class.
func class(n int) int {
	if n <= 1<<minClassShift {
		return 0
	}
	return min(bits.Len(uint(n-1))-minClassShift, classes-1)
}

// weight is what a slice of capacity c counts against the bound: all of it,
// or the whole bound for a slice larger than the bound, which is then lent
// alone.
func (b *Buffers) weight(c int) int64 { return min(int64(c), b.total) }

// Get lends a slice of length n (its capacity the size class's), waiting
// while the slices lent hold the bound. Give it back with Put.
func (b *Buffers) Get(ctx context.Context, n int) (*[]byte, error) {
	c := class(n)
	size := max(1<<(minClassShift+c), n)
	if err := b.sem.Acquire(ctx, b.weight(size)); err != nil {
		return nil, err
	}
	if p, ok := b.pools[c].Get().(*[]byte); ok {
		*p = (*p)[:n]
		return p, nil
	}
	s := make([]byte, n, size)
	return &s, nil
}

// Put gives back a slice Get lent.
func (b *Buffers) Put(p *[]byte) {
	w := b.weight(cap(*p))
	if c := class(cap(*p)); cap(*p) == 1<<(minClassShift+c) {
		b.pools[c].Put(p)
	}
	b.sem.Release(w)
}
