package pipeline

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// shardName is the file name of shard n (1-based).
func shardName(n int) string { return fmt.Sprintf("%06d.csv.zst", n) }

// shardWriter writes one shard: CSV bytes through zstd into NNNNNN.csv.zst.tmp.
// A shard's first smallShard bytes are held as they are and compressed at
// commit, so a stage that keeps several small manifests open at once (sync
// fetch: projects, files, written) takes one encoder from the pool at a
// time instead of one each for as long as they are open (an encoder's
// tables and history are some 600 KiB of fresh memory in a short sync).
// The compressed bytes are the same either way: the encoder cuts blocks by
// what it is given, not by how it is handed over.
type shardWriter struct {
	final string
	f     *os.File
	bw    *bufio.Writer // between a streaming encoder and f; nil for a shard compressed whole
	zw    *zstd.Encoder // nil while the shard is held in raw
	raw   *[]byte       // the shard's bytes until it passes smallShard
	rows  int
}

// smallShard is the most bytes of a shard held before it is compressed.
const smallShard = 64 << 10

var rawShards = sync.Pool{New: func() any { b := make([]byte, 0, smallShard); return &b }}

func createShard(dir string, n int, header []byte) (*shardWriter, error) {
	final := filepath.Join(dir, shardName(n))
	f, err := os.OpenFile(final+".tmp", os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create shard: %w", err)
	}
	w := &shardWriter{final: final, f: f, raw: rawShards.Get().(*[]byte)}
	if err := w.write(header, 0); err != nil {
		return nil, errors.Join(err, w.abort())
	}
	return w, nil
}

// write appends encoded CSV rows.
func (w *shardWriter) write(p []byte, rows int) error {
	if w.zw == nil && len(*w.raw)+len(p) <= smallShard {
		*w.raw = append(*w.raw, p...)
		w.rows += rows
		return nil
	}
	if err := w.compress(false); err != nil {
		return err
	}
	if _, err := w.zw.Write(p); err != nil {
		return fmt.Errorf("write shard %s: %w", w.final, err)
	}
	w.rows += rows
	return nil
}

// compress takes an encoder for the shard, when it has none, and hands it
// the bytes held so far. A shard that passes smallShard streams through a
// buffer; one compressed whole at its commit (whole) is one block, written
// to the file at once, with no buffer (256 KiB a shard before).
func (w *shardWriter) compress(whole bool) error {
	if w.zw != nil {
		return nil
	}
	var out io.Writer = w.f
	if !whole {
		w.bw = bufio.NewWriterSize(w.f, 256<<10)
		out = w.bw
	}
	w.zw = getEncoder(&encoderPool, out)
	_, err := w.zw.Write(*w.raw)
	w.dropRaw()
	if err != nil {
		return fmt.Errorf("write shard %s: %w", w.final, err)
	}
	return nil
}

func (w *shardWriter) dropRaw() {
	if w.raw != nil {
		*w.raw = (*w.raw)[:0]
		rawShards.Put(w.raw)
		w.raw = nil
	}
}

// commit finishes the zstd frame, syncs, and renames the shard into place.
// It returns the shard's size in bytes.
func (w *shardWriter) commit() (int64, error) {
	err := w.compress(true)
	if err == nil {
		err = w.zw.Close()
	}
	if w.zw != nil {
		putEncoder(&encoderPool, w.zw)
		w.zw = nil
	}
	if err == nil && w.bw != nil {
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
	w.dropRaw()
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
