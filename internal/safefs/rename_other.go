//go:build !linux

package safefs

import "golang.org/x/sys/unix"

// renameNoReplace has no such call here: ENOSYS, and the caller renames
// after its own look, as on a kernel without RENAME_NOREPLACE.
func renameNoReplace(fromfd int, from string, tofd int, to string) error {
	return unix.ENOSYS
}
