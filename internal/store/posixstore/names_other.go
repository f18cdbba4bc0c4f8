//go:build !linux

package posixstore

import (
	"context"
	"io/fs"
	"os"
)

// Names implements Store.
func (d *Store) Names(ctx context.Context, prefix string, fn func(name string, dir bool) error) error {
	return d.entries(ctx, prefix, func(_ *os.File, de fs.DirEntry) error { return fn(de.Name(), de.IsDir()) })
}
