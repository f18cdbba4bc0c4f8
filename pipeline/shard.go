package pipeline

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/klauspost/compress/zstd"
)

// shardName is the file name of shard n (1-based).
func shardName(n int) string { return fmt.Sprintf("%06d.csv.zst", n) }

// shardWriter writes one shard: CSV bytes through zstd into NNNNNN.csv.zst.tmp.
type shardWriter struct {
	final string
	f     *os.File
	bw    *bufio.Writer
	zw    *zstd.Encoder
	rows  int
}

func createShard(dir string, n int, header []byte) (*shardWriter, error) {
	final := filepath.Join(dir, shardName(n))
	f, err := os.OpenFile(final+".tmp", os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create shard: %w", err)
	}
	w := &shardWriter{final: final, f: f, bw: bufio.NewWriterSize(f, 256<<10)}
	w.zw = getEncoder(&encoderPool, w.bw)
	if _, err := w.zw.Write(header); err != nil {
		return nil, errors.Join(fmt.Errorf("write shard %s: %w", final, err), w.abort())
	}
	return w, nil
}

// write appends encoded CSV rows.
func (w *shardWriter) write(p []byte, rows int) error {
	if _, err := w.zw.Write(p); err != nil {
		return fmt.Errorf("write shard %s: %w", w.final, err)
	}
	w.rows += rows
	return nil
}

// commit finishes the zstd frame, syncs, and renames the shard into place.
// It returns the shard's size in bytes.
func (w *shardWriter) commit() (int64, error) {
	err := w.zw.Close()
	putEncoder(&encoderPool, w.zw)
	w.zw = nil
	if err == nil {
		err = w.bw.Flush()
	}
	if err == nil {
		err = w.f.Sync()
	}
	var size int64
	if err == nil {
		var st os.FileInfo
		if st, err = w.f.Stat(); err == nil {
			size = st.Size()
		}
	}
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(w.final+".tmp", w.final)
	}
	if err != nil {
		_ = os.Remove(w.final + ".tmp")
		return 0, fmt.Errorf("commit shard %s: %w", w.final, err)
	}
	return size, nil
}

// abort drops the shard.
func (w *shardWriter) abort() error {
	if w.zw != nil {
		_ = w.zw.Close()
		putEncoder(&encoderPool, w.zw)
		w.zw = nil
	}
	err := w.f.Close()
	if rerr := os.Remove(w.final + ".tmp"); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
		err = errors.Join(err, rerr)
	}
	return err
}
