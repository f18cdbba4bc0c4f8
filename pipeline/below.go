package pipeline

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
)

// CheckNoLinks walks the state directory dir (never following a link) and
// refuses it when anything in it is a symbolic link, a FIFO, a device or a
// socket: bandercheck writes only folders and regular files there, so such
// an entry was put there by someone else, and reading, writing or removing
// through it (STATE/tmp pointing elsewhere, a shard that is a FIFO) would act
// outside STATE or hang.
func CheckNoLinks(dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed while walked
			}
			return fmt.Errorf("state directory %s: %w", dir, err)
		}
		if d.IsDir() || d.Type().IsRegular() {
			return nil
		}
		what := "is not a regular file or folder"
		if d.Type()&fs.ModeSymlink != 0 {
			what = "is a symbolic link"
		}
		return &UsageError{Msg: fmt.Sprintf("%s %s: bandercheck never follows or reads such an entry in its state directory; remove it (or start over with another --state)", p, what)}
	})
}
