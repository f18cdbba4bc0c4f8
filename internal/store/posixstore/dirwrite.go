package posixstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/bandercheck/bandercheck/internal/crashpoint"
	"github.com/bandercheck/bandercheck/internal/safefs"
	"github.com/bandercheck/bandercheck/internal/store"
)

// dirWriter is the write side of a Store. Every path is walked from
// descriptors held open since the first write, one component at a time,
// never following a link: a link met anywhere below web/packages (or below
// the root for the root indexes and removals) is a per-file failure naming
// it. The root itself and web/packages may be links (a separate volume):
// they are resolved once, when the descriptors are opened.
//
// Downloads are written in web/packages/.bandercheck-tmp/ (the file system of
// their targets, so the final rename is atomic; scan storage skips it), and
// renamed into place when complete, making their folders only then.
type dirWriter struct {
	root     string
	rootDir  *safefs.Dir
	packages *safefs.Dir

	// the two staging folders, held open from their first use to the
	// next clearStaging (one per write saved two calls); a held one found
	// gone is retired, and retired ones are closed with the writer, never
	// while a write may still use them
	smu     sync.Mutex
	staged  map[*safefs.Dir]stagingDir // by target folder (rootDir, packages)
	retired []*safefs.Dir
}

// stagingDir is a held staging folder. A private one (mode 0700: no one
// else can enter it, so nothing in it can be read through it before it is
// renamed into place) takes files with their final mode at once.
type stagingDir struct {
	dir     *safefs.Dir
	private bool
}

// packagesPrefix is the prefix of the keys that live below web/packages.
const packagesPrefix = "web/packages/"

// writer opens the descriptors writes and Hash go through, once.
func (d *Store) writer() (*dirWriter, error) {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	if d.w != nil {
		return d.w, nil
	}
	rd, err := safefs.OpenRoot(d.root, "")
	if err != nil {
		return nil, fmt.Errorf("open mirror %s: %w", d.root, err)
	}
	pd, err := safefs.OpenRoot(filepath.Join(d.root, "web", "packages"), "web/packages")
	if err != nil {
		rd.Close()
		return nil, fmt.Errorf("open mirror %s: %w", d.root, err)
	}
	d.w = &dirWriter{root: d.root, rootDir: rd, packages: pd}
	return d.w, nil
}

// Flush makes every Deferred write durable: syncfs(2) on the mirror's file
// system, and on web/packages' when that is another volume.
func (d *Store) Flush(ctx context.Context) error {
	w, err := d.writer()
	if err != nil {
		return err
	}
	if err := syncfs(int(w.rootDir.Fd())); err != nil {
		return fmt.Errorf("flush mirror %s: %w", d.root, err)
	}
	if err := syncfs(int(w.packages.Fd())); err != nil {
		return fmt.Errorf("flush mirror %s/web/packages: %w", d.root, err)
	}
	return nil
}

var (
	_ store.Flusher = (*Store)(nil)
	_ store.Linker  = (*Store)(nil)
)

// Close releases the descriptors writes went through.
func (d *Store) Close() error {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	if d.w == nil {
		return nil
	}
	err := errors.Join(d.w.closeStaging(), d.w.packages.Close(), d.w.rootDir.Close())
	d.w = nil
	return err
}

// Create starts writing key; nothing is visible until Commit. A file below
// web/packages is staged in web/packages' staging folder, any other (a page,
// a document, the root index) in the root's; both go when the lock does.
func (d *Store) Create(ctx context.Context, key string, meta store.Meta) (store.Upload, error) {
	w, err := d.writer()
	if err != nil {
		return nil, err
	}
	return w.create(key, meta)
}

// Symlink implements store.Linker: the link is made in the staging folder
// and renamed over key, so a reader sees the old entry or the new link.
func (d *Store) Symlink(ctx context.Context, key, target string) error {
	w, err := d.writer()
	if err != nil {
		return err
	}
	dir, rel, err := w.locate(key)
	if err != nil {
		return err
	}
	sd, err := w.staging(dir)
	if err != nil {
		return classify(key, err)
	}
	staging := sd.dir
	name, err := staging.SymlinkTemp(target, ".bandercheck-")
	if errors.Is(err, unix.ENOENT) { // the staging folder went: make it again
		if sd, err = w.restage(dir, staging); err == nil {
			staging = sd.dir
			name, err = staging.SymlinkTemp(target, ".bandercheck-")
		}
	}
	if err != nil {
		return classify(key, err)
	}
	if err := dir.InstallLink(staging, name, rel); err != nil {
		_ = unix.Unlinkat(staging.Fd(), name, 0)
		return classify(key, err)
	}
	return nil
}

// MkdirAll makes the folder key (relative to the root) and what is
// missing above it, never following a link.
func (d *Store) MkdirAll(ctx context.Context, key string) error {
	w, err := d.writer()
	if err != nil {
		return err
	}
	target, rel, err := w.locate(key + "/x")
	if err != nil {
		return err
	}
	dir, _ := splitKey(rel)
	if dir == "" {
		return nil
	}
	f, err := target.MkdirAll(dir)
	if err != nil {
		return classify(key, err)
	}
	return f.Close()
}

// Remove deletes files, then the folders left empty up to web/packages (also
// when the file was already gone: a kill between the two). The result has
// one error (or nil) per key; the second is the mirror's own failure.
func (d *Store) Remove(ctx context.Context, keys []string) ([]error, error) {
	w, err := d.writer()
	if err != nil {
		return nil, err
	}
	return w.remove(ctx, keys)
}

// RemoveTree deletes everything under a folder key ending in '/'.
func (d *Store) RemoveTree(ctx context.Context, prefix string) error {
	w, err := d.writer()
	if err != nil {
		return err
	}
	return w.removeTree(prefix)
}

// Present tells, never through a link, whether key holds a regular file of
// size (-1: any) whose sha256 is sum ("": any).
func (d *Store) Present(ctx context.Context, key string, size int64, sum string) (bool, error) {
	w, err := d.writer()
	if err != nil {
		return false, err
	}
	_, ok, err := w.present(key, size, sum)
	return ok, err
}

// PresentObject implements store.ObjectPresenter: Present, and when the
// file is there, what it is (as Stat tells it) from the descriptor it read.
func (d *Store) PresentObject(ctx context.Context, key string, size int64, sum string) (store.Object, bool, error) {
	w, err := d.writer()
	if err != nil {
		return store.Object{}, false, err
	}
	return w.present(key, size, sum)
}

// Lock takes a non-blocking exclusive flock on <root>/.lock, the lock
// bandersnatch takes while it syncs, or refuses with a *store.LockedError.
// Under it no other apply runs, so what is staged is left from a kill and is
// cleared; unlocking clears the staging folder again and releases the
// descriptors.
func (d *Store) Lock(ctx context.Context) (func() error, error) {
	w, err := d.writer()
	if err != nil {
		return nil, err
	}
	unlock, err := w.lock()
	if err != nil {
		return nil, errors.Join(err, d.Close())
	}
	return func() error { return errors.Join(unlock(), d.Close()) }, nil
}

// locate picks the held folder a key lives below, and the key relative to it.
func (d *dirWriter) locate(key string) (*safefs.Dir, string, error) {
	if err := safefs.CheckRel(key); err != nil {
		return nil, "", &PathError{Key: key, Err: err}
	}
	if rest, ok := strings.CutPrefix(key, packagesPrefix); ok {
		if rest == store.TempDir || strings.HasPrefix(rest, store.TempDir+"/") {
			return nil, "", &PathError{Key: key, Err: errors.New("is bandercheck's own staging folder")}
		}
		return d.packages, rest, nil
	}
	if key == store.TempDir || strings.HasPrefix(key, store.TempDir+"/") {
		return nil, "", &PathError{Key: key, Err: errors.New("is bandercheck's own staging folder")}
	}
	return d.rootDir, key, nil
}

type dirUpload struct {
	d      *dirWriter
	dir    *safefs.Dir // where the temporary file is
	fd     int         // the temporary file, open for writing (-1 once closed)
	name   string
	key    string
	target *safefs.Dir
	rel    string
	meta   store.Meta
	chmod  bool // made 0600: Commit gives it its mode
}

func (d *dirWriter) create(key string, meta store.Meta) (store.Upload, error) {
	u, err := d.createUpload(key, meta)
	if err != nil {
		return nil, err
	}
	return u, nil
}

func (d *dirWriter) createUpload(key string, meta store.Meta) (*dirUpload, error) {
	target, rel, err := d.locate(key)
	if err != nil {
		return nil, err
	}
	// staged where the rename into place stays on one file system: web/packages
	// (it may be another volume) or the root; both folders go when the lock does
	sd, err := d.staging(target)
	if err != nil {
		return nil, classify(key, err)
	}
	perm := modeOf(meta)
	createTemp := func(sd stagingDir) (int, string, bool, error) {
		if m, ok := sd.dir.Umask(); ok && sd.private && m&perm == 0 {
			fd, name, err := sd.dir.CreateTempFd(".bandercheck-", ".tmp", perm)
			return fd, name, false, err
		}
		fd, name, err := sd.dir.CreateTempFd(".bandercheck-", ".tmp", 0o600) // 0600 until Commit
		return fd, name, true, err
	}
	fd, name, chmod, err := createTemp(sd)
	if errors.Is(err, unix.ENOENT) { // the staging folder went: make it again
		if sd, err = d.restage(target, sd.dir); err == nil {
			fd, name, chmod, err = createTemp(sd)
		}
	}
	if err != nil {
		return nil, classify(key, err)
	}
	return &dirUpload{d: d, dir: sd.dir, fd: fd, name: name, key: key, target: target, rel: rel, meta: meta, chmod: chmod}, nil
}

func splitKey(key string) (string, string) {
	if i := strings.LastIndexByte(key, '/'); i >= 0 {
		return key[:i], key[i+1:]
	}
	return "", key
}

// Write writes p whole to the temporary file (on the bare descriptor: an
// *os.File would cost an fcntl to set up).
func (u *dirUpload) Write(p []byte) (int, error) {
	if u.fd < 0 {
		return 0, fmt.Errorf("write %s: %w", u.key, os.ErrClosed)
	}
	n := 0
	for n < len(p) {
		m, err := unix.Write(u.fd, p[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return n, &os.PathError{Op: "write", Path: u.dir.Name() + "/" + u.name, Err: err}
		}
		if m == 0 {
			return n, &os.PathError{Op: "write", Path: u.dir.Name() + "/" + u.name, Err: io.ErrShortWrite}
		}
		n += m
	}
	return n, nil
}

// modeOf is the permissions a file gets: meta.Mode, or 0644.
func modeOf(meta store.Meta) uint32 {
	if meta.Mode != 0 {
		return meta.Mode & 0o777
	}
	return 0o644
}

func (u *dirUpload) Commit(ctx context.Context) error {
	return u.commit(func() error { return u.target.Install(u.dir, u.name, u.rel) })
}

// commit completes the temporary file (mode, fsync unless Deferred, its
// date), closes it, and puts it in place with install.
func (u *dirUpload) commit(install func() error) error {
	if u.fd < 0 {
		return fmt.Errorf("commit %s: %w", u.key, os.ErrClosed)
	}
	var err error
	if u.chmod {
		err = fchmod(u.fd, modeOf(u.meta))
	}
	if err == nil && !u.meta.Deferred {
		err = fsync(u.fd)
	}
	if cerr := unix.Close(u.fd); err == nil && cerr != nil {
		err = &os.PathError{Op: "close", Path: u.dir.Name() + "/" + u.name, Err: cerr}
	}
	u.fd = -1
	if err == nil && !u.meta.Uploaded.IsZero() {
		ts := unix.NsecToTimespec(u.meta.Uploaded.UnixNano())
		err = u.dir.Chtimes(u.name, [2]unix.Timespec{ts, ts})
	}
	if err == nil {
		err = install()
	}
	if err != nil {
		_ = unix.Unlinkat(u.dir.Fd(), u.name, 0)
		return classify(u.key, err)
	}
	return nil
}

func (u *dirUpload) Abort() error {
	if u.fd >= 0 {
		_ = unix.Close(u.fd)
		u.fd = -1
	}
	err := unix.Unlinkat(u.dir.Fd(), u.name, 0)
	if err != nil && err != unix.ENOENT {
		return fmt.Errorf("discard the download of %s: %w", u.key, err)
	}
	return nil
}

// fchmod and fsync retry when a signal interrupts them.
func fchmod(fd int, mode uint32) error {
	for {
		err := unix.Fchmod(fd, mode)
		if err != unix.EINTR {
			return wrapErrno("chmod", err)
		}
	}
}

func fsync(fd int) error {
	for {
		err := unix.Fsync(fd)
		if err != unix.EINTR {
			return wrapErrno("fsync", err)
		}
	}
}

func wrapErrno(op string, err error) error {
	if err == nil {
		return nil
	}
	return os.NewSyscallError(op, err)
}

// WriteFiles implements store.FilesWriter: each file is written as Create,
// Write and Commit would write it, in order, and the folder of a run of
// files that share one is opened once for all of them; once a file of it
// was found in place, the next are looked at before they are renamed (a
// project's pages written again).
func (d *Store) WriteFiles(ctx context.Context, files []store.File) error {
	w, err := d.writer()
	if err != nil {
		return err
	}
	var parent *safefs.Dir
	var parentOf *safefs.Dir // the held folder parent is below
	parentRel, lookFirst := "", false
	defer func() {
		if parent != nil {
			parent.Close()
		}
	}()
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		u, err := w.createUpload(f.Key, f.Meta)
		if err != nil {
			return fmt.Errorf("write %s: %w", f.Key, err)
		}
		if _, err := u.Write(f.Data); err != nil {
			return errors.Join(fmt.Errorf("write %s: %w", f.Key, err), u.Abort())
		}
		dir, _ := splitKey(u.rel)
		if parent == nil || parentOf != u.target || parentRel != dir {
			if parent != nil {
				parent.Close()
				parent = nil
			}
			p, err := u.target.MkdirAll(dir)
			if err != nil {
				return errors.Join(fmt.Errorf("write %s: %w", f.Key, classify(f.Key, err)), u.Abort())
			}
			parent, parentOf, parentRel, lookFirst = p, u.target, dir, false
		}
		if err := u.commit(func() error {
			replaced, err := u.target.InstallIn(parent, u.dir, u.name, u.rel, lookFirst)
			lookFirst = replaced
			return err
		}); err != nil {
			return fmt.Errorf("write %s: %w", f.Key, err)
		}
	}
	return nil
}

func (d *dirWriter) remove(ctx context.Context, keys []string) ([]error, error) {
	errs := make([]error, len(keys))
	for i, key := range keys {
		if err := ctx.Err(); err != nil {
			return errs, err
		}
		dir, rel, err := d.locate(key)
		removed := false
		if err == nil {
			removed, err = dir.Unlink(rel)
		}
		if err != nil {
			if isSinkFailure(err) {
				return errs, fmt.Errorf("delete %s: %w", key, err)
			}
			errs[i] = classify(key, err)
			continue
		}
		if removed {
			crashpoint.Hit("unlink")
		}
		if dir == d.packages {
			if parent, _ := splitKey(rel); parent != "" {
				dir.Prune(parent)
			}
		}
	}
	return errs, nil
}

func (d *dirWriter) removeTree(prefix string) error {
	dir, rel, err := d.locate(strings.TrimSuffix(prefix, "/"))
	removed := false
	if err == nil {
		removed, err = dir.RemoveAll(rel)
	}
	if err != nil {
		if isSinkFailure(err) {
			return fmt.Errorf("remove %s: %w", prefix, err)
		}
		return classify(prefix, err)
	}
	if removed {
		crashpoint.Hit("remove")
	}
	return nil
}

func (d *dirWriter) lock() (func() error, error) {
	path := filepath.Join(d.root, ".lock")
	f, err := d.rootDir.OpenLockFile(".lock")
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &store.LockedError{Msg: fmt.Sprintf("the mirror is locked (%s is held: a bandersnatch sync is running): apply did nothing; run it again when the sync has finished", path)}
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := d.clearStaging(); err != nil {
		f.Close()
		return nil, err
	}
	return func() error {
		return errors.Join(d.clearStaging(), syscall.Flock(int(f.Fd()), syscall.LOCK_UN), f.Close())
	}, nil
}

// staging is the staging folder of target (d.rootDir or d.packages),
// made and opened at its first use, then held.
func (d *dirWriter) staging(target *safefs.Dir) (stagingDir, error) {
	d.smu.Lock()
	defer d.smu.Unlock()
	if s, ok := d.staged[target]; ok {
		return s, nil
	}
	dir, err := target.MkdirAll(store.TempDir)
	if err != nil {
		return stagingDir{}, err
	}
	// private when it can be made so (a folder of another owner stays as
	// it is, and its files are made 0600 until they are complete)
	s := stagingDir{dir: dir, private: unix.Fchmod(dir.Fd(), 0o700) == nil}
	if d.staged == nil {
		d.staged = map[*safefs.Dir]stagingDir{}
	}
	d.staged[target] = s
	return s, nil
}

// restage retires old, a held staging folder that is gone (removed by
// hand), and opens target's staging folder again.
func (d *dirWriter) restage(target, old *safefs.Dir) (stagingDir, error) {
	d.smu.Lock()
	if d.staged[target].dir == old {
		delete(d.staged, target)
		d.retired = append(d.retired, old)
	}
	d.smu.Unlock()
	return d.staging(target)
}

// closeStaging releases the held staging folders; no write is under way.
func (d *dirWriter) closeStaging() error {
	d.smu.Lock()
	defer d.smu.Unlock()
	var errs []error
	for _, s := range d.staged {
		errs = append(errs, s.dir.Close())
	}
	for _, s := range d.retired {
		errs = append(errs, s.Close())
	}
	d.staged, d.retired = nil, nil
	return errors.Join(errs...)
}

// clearStaging removes what a killed run left in the staging folders.
func (d *dirWriter) clearStaging() error {
	if err := d.closeStaging(); err != nil {
		return fmt.Errorf("clear the staging folders: %w", err)
	}
	if _, err := d.packages.RemoveAll(store.TempDir); err != nil {
		return fmt.Errorf("clear web/packages/%s: %w", store.TempDir, err)
	}
	if _, err := d.rootDir.RemoveAll(store.TempDir); err != nil {
		return fmt.Errorf("clear %s: %w", store.TempDir, err)
	}
	return nil
}

// PathError is a failure of one key (a link on its path, a file where a
// folder belongs, a name the system refuses): apply records a failed row and
// goes on.
type PathError struct {
	Key string
	Err error
}

func (e *PathError) Error() string { return fmt.Sprintf("%s: %v", e.Key, e.Err) }
func (e *PathError) Unwrap() error { return e.Err }

// classify wraps errors of one path in *PathError; errors of the mirror
// itself (full, read-only, denied, I/O) are returned as they are.
func classify(key string, err error) error {
	if err == nil || isSinkFailure(err) {
		return err
	}
	var pe *PathError
	if errors.As(err, &pe) {
		return err
	}
	var nf *safefs.NotFollowedError
	if errors.As(err, &nf) || errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.EISDIR) ||
		errors.Is(err, unix.ENAMETOOLONG) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EEXIST) ||
		errors.Is(err, unix.ENOTEMPTY) || errors.Is(err, unix.ELOOP) || errors.Is(err, unix.EILSEQ) {
		return &PathError{Key: key, Err: err}
	}
	return err
}

// isSinkFailure tells errors of the mirror itself (full, read-only, denied),
// which stop apply, from errors of one file.
func isSinkFailure(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EROFS) || errors.Is(err, syscall.EDQUOT) ||
		errors.Is(err, os.ErrPermission) || errors.Is(err, syscall.EIO)
}

func (d *dirWriter) present(key string, size int64, sum string) (store.Object, bool, error) {
	dir, rel, err := d.locate(key)
	if err != nil {
		return store.Object{}, false, nil
	}
	// the file itself in one call, no link on the way followed
	fd, err := openBeneath(dir.Fd(), rel)
	if err == unix.ENOSYS { // a kernel before 5.6
		return d.presentWalk(dir, key, rel, size, sum)
	}
	if err != nil {
		if err == unix.ENOSPC || err == unix.EROFS || err == unix.EDQUOT || err == unix.EIO {
			return store.Object{}, false, fmt.Errorf("read %s: %w", key, err)
		}
		return store.Object{}, false, nil // missing, a link, not a regular file: fetch (and refuse to install) it
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG || size >= 0 && st.Size != size {
		return store.Object{}, false, nil
	}
	mtime, ctime := statTimes(&st)
	o := store.Object{Key: key, Size: st.Size, Modified: mtime, Kind: store.Regular, Inode: st.Ino, Changed: ctime}
	if sum == "" {
		return o, true, nil
	}
	h := sha256.New()
	buf := presentBufs.Get().(*[]byte)
	defer presentBufs.Put(buf)
	for {
		n, err := unix.Read(fd, *buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return store.Object{}, false, nil
		}
		if n == 0 {
			break
		}
		h.Write((*buf)[:n])
	}
	return o, hex.EncodeToString(h.Sum(nil)) == sum, nil
}

// presentWalk is present where openat2 is missing: the file opened by
// walking its folders one by one, never following a link either.
func (d *dirWriter) presentWalk(dir *safefs.Dir, key, rel string, size int64, sum string) (store.Object, bool, error) {
	f, err := dir.OpenFile(rel)
	if err != nil {
		if isSinkFailure(err) && !errors.Is(err, os.ErrPermission) {
			return store.Object{}, false, fmt.Errorf("read %s: %w", key, err)
		}
		return store.Object{}, false, nil
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || size >= 0 && fi.Size() != size {
		return store.Object{}, false, nil
	}
	o := store.Object{Key: key, Size: fi.Size(), Modified: fi.ModTime(), Kind: store.Regular}
	o.Inode, o.Changed = inodeOf(fi)
	if sum == "" {
		return o, true, nil
	}
	h := sha256.New()
	buf := presentBufs.Get().(*[]byte)
	defer presentBufs.Put(buf)
	// (through a plain Reader: *os.File's WriteTo would take a buffer of its own)
	if _, err := io.CopyBuffer(h, struct{ io.Reader }{f}, *buf); err != nil {
		return store.Object{}, false, nil
	}
	return o, hex.EncodeToString(h.Sum(nil)) == sum, nil
}

// presentBufs are present's read buffers: a sync checks every file of each
// project it syncs, and a new 32 KiB buffer for each was the largest part
// of what an incremental sync allocated.
var presentBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}
