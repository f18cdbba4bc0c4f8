package store

import (
	"context"
)

// HashContent reads an object and returns its sha256 in hex. A missing
// object gives an error wrapping os.ErrNotExist.
func HashContent(ctx context.Context, st Reader, key string) (string, error) {
	_, sum, err := HashObject(ctx, st, key, -1)
	return sum, err
}

// HashObject is Store.Hash with a read buffer lent by HashBuffers: as large
// as the object (size, from its listing; -1 when unknown) up to the store's
// HashChunk, 256 KiB unless the store tells.
func HashObject(ctx context.Context, st Reader, key string, size int64) (Object, string, error) {
	n := int64(DefaultHashChunk)
	if c, ok := st.(interface{ HashChunk() int }); ok {
		n = int64(c.HashChunk())
	}
	if size >= 0 {
		n = max(min(n, size), 1)
	}
	bp, err := HashBuffers.Get(ctx, int(n))
	if err != nil {
		return Object{}, "", err
	}
	defer HashBuffers.Put(bp)
	return st.Hash(ctx, key, (*bp)[:cap(*bp)])
}

// DefaultHashChunk is the read buffer of HashObject on a store that does not
// tell its own: large reads from a disk.
const DefaultHashChunk = 256 << 10

// HashBuffers lend HashObject its read buffers: 32 MiB at once at most.
var HashBuffers = NewBuffers(32 << 20)
