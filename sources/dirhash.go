package sources

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Hash implements Store with the fewest system calls that never follow a
// link: one openat2 below the mirror (RESOLVE_NO_SYMLINKS|RESOLVE_BENEATH,
// O_NOATIME where the owner allows it), one fstat for the size and date of
// what is read, reads of exactly that size into buf, one close. No os.File:
// the runtime poller would cost a call more per file. A link anywhere on
// the way is ErrNotRegular; so is anything but a regular file.
func (d *DirStore) Hash(ctx context.Context, key string, buf []byte) (Object, string, error) {
	if err := ctx.Err(); err != nil {
		return Object{}, "", err
	}
	base, rel, err := d.hashBase(key)
	if err != nil {
		return Object{}, "", err
	}
	fd, err := openBeneath(base, rel)
	if err == unix.ENOSYS {
		return d.hashFallback(ctx, key, buf) // a kernel before 5.6
	}
	switch err {
	case nil:
	case unix.ENOENT:
		return Object{}, "", fmt.Errorf("open %s: %w", d.Path(key), os.ErrNotExist)
	case unix.ELOOP, unix.EXDEV, unix.ENOTDIR:
		return Object{}, "", fmt.Errorf("%s: a link on the way, never followed: %w", d.Path(key), ErrNotRegular)
	default:
		return Object{}, "", &os.PathError{Op: "open", Path: d.Path(key), Err: err}
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return Object{}, "", &os.PathError{Op: "fstat", Path: d.Path(key), Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return Object{}, "", fmt.Errorf("%s: %w", d.Path(key), ErrNotRegular)
	}
	o := Object{Key: key, Size: st.Size, Modified: time.Unix(st.Mtim.Unix()), Kind: Regular,
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

// hashBase is the descriptor a key is opened below: web/packages (which may
// be a link to another volume, followed once when opened) for package keys,
// the mirror root otherwise.
func (d *DirStore) hashBase(key string) (int, string, error) {
	d.hashOnce.Do(func() {
		d.rootFD, d.hashErr = unix.Open(d.root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if d.hashErr == nil {
			d.packagesFD, d.hashErr = unix.Openat(d.rootFD, "web/packages", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			if d.hashErr == unix.ENOENT {
				d.packagesFD, d.hashErr = -1, nil
			}
		}
	})
	if d.hashErr != nil {
		return 0, "", fmt.Errorf("open %s: %w", d.root, d.hashErr)
	}
	if rel, ok := strings.CutPrefix(key, "web/packages/"); ok && d.packagesFD >= 0 {
		return d.packagesFD, rel, nil
	}
	return d.rootFD, key, nil
}

// noatime is cleared once the kernel refuses O_NOATIME (files of another owner).
var noatime atomic.Bool

func init() { noatime.Store(true) }

func openBeneath(dirfd int, rel string) (int, error) {
	how := unix.OpenHow{Resolve: unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_BENEATH, Flags: unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NONBLOCK}
	for {
		if noatime.Load() {
			how.Flags |= unix.O_NOATIME
		} else {
			how.Flags &^= unix.O_NOATIME
		}
		fd, err := unix.Openat2(dirfd, rel, &how)
		if err == unix.EPERM && how.Flags&unix.O_NOATIME != 0 {
			noatime.Store(false)
			continue
		}
		if err == unix.EINTR || err == unix.EAGAIN {
			continue
		}
		return fd, err
	}
}

// hashFallback hashes through Open where openat2 is missing.
func (d *DirStore) hashFallback(ctx context.Context, key string, buf []byte) (Object, string, error) {
	o, err := d.Stat(ctx, key)
	if err != nil {
		return o, "", err
	}
	if o.Kind != Regular {
		return o, "", fmt.Errorf("%s: %w", d.Path(key), ErrNotRegular)
	}
	sum, err := hashReader(ctx, d, key, buf)
	return o, sum, err
}

// hashBuffers are the read buffers of HashContent.
var hashBuffers = sync.Pool{New: func() any { b := make([]byte, 1<<20); return &b }}
