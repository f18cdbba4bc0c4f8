// Package store states the contract of a mirror's store, in one place: the
// read side (Reader), the write side (Writer) and both (Store), which each
// backend (internal/store/posixstore, internal/store/s3store) implements and
// the conformance suite (internal/store/storetest) checks.
package store

import (
	"context"
	"errors"
	"io"
	"time"
)

// Kind tells regular files from what bandercheck never follows or deletes.
type Kind uint8

// Kinds of stored objects.
const (
	Regular Kind = iota
	Symlink
	Other
)

// Object is one entry of a mirror.
type Object struct {
	Key      string // relative to the mirror root, '/' separated
	Size     int64
	Modified time.Time
	Kind     Kind
	Inode    uint64    // POSIX: the file's inode (0 on S3)
	Changed  time.Time // POSIX: the inode's ctime (zero on S3)
	ETag     string    // S3: the object's ETag ("" on POSIX)
}

// Reader is a mirror's flat key space for reading: a folder on disk or an S3 prefix.
type Reader interface {
	// List calls fn once per object whose key starts with prefix and sorts
	// after startAfter, in byte order of the key, from the calling goroutine.
	List(ctx context.Context, prefix, startAfter string, fn func(Object) error) error
	// Children lists the immediate sub-folders (with a trailing '/') and the
	// objects directly under prefix (which ends in '/'), each in byte order.
	Children(ctx context.Context, prefix string) (dirs []string, objects []Object, err error)
	// Names calls fn for each immediate child of the folder prefix (ending in
	// '/'), in no particular order, without holding the whole folder in memory.
	// A missing folder lists nothing.
	Names(ctx context.Context, prefix string, fn func(name string, dir bool) error) error
	// Modified calls fn with the key and the time of the last change of every
	// file below the folder prefix (ending in '/'), at any depth, in no
	// particular order, without holding a folder in memory. The time is one a
	// writer cannot set back: on POSIX the later of mtime and ctime (a copy
	// that keeps an old mtime still has a new ctime), and the current time for
	// an entry that is not a regular file (a FIFO that replaced a document is
	// a change); on S3 the server's LastModified. A missing folder lists nothing.
	Modified(ctx context.Context, prefix string, fn func(key string, modified time.Time) error) error
	// HasFolder tells whether the folder prefix (ending in '/') exists; on
	// POSIX the folder may be a link (web/packages on another volume), on S3
	// it exists when some key starts with it.
	HasFolder(ctx context.Context, prefix string) (bool, error)
	// Open reads an object; a missing one gives an error wrapping os.ErrNotExist.
	Open(ctx context.Context, key string) (io.ReadCloser, error)
	// Stat describes an object; a missing one gives an error wrapping os.ErrNotExist.
	Stat(ctx context.Context, key string) (Object, error)
	// Hash reads an object once, with buf, and returns it as read (size and
	// date of what was hashed) with its sha256 in hex. A missing object gives
	// an error wrapping os.ErrNotExist; anything but a regular file, or a
	// link on the way, ErrNotRegular.
	Hash(ctx context.Context, key string, buf []byte) (Object, string, error)
	// StoredSHA256 returns the sha256 recorded beside the object (S3 metadata),
	// or "" when the store keeps none.
	StoredSHA256(ctx context.Context, key string) (string, error)
	// String names the store for messages.
	String() string
}

// PageLister is a Reader that can list one page of at most n objects in one
// request: List's pages are as large as the server allows (1,000 keys on
// S3), each walked in full by the server even when fn stops at the first
// object, and a sample needs a few keys. The page holds the first objects
// whose key starts with prefix and sorts after startAfter, in byte order.
type PageLister interface {
	ListPage(ctx context.Context, prefix, startAfter string, n int, fn func(Object) error) error
}

// BatchLister is a Reader that lists a page at a time (S3): fn gets each
// page's objects, in List's order, in a slice of their own that it may
// keep, and the page itself (its answer, as decoded) is let go before fn
// runs. ListRange hands these slices on as its batches: a folder's lister
// waiting for the consumer holds its batches alone, not also the page it
// was in (the SDK's objects and the decoder's arrays, 168 bytes a key).
type BatchLister interface {
	ListBatches(ctx context.Context, prefix, startAfter string, fn func([]Object) error) error
}

type withoutStatKey struct{}

// WithoutStat marks ctx for a listing whose caller reads every object
// itself (hashing it with Hash, which reports size and date): a folder
// store then passes regular files with Size and Modified left zero instead
// of stating each one. S3 listings carry both anyway.
func WithoutStat(ctx context.Context) context.Context {
	return context.WithValue(ctx, withoutStatKey{}, true)
}

// StatSkipped tells whether ctx was marked by WithoutStat.
func StatSkipped(ctx context.Context) bool { return ctx.Value(withoutStatKey{}) != nil }

// ErrNotRegular says an object to read is a FIFO, a device, a socket or a
// folder: it is never opened for reading (a FIFO would block for ever).
var ErrNotRegular = errors.New("not a regular file")

// TempDir is where a backend may stage uploads, relative to web/packages
// (the POSIX backend does, so the final rename stays on one file system):
// no mirror key lies below it, and scan storage skips it.
const TempDir = ".bandercheck-tmp"
