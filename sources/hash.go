package sources

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
)

// HashContent reads an object and returns its sha256 in hex. A missing
// object gives an error wrapping os.ErrNotExist.
func HashContent(ctx context.Context, st Store, key string) (string, error) {
	bp := hashBuffers.Get().(*[]byte)
	defer hashBuffers.Put(bp)
	_, sum, err := st.Hash(ctx, key, *bp)
	return sum, err
}

// hashReader hashes an object through Store.Open with buf.
func hashReader(ctx context.Context, st Store, key string, buf []byte) (string, error) {
	rc, err := st.Open(ctx, key)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	h := sha256.New()
	if _, err := io.CopyBuffer(h, rc, buf); err != nil {
		return "", fmt.Errorf("hash %s: %w", key, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
