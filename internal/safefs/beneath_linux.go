package safefs

import "golang.org/x/sys/unix"

// openDirBeneath opens the folder rel below dirfd in one call: openat2 with
// RESOLVE_NO_SYMLINKS (a link in any component is refused, never followed)
// and RESOLVE_BENEATH (nothing outside dirfd is reached). Any error, ENOSYS
// on a kernel before 5.6 included, sends the caller to the walk one
// component at a time, which names what it met.
func openDirBeneath(dirfd int, rel string) (int, error) {
	how := unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_BENEATH,
	}
	for {
		fd, err := unix.Openat2(dirfd, rel, &how)
		if err != unix.EINTR {
			return fd, err
		}
	}
}
