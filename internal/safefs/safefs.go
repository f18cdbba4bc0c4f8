// Package safefs acts on files below a folder held open by descriptor. Every
// path is walked one component at a time with O_NOFOLLOW, so no symbolic link
// below the folder is ever followed, and no path, whatever it holds, can reach
// outside the folder. Create, rename, unlink, prune and recursive removal all
// go through it; a symbolic link met on the way is a *NotFollowedError naming it.
package safefs

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// Dir is a folder held open by descriptor.
type Dir struct {
	fd    int
	name  string // for messages
	label string // what paths below it are named from in errors ("" for none)
	umask int32  // the process's umask when the root was opened; -1 unknown
}

// NotFollowedError says a path component is a symbolic link or not a folder
// where one is needed, or the target is not a regular file: it was left alone.
type NotFollowedError struct {
	Path string
	What string // "is a symbolic link", "is not a folder", "is not a regular file"
}

func (e *NotFollowedError) Error() string {
	return fmt.Sprintf("%s %s: never followed, replaced or removed", e.Path, e.What)
}

// OpenRoot opens the folder at path. Symbolic links in path itself are
// followed: where the operator points bandercheck is the operator's choice.
// Errors about paths below it name them after label ("web/packages/…"), or
// as they are when label is "".
func OpenRoot(path, label string) (*Dir, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return &Dir{fd: fd, name: path, label: label, umask: readUmask()}, nil
}

// show names rel for messages.
func (d *Dir) show(rel string) string {
	if d.label == "" {
		return rel
	}
	return d.label + "/" + rel
}

// Name is the folder's path, for messages.
func (d *Dir) Name() string { return d.name }

// Close releases the descriptor.
func (d *Dir) Close() error { return unix.Close(d.fd) }

// CheckRel tells whether rel is a clean relative path: '/' separated, not
// empty, no empty, "." or ".." segment, no NUL byte.
func CheckRel(rel string) error {
	if rel == "" {
		return errors.New("empty path")
	}
	if strings.IndexByte(rel, 0) >= 0 {
		return fmt.Errorf("path %q holds a NUL byte", rel)
	}
	for _, seg := range strings.Split(rel, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("path %q is not clean: it has an empty, . or .. segment, or starts with /", rel)
		}
	}
	return nil
}

func split(rel string) (dir, base string) {
	if i := strings.LastIndexByte(rel, '/'); i >= 0 {
		return rel[:i], rel[i+1:]
	}
	return "", rel
}

// walk opens each component of rel in turn, never following a link. With
// create, missing folders are made. It returns the chain of folders opened,
// d itself first (not to be closed), then one per component.
func (d *Dir) walk(rel string, create bool) ([]*Dir, error) {
	chain := []*Dir{d}
	if rel == "" {
		return chain, nil
	}
	if err := CheckRel(rel); err != nil {
		return nil, err
	}
	cur := d
	done := ""
	for _, seg := range strings.Split(rel, "/") {
		if done == "" {
			done = seg
		} else {
			done += "/" + seg
		}
		fd, err := openDirAt(cur.fd, seg)
		if err == unix.ENOENT && create {
			merr := unix.Mkdirat(cur.fd, seg, 0o755)
			if merr != nil && merr != unix.EEXIST {
				closeChain(chain)
				return nil, d.pathErr("mkdir", done, merr)
			}
			fd, err = openDirAt(cur.fd, seg)
			if err == nil && merr == nil {
				// as readable as the files put in it (0644 whatever the
				// umask), so the web server serving the mirror reaches them
				if cerr := d.chmodMade(fd, 0o755); cerr != nil {
					unix.Close(fd)
					closeChain(chain)
					return nil, d.pathErr("chmod", done, cerr)
				}
			}
		}
		if err != nil {
			if err == unix.ENOTDIR || err == unix.ELOOP {
				// O_DIRECTORY answers ENOTDIR for a link too: look at what it is
				if st, serr := cur.Lstat(seg); serr == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
					err = unix.ELOOP
				}
			}
			closeChain(chain)
			return nil, d.pathErr("open", done, err)
		}
		cur = &Dir{fd: fd, name: d.name + "/" + done, label: d.label, umask: d.umask}
		chain = append(chain, cur)
	}
	return chain, nil
}

// mkdirLast makes the last folder of rel when the folders above it are
// there (a new project's folder): its parent opened in one call, then
// mkdirat and an open that follows no link; a missing parent is made the
// same way first (a release file's new hash folders). done is false when
// anything else is met (what was made stays); the walk then makes or
// names it.
func (d *Dir) mkdirLast(rel string) (nd *Dir, done bool, err error) {
	dir, base := split(rel)
	pfd := d.fd
	if dir != "" {
		fd, err := openDirBeneath(d.fd, dir)
		if err == unix.ENOENT {
			p, done, err := d.mkdirLast(dir)
			if !done || err != nil {
				return nil, done, err
			}
			fd = p.fd
		} else if err != nil {
			return nil, false, nil
		}
		defer unix.Close(fd)
		pfd = fd
	}
	if err := unix.Mkdirat(pfd, base, 0o755); err != nil {
		return nil, false, nil // there already (made meanwhile), or refused: the walk looks
	}
	fd, err := openDirAt(pfd, base)
	if err != nil {
		return nil, true, d.pathErr("open", rel, err) // swapped since it was made
	}
	if err := d.chmodMade(fd, 0o755); err != nil {
		unix.Close(fd)
		return nil, true, d.pathErr("chmod", rel, err)
	}
	return &Dir{fd: fd, name: d.name + "/" + rel, label: d.label, umask: d.umask}, true, nil
}

// chmodMade gives what was just made with perm the mode perm whatever the
// umask (the web server serving the mirror reaches it), calling fchmod only
// when the umask took bits off.
func (d *Dir) chmodMade(fd int, perm uint32) error {
	if m, ok := d.Umask(); ok && m&perm == 0 {
		return nil
	}
	return unix.Fchmod(fd, perm)
}

// Umask is the process's umask as it was when the root d comes from was
// opened; ok is false where it could not be read, and callers then set
// modes with fchmod as if it took bits off.
func (d *Dir) Umask() (mask uint32, ok bool) {
	if d.umask < 0 {
		return 0, false
	}
	return uint32(d.umask), true
}

func closeChain(chain []*Dir) {
	for _, c := range chain[1:] {
		c.Close()
	}
}

func openDirAt(dirfd int, name string) (int, error) {
	for {
		fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// pathErr turns an errno met at rel into an error naming the path; a link or
// a file met where a folder belongs becomes a *NotFollowedError.
func (d *Dir) pathErr(op, rel string, err error) error {
	switch err {
	case unix.ELOOP:
		return &NotFollowedError{Path: d.show(rel), What: "is a symbolic link"}
	case unix.ENOTDIR:
		return &NotFollowedError{Path: d.show(rel), What: "is not a folder"}
	}
	return &os.PathError{Op: op, Path: d.show(rel), Err: err}
}

// OpenDir opens the folder rel below d ("" is d itself, opened again).
func (d *Dir) OpenDir(rel string) (*Dir, error) { return d.open(rel, false) }

// MkdirAll opens the folder rel below d, making what is missing.
func (d *Dir) MkdirAll(rel string) (*Dir, error) { return d.open(rel, true) }

func (d *Dir) open(rel string, create bool) (*Dir, error) {
	if rel != "" && CheckRel(rel) == nil {
		// the common case in one call; a missing folder, a link or
		// anything else is left to the walk, which makes or names it
		fd, err := openDirBeneath(d.fd, rel)
		if err == nil {
			return &Dir{fd: fd, name: d.name + "/" + rel, label: d.label, umask: d.umask}, nil
		}
		if err == unix.ENOENT && create {
			if nd, done, err := d.mkdirLast(rel); done {
				return nd, err
			}
		}
	}
	chain, err := d.walk(rel, create)
	if err != nil {
		return nil, err
	}
	if len(chain) == 1 {
		fd, err := unix.FcntlInt(uintptr(d.fd), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			return nil, err
		}
		return &Dir{fd: fd, name: d.name, label: d.label, umask: d.umask}, nil
	}
	for _, c := range chain[1 : len(chain)-1] {
		c.Close()
	}
	return chain[len(chain)-1], nil
}

// Lstat describes name, an entry directly in d, without following it.
func (d *Dir) Lstat(name string) (unix.Stat_t, error) {
	var st unix.Stat_t
	err := unix.Fstatat(d.fd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
	return st, err
}

// kindOf names what a mode is, when it is not a regular file.
func kindOf[M uint16 | uint32](mode M) string { // uint16 on darwin
	switch uint32(mode) & unix.S_IFMT {
	case unix.S_IFREG:
		return ""
	case unix.S_IFLNK:
		return "is a symbolic link"
	case unix.S_IFDIR:
		return "is a folder"
	}
	return "is not a regular file"
}

// OpenFile opens the regular file rel for reading. A link, a FIFO, a device
// or a folder is refused without blocking.
func (d *Dir) OpenFile(rel string) (*os.File, error) {
	dir, base := split(rel)
	parent, err := d.OpenDir(dir)
	if err != nil {
		return nil, err
	}
	defer parent.Close()
	fd, err := unix.Openat(parent.fd, base, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		if err == unix.ELOOP {
			return nil, &NotFollowedError{Path: d.show(rel), What: "is a symbolic link"}
		}
		return nil, &os.PathError{Op: "open", Path: d.show(rel), Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, &os.PathError{Op: "stat", Path: d.show(rel), Err: err}
	}
	if what := kindOf(st.Mode); what != "" {
		unix.Close(fd)
		return nil, &NotFollowedError{Path: d.show(rel), What: what}
	}
	return os.NewFile(uintptr(fd), d.name+"/"+rel), nil
}

// CreateTemp creates a new file in d with a random name ending in suffix,
// readable by its owner only until the caller changes that.
func (d *Dir) CreateTemp(prefix, suffix string) (*os.File, string, error) {
	return d.CreateTempMode(prefix, suffix, 0o600)
}

// CreateTempMode is CreateTemp with the permissions perm (less the umask):
// for a folder no one else can enter, where perm is what the file will have
// once renamed out of it.
func (d *Dir) CreateTempMode(prefix, suffix string, perm uint32) (*os.File, string, error) {
	fd, name, err := d.CreateTempFd(prefix, suffix, perm)
	if err != nil {
		return nil, "", err
	}
	return os.NewFile(uintptr(fd), d.name+"/"+name), name, nil
}

// CreateTempFd is CreateTempMode giving the bare descriptor, open for
// writing, which the caller closes (no *os.File: one fcntl fewer).
func (d *Dir) CreateTempFd(prefix, suffix string, perm uint32) (int, string, error) {
	for range 10 {
		var b [8]byte
		_, _ = rand.Read(b[:])
		name := prefix + hex.EncodeToString(b[:]) + suffix
		fd, err := unix.Openat(d.fd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, perm)
		if err == unix.EEXIST {
			continue
		}
		if err != nil {
			return -1, "", &os.PathError{Op: "create", Path: d.name + "/" + name, Err: err}
		}
		return fd, name, nil
	}
	return -1, "", fmt.Errorf("create a temporary file in %s: no free name", d.name)
}

// Fd is the folder's descriptor, for *at calls on entries directly in it.
func (d *Dir) Fd() int { return d.fd }

// Install renames from (an entry of src) to rel below d, making rel's
// folders. The target may be missing or a regular file, which is replaced;
// anything else there (a link, a folder) is left alone with a
// *NotFollowedError.
func (d *Dir) Install(src *Dir, from, rel string) error { return d.install(src, from, rel, false) }

// InstallLink is Install for a symbolic link from: the target may also be a
// link, which is replaced (never followed), as bandersnatch replaces the
// index links of keep_index_versions.
func (d *Dir) InstallLink(src *Dir, from, rel string) error { return d.install(src, from, rel, true) }

// SymlinkTemp makes a symbolic link to target in d under a new random name
// beginning with prefix, and returns that name.
func (d *Dir) SymlinkTemp(target, prefix string) (string, error) {
	for range 10 {
		var b [8]byte
		_, _ = rand.Read(b[:])
		name := prefix + hex.EncodeToString(b[:]) + ".tmp"
		err := unix.Symlinkat(target, d.fd, name)
		if err == unix.EEXIST {
			continue
		}
		if err != nil {
			return "", &os.PathError{Op: "symlink", Path: d.name + "/" + name, Err: err}
		}
		return name, nil
	}
	return "", fmt.Errorf("make a link in %s: no free name", d.name)
}

func (d *Dir) install(src *Dir, from, rel string, replaceLink bool) error {
	dir, _ := split(rel)
	parent, err := d.MkdirAll(dir)
	if err != nil {
		return err
	}
	defer parent.Close()
	_, err = d.installIn(parent, src, from, rel, replaceLink, false)
	return err
}

// InstallIn is Install into parent, rel's folder below d, which the caller
// holds open (made with MkdirAll): several files of one folder cost one
// open of it. With lookFirst the target is looked at before the rename (a
// page written again is there already: one call fewer than a refused
// new-file rename); replaced tells whether a file was there, for the next
// file of the folder.
func (d *Dir) InstallIn(parent, src *Dir, from, rel string, lookFirst bool) (replaced bool, err error) {
	return d.installIn(parent, src, from, rel, false, lookFirst)
}

func (d *Dir) installIn(parent, src *Dir, from, rel string, replaceLink, lookFirst bool) (bool, error) {
	_, base := split(rel)
	if !lookFirst {
		// a new file in one call: renamed only when nothing is there
		err := renameNoReplace(src.fd, from, parent.fd, base)
		if err != unix.EEXIST && err != unix.EINVAL && err != unix.ENOSYS {
			return false, d.renameErr(rel, err)
		}
	}
	for {
		st, err := parent.Lstat(base)
		if err == unix.ENOENT {
			err = renameNoReplace(src.fd, from, parent.fd, base)
			if err == unix.EEXIST {
				continue // something appeared: look at it again
			}
			if err == unix.EINVAL || err == unix.ENOSYS {
				err = unix.Renameat(src.fd, from, parent.fd, base) // no RENAME_NOREPLACE here
			}
			return false, d.renameErr(rel, err)
		}
		if err != nil {
			return false, &os.PathError{Op: "stat", Path: d.show(rel), Err: err}
		}
		if what := kindOf(st.Mode); what != "" && !(replaceLink && uint32(st.Mode)&unix.S_IFMT == unix.S_IFLNK) {
			return false, &NotFollowedError{Path: d.show(rel), What: what}
		}
		return true, d.renameErr(rel, unix.Renameat(src.fd, from, parent.fd, base))
	}
}

func (d *Dir) renameErr(rel string, err error) error {
	if err == nil {
		return nil
	}
	return &os.PathError{Op: "rename", Path: d.show(rel), Err: err}
}

// lookup opens the folder of rel and describes rel's last entry without
// following it. found is false, with no error, when rel or a folder on the
// way is missing. The caller closes parent when it is not nil.
func (d *Dir) lookup(rel string) (parent *Dir, base string, st unix.Stat_t, found bool, err error) {
	dir, base := split(rel)
	parent, err = d.OpenDir(dir)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) && pe.Err == unix.ENOENT {
			return nil, base, st, false, nil
		}
		return nil, base, st, false, err
	}
	st, err = parent.Lstat(base)
	switch {
	case err == unix.ENOENT:
		return parent, base, st, false, nil
	case err != nil:
		return parent, base, st, false, &os.PathError{Op: "stat", Path: d.show(rel), Err: err}
	}
	return parent, base, st, true, nil
}

// Unlink removes the regular file rel and tells whether it was there. A file
// already gone is no error; a link or anything but a regular file is left
// alone with a *NotFollowedError. A missing folder on the way counts as gone.
func (d *Dir) Unlink(rel string) (bool, error) {
	parent, base, st, found, err := d.lookup(rel)
	if parent != nil {
		defer parent.Close()
	}
	if !found || err != nil {
		return false, err
	}
	if what := kindOf(st.Mode); what != "" {
		return false, &NotFollowedError{Path: d.show(rel), What: what}
	}
	if err := unix.Unlinkat(parent.fd, base, 0); err != nil {
		if err == unix.ENOENT {
			return false, nil
		}
		return false, &os.PathError{Op: "unlink", Path: d.show(rel), Err: err}
	}
	return true, nil
}

// Prune removes the folder rel and then each parent of it up to d
// (exclusive) while they are empty. It stops quietly at the first folder that
// is not empty, missing or not a folder.
func (d *Dir) Prune(rel string) {
	if rel == "" {
		return
	}
	chain, err := d.walk(rel, false)
	if err != nil {
		// a folder on the way is missing: prune what exists above it
		if dir, _ := split(rel); dir != "" && dir != rel {
			d.Prune(dir)
		}
		return
	}
	defer closeChain(chain)
	segs := strings.Split(rel, "/")
	for i := len(segs) - 1; i >= 0; i-- {
		if err := unix.Unlinkat(chain[i].fd, segs[i], unix.AT_REMOVEDIR); err != nil {
			return
		}
	}
}

// RemoveAll removes rel and everything below it, and tells whether there was
// anything. Entries inside are removed without being followed (a link inside
// is unlinked, never its target). When rel itself, or a folder on the way to
// it, is a link, nothing is removed and the error is a *NotFollowedError. A
// missing rel is no error.
func (d *Dir) RemoveAll(rel string) (bool, error) {
	parent, base, st, found, err := d.lookup(rel)
	if parent != nil {
		defer parent.Close()
	}
	if !found || err != nil {
		return false, err
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return true, removeTree(parent.fd, base, d.show(rel))
	case unix.S_IFREG:
		if err := unix.Unlinkat(parent.fd, base, 0); err != nil && err != unix.ENOENT {
			return false, &os.PathError{Op: "unlink", Path: d.show(rel), Err: err}
		}
		return true, nil
	}
	return false, &NotFollowedError{Path: d.show(rel), What: kindOf(st.Mode)}
}

// removeTree empties the folder name in parentfd, then removes it.
func removeTree(parentfd int, name, rel string) error {
	fd, err := openDirAt(parentfd, name)
	if err != nil {
		if err == unix.ENOENT {
			return nil
		}
		if err == unix.ELOOP || err == unix.ENOTDIR {
			return &NotFollowedError{Path: rel, What: "is no longer a folder"}
		}
		return &os.PathError{Op: "open", Path: rel, Err: err}
	}
	f := os.NewFile(uintptr(fd), rel)
	defer f.Close()
	for {
		entries, rerr := f.ReadDir(256)
		for _, e := range entries {
			child := rel + "/" + e.Name()
			if e.IsDir() {
				if err := removeTree(fd, e.Name(), child); err != nil {
					return err
				}
				continue
			}
			err := unix.Unlinkat(fd, e.Name(), 0)
			if err == unix.EISDIR {
				err = removeTree(fd, e.Name(), child) // became a folder meanwhile
			}
			if err != nil && err != unix.ENOENT {
				return &os.PathError{Op: "unlink", Path: child, Err: err}
			}
		}
		if rerr == io.EOF || len(entries) == 0 {
			break
		}
		if rerr != nil {
			return &os.PathError{Op: "read", Path: rel, Err: rerr}
		}
	}
	if err := unix.Unlinkat(parentfd, name, unix.AT_REMOVEDIR); err != nil && err != unix.ENOENT {
		return &os.PathError{Op: "rmdir", Path: rel, Err: err}
	}
	return nil
}

// Chtimes sets the access and modification times of name, an entry of d,
// without following it.
func (d *Dir) Chtimes(name string, ts [2]unix.Timespec) error {
	return unix.UtimesNanoAt(d.fd, name, ts[:], unix.AT_SYMLINK_NOFOLLOW)
}

// OpenLockFile opens (creating) the regular file name directly in d for
// writing, never through a link.
func (d *Dir) OpenLockFile(name string) (*os.File, error) {
	fd, err := unix.Openat(d.fd, name, unix.O_RDWR|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
	if err != nil {
		if err == unix.ELOOP {
			return nil, &NotFollowedError{Path: d.name + "/" + name, What: "is a symbolic link"}
		}
		return nil, &os.PathError{Op: "open", Path: d.name + "/" + name, Err: err}
	}
	return os.NewFile(uintptr(fd), d.name+"/"+name), nil
}
