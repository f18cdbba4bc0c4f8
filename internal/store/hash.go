package store

import (
	"context"
	"sync"
)

// HashContent reads an object and returns its sha256 in hex. A missing
// object gives an error wrapping os.ErrNotExist.
func HashContent(ctx context.Context, st Reader, key string) (string, error) {
	_, sum, err := HashObject(ctx, st, key)
	return sum, err
}

// HashObject is Store.Hash with a read buffer from a pool.
func HashObject(ctx context.Context, st Reader, key string) (Object, string, error) {
	bp := hashBuffers.Get().(*[]byte)
	defer hashBuffers.Put(bp)
	return st.Hash(ctx, key, *bp)
}

// hashBuffers are the read buffers of HashObject, one a caller at a time.
var hashBuffers = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}
