package posixstore

import (
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

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

// syncfs makes every write to fd's file system durable.
func syncfs(fd int) error { return unix.Syncfs(fd) }

// statTimes are a stat's modification and change times.
func statTimes(st *unix.Stat_t) (mtime, ctime time.Time) {
	return time.Unix(st.Mtim.Unix()), time.Unix(st.Ctim.Unix())
}

// sysCtime is a stat's change time.
func sysCtime(st *syscall.Stat_t) time.Time { return time.Unix(st.Ctim.Unix()) }
