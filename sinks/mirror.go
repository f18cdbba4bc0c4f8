package sinks

import (
	"context"

	"github.com/bandercheck/bandercheck/sources"
)

// Mirror is the write side of a store that apply changes; sources.DirStore
// and sources.S3Store are both.
type Mirror interface {
	// Create starts writing key; nothing is visible until Commit.
	Create(ctx context.Context, key string, meta sources.Meta) (sources.Upload, error)
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
	// *pipeline.RefusedError while a sync holds it.
	Lock(ctx context.Context) (unlock func() error, err error)
}

// Both stores are mirrors apply can change.
var (
	_ Mirror = (*sources.DirStore)(nil)
	_ Mirror = (*sources.S3Store)(nil)
)
