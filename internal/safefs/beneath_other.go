//go:build !linux

package safefs

import "golang.org/x/sys/unix"

// openDirBeneath has no openat2 here: ENOSYS, and the caller walks.
func openDirBeneath(dirfd int, rel string) (int, error) { return -1, unix.ENOSYS }
