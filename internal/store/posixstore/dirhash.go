package posixstore

import (
	"errors"
	"io"

	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/bandercheck/bandercheck/internal/safefs"
	"github.com/bandercheck/bandercheck/internal/store"

	"golang.org/x/sys/unix"
)

// Hash implements Store with the fewest system calls that never follow a
// link: one openat2 below the mirror (RESOLVE_NO_SYMLINKS|RESOLVE_BENEATH,
// O_NOATIME where the owner allows it), one fstat for the size and date of
// what is read, reads of exactly that size into buf, one close. No os.File:
// the runtime poller would cost a call more per file. A link anywhere on
// the way is store.ErrNotRegular; so is anything but a regular file.
func (d *Store) Hash(ctx context.Context, key string, buf []byte) (store.Object, string, error) {
	if err := ctx.Err(); err != nil {
		return store.Object{}, "", err
	}
	w, err := d.writer() // the held descriptors of the root and of web/packages
	if err != nil {
		return store.Object{}, "", err
	}
	base, rel := w.rootDir, key
	if rest, ok := strings.CutPrefix(key, packagesPrefix); ok {
		base, rel = w.packages, rest
	}
	fd, err := openBeneath(base.Fd(), rel)
	if err == unix.ENOSYS {
		return hashFallback(base, key, rel, buf) // a kernel before 5.6
	}
	switch err {
	case nil:
	case unix.ENOENT:
		return store.Object{}, "", fmt.Errorf("open %s: %w", d.Path(key), os.ErrNotExist)
	case unix.ELOOP, unix.EXDEV, unix.ENOTDIR:
		return store.Object{}, "", fmt.Errorf("%s: a link on the way, never followed: %w", d.Path(key), store.ErrNotRegular)
	default:
		return store.Object{}, "", &os.PathError{Op: "open", Path: d.Path(key), Err: err}
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return store.Object{}, "", &os.PathError{Op: "fstat", Path: d.Path(key), Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return store.Object{}, "", fmt.Errorf("%s: %w", d.Path(key), store.ErrNotRegular)
	}
	o := store.Object{Key: key, Size: st.Size, Modified: time.Unix(st.Mtim.Unix()), Kind: store.Regular,
		Inode: st.Ino, Changed: time.Unix(st.Ctim.Unix())}
	h := sha256.New()
	for left := st.Size; left > 0; {
		n, err := unix.Read(fd, buf[:min(int64(len(buf)), left)])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return o, "", &os.PathError{Op: "read", Path: d.Path(key), Err: err}
		}
		if n == 0 { // cut short since the fstat: what was read is what is hashed
			o.Size -= left
			break
		}
		h.Write(buf[:n])
		left -= int64(n)
	}
	return o, hex.EncodeToString(h.Sum(nil)), nil
}

// hashFallback hashes where openat2 is missing: the file opened by walking
// its folders one by one from base, never following a link either.
func hashFallback(base *safefs.Dir, key, rel string, buf []byte) (store.Object, string, error) {
	f, err := base.OpenFile(rel)
	var nf *safefs.NotFollowedError
	switch {
	case errors.As(err, &nf):
		return store.Object{}, "", fmt.Errorf("%s: %w", nf.Path, store.ErrNotRegular)
	case err != nil:
		return store.Object{}, "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return store.Object{}, "", err
	}
	o := store.Object{Key: key, Size: fi.Size(), Modified: fi.ModTime(), Kind: store.Regular}
	o.Inode, o.Changed = inodeOf(fi)
	h := sha256.New()
	if _, err := io.CopyBuffer(h, f, buf); err != nil {
		return o, "", fmt.Errorf("hash %s: %w", key, err)
	}
	return o, hex.EncodeToString(h.Sum(nil)), nil
}
