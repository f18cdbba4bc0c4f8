package sinks

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/bandercheck/bandercheck/pipeline"
)

// DirMirror writes a mirror in a POSIX folder. Downloads are written in
// <root>/.bandercheck-tmp/ (the mirror's own file system, so the final rename
// is atomic, and outside web/ so no scan or client sees them) and renamed into
// place when complete.
type DirMirror struct {
	root string
}

// TempDir is where DirMirror stages downloads, relative to the mirror root.
const TempDir = ".bandercheck-tmp"

var _ Mirror = (*DirMirror)(nil)

// NewDirMirror writes under root.
func NewDirMirror(root string) *DirMirror { return &DirMirror{root: root} }

func (d *DirMirror) path(key string) string { return filepath.Join(d.root, filepath.FromSlash(key)) }

type dirUpload struct {
	f      *os.File
	target string
	meta   Meta
}

// Create implements Mirror: a temporary file beside the target, renamed on Commit.
func (d *DirMirror) Create(ctx context.Context, key string, meta Meta) (Upload, error) {
	target := d.path(key)
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", key, err)
	}
	tmp := filepath.Join(d.root, TempDir)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", key, err)
	}
	f, err := os.CreateTemp(tmp, "download-*.tmp")
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", key, err)
	}
	return &dirUpload{f: f, target: target, meta: meta}, nil
}

func (u *dirUpload) Write(p []byte) (int, error) { return u.f.Write(p) }

func (u *dirUpload) Commit(ctx context.Context) error {
	err := u.f.Sync()
	if cerr := u.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(u.f.Name(), 0o644)
	}
	if err == nil && !u.meta.Uploaded.IsZero() {
		err = os.Chtimes(u.f.Name(), u.meta.Uploaded, u.meta.Uploaded)
	}
	if err == nil {
		err = os.Rename(u.f.Name(), u.target)
	}
	if err != nil {
		_ = os.Remove(u.f.Name())
		return fmt.Errorf("store %s: %w", u.target, err)
	}
	return nil
}

func (u *dirUpload) Abort() error {
	_ = u.f.Close()
	if err := os.Remove(u.f.Name()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// Remove implements Mirror: unlink, then remove folders left empty up to web/packages.
func (d *DirMirror) Remove(ctx context.Context, keys []string) ([]error, error) {
	errs := make([]error, len(keys))
	for i, key := range keys {
		if err := ctx.Err(); err != nil {
			return errs, err
		}
		p := d.path(key)
		fi, err := os.Lstat(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err == nil && !fi.Mode().IsRegular() {
			errs[i] = fmt.Errorf("%s is not a regular file: left alone", key)
			continue
		}
		if err == nil {
			err = os.Remove(p)
		}
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			if isSinkFailure(err) {
				return errs, fmt.Errorf("delete %s: %w", key, err)
			}
			errs[i] = err
			continue
		}
		d.pruneEmpty(filepath.Dir(p))
	}
	return errs, nil
}

// pruneEmpty removes empty folders from dir up to web/packages (exclusive).
func (d *DirMirror) pruneEmpty(dir string) {
	stop := d.path("web/packages")
	for strings.HasPrefix(dir, stop+string(filepath.Separator)) {
		if err := os.Remove(dir); err != nil {
			return // not empty, or gone
		}
		dir = filepath.Dir(dir)
	}
}

// RemoveTree implements Mirror.
func (d *DirMirror) RemoveTree(ctx context.Context, prefix string) error {
	p := d.path(strings.TrimSuffix(prefix, "/"))
	if err := os.RemoveAll(p); err != nil {
		return fmt.Errorf("remove %s: %w", prefix, err)
	}
	return nil
}

// Lock implements Mirror: a non-blocking exclusive flock on <root>/.lock,
// the lock bandersnatch takes while it syncs.
func (d *DirMirror) Lock(ctx context.Context) (func() error, error) {
	path := filepath.Join(d.root, ".lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &pipeline.RefusedError{Msg: fmt.Sprintf("the mirror is locked (%s is held, a bandersnatch sync is running): apply waits for it to finish; run apply again afterwards", path)}
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	// under the lock no other apply is running: what is staged is left from a kill
	if err := os.RemoveAll(filepath.Join(d.root, TempDir)); err != nil {
		f.Close()
		return nil, fmt.Errorf("clear %s: %w", TempDir, err)
	}
	return func() error {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		return errors.Join(err, f.Close())
	}, nil
}

// isSinkFailure tells errors of the mirror itself (full, read-only, denied),
// which stop apply, from errors of one file.
func isSinkFailure(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EROFS) || errors.Is(err, syscall.EDQUOT) ||
		errors.Is(err, os.ErrPermission) || errors.Is(err, syscall.EIO)
}
