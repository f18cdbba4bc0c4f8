package posixstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// direntBufSize is the buffer a folder's entries are read into: some 2,000
// entries of a project folder's length a getdents64 call, where os.File's
// ReadDir reads 8 KiB at a time (about 40 calls for 10,000 projects, 5 here).
const direntBufSize = 64 << 10

var direntBufs = sync.Pool{New: func() any { b := make([]byte, direntBufSize); return &b }}

// Names implements Store: the folder's entries are read with getdents64
// into one pooled buffer and handed on as they are parsed, without an
// fs.DirEntry each; an entry whose type the file system does not give is
// stated (without following it), as os.File's ReadDir does.
func (d *Store) Names(ctx context.Context, prefix string, fn func(name string, dir bool) error) error {
	f, err := d.openFolder(prefix)
	if f == nil {
		return err
	}
	defer f.Close()
	bp := direntBufs.Get().(*[]byte)
	defer direntBufs.Put(bp)
	fd := int(f.Fd())
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := unix.Getdents(fd, *bp)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("read folder %s: %w", d.Path(prefix), err)
		}
		if n <= 0 {
			return nil
		}
		if err := eachDirent((*bp)[:n], func(name string, typ uint8) error {
			dir := typ == unix.DT_DIR
			if typ == unix.DT_UNKNOWN {
				var st unix.Stat_t
				if unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW) != nil {
					return nil // gone since the folder was read
				}
				dir = st.Mode&unix.S_IFMT == unix.S_IFDIR
			}
			return fn(name, dir)
		}); err != nil {
			return err
		}
	}
}

// eachDirent calls fn with the name and type of each linux_dirent64 record
// in buf, but "." and "..". The name is a copy.
func eachDirent(buf []byte, fn func(name string, typ uint8) error) error {
	const nameOff = int(unsafe.Offsetof(unix.Dirent{}.Name))
	for len(buf) >= nameOff {
		reclen := int(binary.NativeEndian.Uint16(buf[unsafe.Offsetof(unix.Dirent{}.Reclen):]))
		if reclen < nameOff || reclen > len(buf) {
			return errors.New("getdents64: a damaged record")
		}
		rec := buf[:reclen]
		buf = buf[reclen:]
		name := rec[nameOff:]
		if i := bytes.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		if len(name) == 0 || string(name) == "." || string(name) == ".." {
			continue
		}
		if err := fn(string(name), rec[unsafe.Offsetof(unix.Dirent{}.Type)]); err != nil {
			return err
		}
	}
	return nil
}
