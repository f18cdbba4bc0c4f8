package posixstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/bandercheck/bandercheck/internal/store"
	"golang.org/x/sys/unix"
)

// Store is a mirror in a folder on a POSIX disk.
type Store struct {
	root string
	wmu  sync.Mutex
	w    *dirWriter // the held descriptors: the write side and Hash, opened by the first use
}

var _ store.Store = (*Store)(nil)

// Open opens the mirror rooted at root, which must be a folder.
func Open(root string) (*Store, error) {
	fi, err := os.Stat(root)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("mirror %s does not exist: check --mirror (or [mirror] directory in the config)", root)
	}
	if err != nil {
		return nil, fmt.Errorf("mirror %s: %w", root, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("mirror %s is a file, not a folder: check --mirror (or [mirror] directory in the config)", root)
	}
	return &Store{root: root}, nil
}

// String implements Store.
func (d *Store) String() string { return d.root }

// Path turns a key into a file path.
func (d *Store) Path(key string) string { return filepath.Join(d.root, filepath.FromSlash(key)) }

// entry is a folder entry with its byte-order sort key (folders end in '/').
type entry struct {
	name string
	sort string
	typ  fs.FileMode
}

// readSorted lists a folder in byte order of the full key.
func (d *Store) readSorted(rel string) ([]entry, error) {
	des, err := os.ReadDir(d.Path(rel))
	if err != nil {
		return nil, err
	}
	out := make([]entry, len(des))
	for i, de := range des {
		e := entry{name: de.Name(), sort: de.Name(), typ: de.Type()}
		if e.typ.IsDir() {
			e.sort += "/"
		}
		out[i] = e
	}
	sort.Slice(out, func(i, j int) bool { return out[i].sort < out[j].sort })
	return out, nil
}

// List implements Store. prefix must be empty or a folder ending in '/'.
// Symbolic links and other non-regular entries are passed to fn with their
// store.Kind and never followed. An unreadable folder stops the listing with an
// error naming it: a silent gap would make its files look missing.
func (d *Store) List(ctx context.Context, prefix, startAfter string, fn func(store.Object) error) error {
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		return fmt.Errorf("list %s: prefix %q must end in /", d.root, prefix)
	}
	return d.walk(ctx, prefix, startAfter, fn)
}

func (d *Store) walk(ctx context.Context, rel, startAfter string, fn func(store.Object) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	entries, err := d.readSorted(rel)
	if err != nil {
		return fmt.Errorf("read folder %s: %w", d.Path(rel), err)
	}
	for _, e := range entries {
		key := rel + e.sort
		if e.typ.IsDir() {
			if startAfter >= key && !strings.HasPrefix(startAfter, key) {
				continue // the whole folder sorts before the cursor
			}
			if err := d.walk(ctx, key, startAfter, fn); err != nil {
				return err
			}
			continue
		}
		if key <= startAfter {
			continue
		}
		obj := store.Object{Key: key, Kind: store.Other}
		switch {
		case e.typ&fs.ModeSymlink != 0:
			obj.Kind = store.Symlink
		case e.typ.IsRegular() && store.StatSkipped(ctx):
			obj.Kind = store.Regular // the caller reads it and learns its size then
		case e.typ.IsRegular():
			fi, err := os.Lstat(d.Path(key))
			if errors.Is(err, os.ErrNotExist) {
				continue // removed since the folder was read
			}
			if err != nil {
				return fmt.Errorf("stat %s: %w", d.Path(key), err)
			}
			obj.Size, obj.Modified = fi.Size(), fi.ModTime()
			obj.Inode, obj.Changed = inodeOf(fi)
			if fi.Mode().IsRegular() {
				obj.Kind = store.Regular
			}
		}
		if err := fn(obj); err != nil {
			return err
		}
	}
	return nil
}

// Children implements Store.
func (d *Store) Children(ctx context.Context, prefix string) ([]string, []store.Object, error) {
	entries, err := d.readSorted(prefix)
	if err != nil {
		return nil, nil, fmt.Errorf("read folder %s: %w", d.Path(prefix), err)
	}
	var dirs []string
	var objs []store.Object
	for _, e := range entries {
		if e.typ.IsDir() {
			dirs = append(dirs, prefix+e.sort)
			continue
		}
		o, err := d.Stat(ctx, prefix+e.name)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			return nil, nil, err
		}
		objs = append(objs, o)
	}
	return dirs, objs, nil
}

// Open implements Store. Only regular files are read: the file is opened
// without blocking and checked before any read.
func (d *Store) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	f, err := os.OpenFile(d.Path(key), os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s: %w", d.Path(key), store.ErrNotRegular)
	}
	return f, nil
}

// OpenIdentified is Open that also tells what it opened as Stat would,
// from the open file (one lstat fewer a document): the size, dates and
// inode of the file read. A last component that is a link is opened
// through and told as the link, as Stat tells it.
func (d *Store) OpenIdentified(ctx context.Context, key string) (io.ReadCloser, store.Object, error) {
	f, err := os.OpenFile(d.Path(key), os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOFOLLOW, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, store.Object{}, err
	}
	if err != nil { // a link (ELOOP, or EMLINK on some systems), or a failure Open tells again
		o, _ := d.Stat(ctx, key)
		rc, err := d.Open(ctx, key)
		return rc, o, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, store.Object{}, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, store.Object{Key: key, Kind: store.Other}, fmt.Errorf("%s: %w", d.Path(key), store.ErrNotRegular)
	}
	o := store.Object{Key: key, Size: fi.Size(), Modified: fi.ModTime(), Kind: store.Regular}
	o.Inode, o.Changed = inodeOf(fi)
	return f, o, nil
}

// Stat implements Store; it does not follow symbolic links.
func (d *Store) Stat(ctx context.Context, key string) (store.Object, error) {
	fi, err := os.Lstat(d.Path(key))
	if err != nil {
		return store.Object{}, err
	}
	o := store.Object{Key: key, Size: fi.Size(), Modified: fi.ModTime(), Kind: store.Other}
	o.Inode, o.Changed = inodeOf(fi)
	switch {
	case fi.Mode().IsRegular():
		o.Kind = store.Regular
	case fi.Mode()&fs.ModeSymlink != 0:
		o.Kind = store.Symlink
	}
	return o, nil
}

// StoredSHA256 implements Store: a folder keeps no digests.
func (d *Store) StoredSHA256(ctx context.Context, key string) (string, error) { return "", nil }

// Modified implements Store: folders are read in batches, each entry stated
// without following it; links and other non-regular entries are passed over.
func (d *Store) Modified(ctx context.Context, prefix string, fn func(string, time.Time) error) error {
	return d.entries(ctx, prefix, func(f *os.File, de fs.DirEntry) error {
		if de.IsDir() {
			return d.Modified(ctx, prefix+de.Name()+"/", fn)
		}
		var st unix.Stat_t
		if err := unix.Fstatat(int(f.Fd()), de.Name(), &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return nil // gone since the folder was read
		}
		if st.Mode&unix.S_IFMT != unix.S_IFREG {
			return fn(prefix+de.Name(), time.Now()) // a FIFO, link or device: changed, and unreadable
		}
		// ctime, which rsync -a, cp -p and tar x cannot set back, as mtime they can
		changed, c := statTimes(&st) // with nanoseconds
		if c.After(changed) {
			changed = c
		}
		return fn(prefix+de.Name(), changed)
	})
}

// openFolder opens the folder prefix for reading its entries; nil and no
// error when it is missing (a missing folder has no entries).
func (d *Store) openFolder(prefix string) (*os.File, error) {
	f, err := os.Open(d.Path(prefix))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read folder %s: %w", d.Path(prefix), err)
	}
	return f, nil
}

// entries calls fn for each entry of the folder prefix, read in batches so
// that a folder of any size is never held in memory. A missing folder has none.
func (d *Store) entries(ctx context.Context, prefix string, fn func(*os.File, fs.DirEntry) error) error {
	f, err := d.openFolder(prefix)
	if f == nil {
		return err
	}
	defer f.Close()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		des, err := f.ReadDir(1024)
		for _, de := range des {
			if err := fn(f, de); err != nil {
				return err
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read folder %s: %w", d.Path(prefix), err)
		}
	}
}

// HasFolder implements Store, following a link at prefix itself.
func (d *Store) HasFolder(ctx context.Context, prefix string) (bool, error) {
	fi, err := os.Stat(d.Path(prefix))
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("stat %s: %w", d.Path(prefix), err)
	}
	return fi.IsDir(), nil
}

// inodeOf is a file's inode number and ctime, where the system gives them.
func inodeOf(fi fs.FileInfo) (uint64, time.Time) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Ino), sysCtime(st)
	}
	return 0, time.Time{}
}
