package stages

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/bandercheck/bandercheck/sinks/mirrorfiles"
)

// setupDiffFile resolves diff-file when a sync begins, as bandersnatch's
// _setup_diff_file does: its folder is made, -<unix time> is added to the
// name with diff-append-epoch, a folder there means <folder>/mirrored-files,
// and a file there is removed. The path is made absolute so that a resumed
// sync writes the same file. "" stays "".
func setupDiffFile(configured string, appendEpoch bool, now time.Time) (string, error) {
	if configured == "" {
		return "", nil
	}
	p, err := filepath.Abs(configured)
	if err != nil {
		return "", fmt.Errorf("sync: diff-file %s: %w", configured, err)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return "", fmt.Errorf("sync: diff-file %s: make its folder: %w", configured, err)
	}
	if appendEpoch {
		p += "-" + strconv.FormatInt(now.Unix(), 10)
	}
	if fi, err := os.Stat(p); err == nil && fi.IsDir() {
		p = filepath.Join(p, "mirrored-files")
	}
	if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
		if err := os.Remove(p); err != nil {
			return "", fmt.Errorf("sync: diff-file: remove the last one: %w", err)
		}
	}
	return p, nil
}

// writeDiffFile writes the list bandersnatch writes to diff-file: the
// absolute path of each document and page the sync wrote (sync/written),
// then the root index pages when they were rewritten, then each file it
// downloaded (sync/files), one a line with no line feed after the last. It
// is streamed from the manifests into a temporary file renamed into place,
// so a reader never sees half a list and memory does not grow with it.
func writeDiffFile(ctx context.Context, se *syncEnv) (err error) {
	path := se.run.DiffFile
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*.tmp")
	if err != nil {
		return fmt.Errorf("sync: write the diff file: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	w := bufio.NewWriterSize(f, 64<<10)
	first := true
	line := func(rel string) error {
		if !first {
			w.WriteByte('\n')
		}
		first = false
		_, err := w.WriteString(se.linkRoot + "/" + rel)
		return err
	}
	if err := se.g.StateDir().EachRow("sync/written", func(row []string) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		return line(row[0])
	}); err != nil {
		return fmt.Errorf("sync: write the diff file: %w", err)
	}
	if se.run.IndexWritten {
		html, js, _ := mirrorfiles.RootIndexPages(se.opts)
		for _, p := range append(html, js...) {
			if err := line(p); err != nil {
				return fmt.Errorf("sync: write the diff file: %w", err)
			}
		}
	}
	if err := se.g.StateDir().EachRow("sync/files", func(row []string) error {
		if row[6] != "downloaded" {
			return nil
		}
		return line(row[0])
	}); err != nil {
		return fmt.Errorf("sync: write the diff file: %w", err)
	}
	err = errors.Join(w.Flush(), f.Chmod(0o644), f.Sync(), f.Close())
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("sync: write the diff file %s: %w", path, err)
	}
	return nil
}
