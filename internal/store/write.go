package store

import (
	"context"
	"io"
	"time"
)

// Meta describes a file being stored.
type Meta struct {
	SHA256   string
	Uploaded time.Time // zero when unknown
	Mode     uint32    // POSIX permission bits; 0 means 0644
	// Deferred lets a store skip making this one file durable before it is
	// visible (POSIX: no fsync a file); the caller calls Flush before it
	// records the file as written. Thousands of small pages then cost one
	// flush, not one disk round trip each.
	Deferred bool
}

// Flusher is a store whose Deferred writes Flush makes durable.
type Flusher interface {
	Flush(ctx context.Context) error
}

// Linker is a store that holds symbolic links (POSIX): keep_index_versions
// points a project's index pages at their newest version.
type Linker interface {
	// Symlink makes key a symbolic link to target, replacing a file or a
	// link there in one step (never following it).
	Symlink(ctx context.Context, key, target string) error
}

// ObjectPresenter is a Writer whose Present can also tell what it found
// (POSIX: from the file it read, one lookup fewer than a Stat after it).
type ObjectPresenter interface {
	// PresentObject is Present; when the file is present, obj describes
	// it as Stat would.
	PresentObject(ctx context.Context, key string, size int64, sum string) (obj Object, present bool, err error)
}

// File is a whole file to write, for FilesWriter.
type File struct {
	Key  string
	Data []byte
	Meta Meta
}

// FilesWriter is a Writer that writes several whole files at once (POSIX:
// a project's pages through one open of their folder).
type FilesWriter interface {
	// WriteFiles writes each file at its key, in order, as Create, Write and
	// Commit would: each visible only when complete. It stops at the first
	// failure, naming its key; the files before it are in place.
	WriteFiles(ctx context.Context, files []File) error
}

// Upload is a file being written; it becomes visible only on Commit.
type Upload interface {
	io.Writer
	// Commit makes the file visible at its key, complete.
	Commit(ctx context.Context) error
	// Abort discards what was written.
	Abort() error
}

// Writer is the write side of a store, what apply and sync change it with.
type Writer interface {
	// Create starts writing key; nothing is visible until Commit.
	Create(ctx context.Context, key string, meta Meta) (Upload, error)
	// Remove deletes files; a key that is already gone is a success. The
	// result has one error (or nil) per key.
	Remove(ctx context.Context, keys []string) ([]error, error)
	// RemoveTree deletes everything under a folder key ending in '/'.
	RemoveTree(ctx context.Context, prefix string) error
	// Present tells whether key already holds a regular file of size (-1:
	// any) whose sha256 is sum ("": any), so a rerun need not fetch it again.
	// Anything unreadable, or not a regular file, is not present.
	Present(ctx context.Context, key string, size int64, sum string) (bool, error)
	// Lock takes the mirror's lock for the whole apply, or refuses with a
	// *LockedError while a sync holds it.
	Lock(ctx context.Context) (unlock func() error, err error)
}

// Store is a mirror's store, both sides: what the scans read and what apply
// and sync change. posixstore.Store and s3store.Store are both.
type Store interface {
	Reader
	Writer
}

// LockedError is Lock's refusal: a sync (bandersnatch's, or ours) holds the
// mirror's .lock. The stages turn it into a guard refusal (exit 3).
type LockedError struct{ Msg string }

func (e *LockedError) Error() string { return e.Msg }

// CorruptUploadError is an upload the server refused because the bytes it
// received do not match the digests sent with them: they were altered on
// the way. Nothing changed at the key, and another attempt may succeed, so
// apply records a failed row, which the next apply retries.
type CorruptUploadError struct {
	Key string
	Err error
}

func (e *CorruptUploadError) Error() string {
	return "upload of " + e.Key + " refused by the server, its bytes were altered on the way: " + e.Err.Error()
}

func (e *CorruptUploadError) Unwrap() error { return e.Err }
