package safefs

import "golang.org/x/sys/unix"

// renameNoReplace renames without replacing what is there (EEXIST then);
// EINVAL or ENOSYS where the file system or kernel cannot.
func renameNoReplace(fromfd int, from string, tofd int, to string) error {
	return unix.Renameat2(fromfd, from, tofd, to, unix.RENAME_NOREPLACE)
}
