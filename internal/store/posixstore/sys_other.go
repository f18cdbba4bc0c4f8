//go:build !linux

package posixstore

import (
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// openBeneath has no openat2 here: ENOSYS, and the caller walks the folders
// one by one (hashFallback), following no link either.
func openBeneath(dirfd int, rel string) (int, error) { return -1, unix.ENOSYS }

// syncfs has no per-file-system call here: every file system is synced.
func syncfs(fd int) error { return unix.Sync() }

// statTimes are a stat's modification and change times.
func statTimes(st *unix.Stat_t) (mtime, ctime time.Time) {
	return time.Unix(st.Mtim.Unix()), time.Unix(st.Ctim.Unix())
}

// sysCtime is a stat's change time.
func sysCtime(st *syscall.Stat_t) time.Time { return time.Unix(st.Ctimespec.Unix()) }
