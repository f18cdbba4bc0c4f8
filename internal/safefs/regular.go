package safefs

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// OpenRegular opens a file an operator named (a config, a requirements
// file, the metrics file) for reading as the mirror's files are opened:
// without blocking (a FIFO or a device is refused at once, not waited on),
// and only when fstat says it is a regular file. Links in path are followed:
// the operator chose the path.
func OpenRegular(path string) (*os.File, error) {
	return openRegular(path, 0)
}

// OpenRegularNoFollow is OpenRegular for a file of our own, whose last
// component must not be a symbolic link.
func OpenRegularNoFollow(path string) (*os.File, error) {
	return openRegular(path, unix.O_NOFOLLOW)
}

func openRegular(path string, extra int) (*os.File, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC|extra, 0)
	if err != nil {
		if err == unix.ELOOP && extra&unix.O_NOFOLLOW != 0 {
			return nil, &NotFollowedError{Path: path, What: "is a symbolic link"}
		}
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	if what := kindOf(st.Mode); what != "" {
		unix.Close(fd)
		return nil, &NotFollowedError{Path: path, What: what}
	}
	return os.NewFile(uintptr(fd), path), nil
}

// TooLargeError says a file holds more than a reader takes in memory.
type TooLargeError struct {
	Path  string
	Limit int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("%s holds more than %d bytes, more than bandercheck reads into memory: is it the right file?", e.Path, e.Limit)
}

// ReadRegular reads the whole regular file at path (see OpenRegular),
// refusing one of more than limit bytes without reading it all.
func ReadRegular(path string, limit int64) ([]byte, error) {
	f, err := OpenRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readLimited(f, path, limit)
}

// ReadRegularNoFollow is ReadRegular for a file of our own, whose last
// component must not be a symbolic link.
func ReadRegularNoFollow(path string, limit int64) ([]byte, error) {
	f, err := OpenRegularNoFollow(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readLimited(f, path, limit)
}

func readLimited(f *os.File, path string, limit int64) ([]byte, error) {
	if st, err := f.Stat(); err == nil && st.Size() > limit {
		return nil, &TooLargeError{Path: path, Limit: limit}
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(data)) > limit {
		return nil, &TooLargeError{Path: path, Limit: limit}
	}
	return data, nil
}

// CreateFresh creates a file of our own at path for writing, mode 0600,
// after removing whatever was there: a link put in its place is removed,
// never written through, and a FIFO is never waited on.
func CreateFresh(path string) (*os.File, error) {
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, &os.PathError{Op: "create", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), path), nil
}
