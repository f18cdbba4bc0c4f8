package sources

import (
	"context"
	"io"
	"time"
)

// The write side of the stores (DirStore, S3Store): Create, Remove,
// RemoveTree, Present and Lock, which sinks.Mirror names.

// Meta describes a file being stored.
type Meta struct {
	SHA256   string
	Uploaded time.Time // zero when unknown
	Mode     uint32    // POSIX permission bits; 0 means 0644
}

// Upload is a file being written; it becomes visible only on Commit.
type Upload interface {
	io.Writer
	// Commit makes the file visible at its key, complete.
	Commit(ctx context.Context) error
	// Abort discards what was written.
	Abort() error
}
