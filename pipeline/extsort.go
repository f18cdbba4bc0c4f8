package pipeline

import (
	"bufio"
	"bytes"
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/klauspost/compress/zstd"
)

// Sorter sorts rows by a key in bounded memory: rows collect in an arena
// until it holds memory bytes, then are sorted and written as a run file;
// Sort merges the runs with a heap. Rows with equal keys keep their input
// order. Run files live in a folder of their own under dir and are removed
// by Close.
type Sorter struct {
	dir     string
	runDir  string
	limit   int
	ncols   int
	key     func(row []string) string
	arena   []byte
	idx     []sortEntry
	runs    []string
	scratch []byte
	rows    int64
}

// sortEntry locates one record in the arena: key bytes then encoded fields.
type sortEntry struct {
	off  int
	klen int32
	rlen int32
}

// NewSorter makes a sorter of rows with ncols fields, ordered by key(row),
// using about memory bytes and run files under dir.
func NewSorter(dir string, memory int64, ncols int, key func(row []string) string) *Sorter {
	limit := max(int(memory), 1<<16)
	return &Sorter{dir: dir, limit: limit, ncols: ncols, key: key}
}

// Add copies a row into the sorter.
func (s *Sorter) Add(row []string) error {
	if len(row) != s.ncols {
		return fmt.Errorf("sort: row has %d fields, want %d", len(row), s.ncols)
	}
	k := s.key(row)
	rec := appendRecord(s.scratch[:0], row)
	s.scratch = rec
	need := len(k) + len(rec)
	if s.arena == nil {
		s.arena = make([]byte, 0, min(s.limit, 1<<20))
	}
	if len(s.arena)+need+24*(len(s.idx)+1) > s.limit && len(s.idx) > 0 {
		if err := s.spill(); err != nil {
			return err
		}
	}
	off := len(s.arena)
	s.arena = append(s.arena, k...)
	s.arena = append(s.arena, rec...)
	s.idx = append(s.idx, sortEntry{off: off, klen: int32(len(k)), rlen: int32(len(rec))})
	s.rows++
	return nil
}

// Rows is the number of rows added.
func (s *Sorter) Rows() int64 { return s.rows }

func (s *Sorter) keyOf(e sortEntry) []byte { return s.arena[e.off : e.off+int(e.klen)] }

func (s *Sorter) sortMemory() {
	slices.SortFunc(s.idx, func(a, b sortEntry) int {
		if c := bytes.Compare(s.keyOf(a), s.keyOf(b)); c != 0 {
			return c
		}
		return a.off - b.off
	})
}

// spill sorts the arena and writes it as a run.
func (s *Sorter) spill() error {
	s.sortMemory()
	if s.runDir == "" {
		if err := os.MkdirAll(s.dir, 0o755); err != nil {
			return fmt.Errorf("sort: %w", err)
		}
		d, err := os.MkdirTemp(s.dir, "sort-")
		if err != nil {
			return fmt.Errorf("sort: %w", err)
		}
		s.runDir = d
	}
	path := filepath.Join(s.runDir, fmt.Sprintf("run-%05d.zst", len(s.runs)+1))
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("sort: %w", err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	zw := getEncoder(bw)
	var hdr [2 * binary.MaxVarintLen64]byte
	for _, e := range s.idx {
		n := binary.PutUvarint(hdr[:], uint64(e.klen))
		n += binary.PutUvarint(hdr[n:], uint64(e.rlen))
		if _, err = zw.Write(hdr[:n]); err != nil {
			break
		}
		if _, err = zw.Write(s.arena[e.off : e.off+int(e.klen)+int(e.rlen)]); err != nil {
			break
		}
	}
	if err == nil {
		err = zw.Close()
	}
	putEncoder(zw)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sort: write run %s: %w", path, err)
	}
	s.runs = append(s.runs, path)
	s.arena, s.idx = s.arena[:0], s.idx[:0]
	return nil
}

// Sort returns the rows in key order. The Sorter must not be used after,
// except for Close.
func (s *Sorter) Sort() (RowReader, error) {
	if len(s.runs) == 0 {
		s.sortMemory()
		return &memoryRows{s: s, row: make([]string, s.ncols)}, nil
	}
	if len(s.idx) > 0 {
		if err := s.spill(); err != nil {
			return nil, err
		}
	}
	s.arena, s.idx = nil, nil
	m := &mergeRows{sorter: s}
	for _, path := range s.runs {
		r, err := openRun(path, s.ncols)
		if err != nil {
			return nil, errors.Join(err, m.Close())
		}
		m.all = append(m.all, r)
		if err := r.next(); err == io.EOF {
			continue
		} else if err != nil {
			return nil, errors.Join(err, m.Close())
		}
		m.h = append(m.h, r)
	}
	heap.Init(&m.h)
	return m, nil
}

// Close removes the run files.
func (s *Sorter) Close() error {
	s.arena, s.idx = nil, nil
	if s.runDir == "" {
		return nil
	}
	err := os.RemoveAll(s.runDir)
	s.runDir = ""
	return err
}

// appendRecord encodes fields as uvarint-length-prefixed strings.
func appendRecord(b []byte, row []string) []byte {
	for _, f := range row {
		b = binary.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
	}
	return b
}

// decodeRecord fills row from an encoded record; the strings are copies.
func decodeRecord(rec []byte, row []string) error {
	for i := range row {
		n, w := binary.Uvarint(rec)
		if w <= 0 || int(n) > len(rec)-w {
			return errors.New("sort: damaged record")
		}
		row[i] = string(rec[w : w+int(n)])
		rec = rec[w+int(n):]
	}
	return nil
}

type memoryRows struct {
	s   *Sorter
	i   int
	row []string
}

func (m *memoryRows) Next() ([]string, error) {
	if m.i >= len(m.s.idx) {
		return nil, io.EOF
	}
	e := m.s.idx[m.i]
	m.i++
	rec := m.s.arena[e.off+int(e.klen) : e.off+int(e.klen)+int(e.rlen)]
	return m.row, decodeRecord(rec, m.row)
}

func (m *memoryRows) Close() error { return m.s.Close() }

// runReader reads one sorted run.
type runReader struct {
	path string
	f    *os.File
	zr   *zstd.Decoder
	br   *bufio.Reader
	key  []byte
	rec  []byte
	row  []string
	seq  int
}

func openRun(path string, ncols int) (*runReader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("sort: %w", err)
	}
	zr, err := getDecoder(bufio.NewReaderSize(f, 256<<10))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("sort: run %s: %w", path, err)
	}
	return &runReader{path: path, f: f, zr: zr, br: bufio.NewReaderSize(zr, 64<<10), row: make([]string, ncols)}, nil
}

func (r *runReader) next() error {
	klen, err := binary.ReadUvarint(r.br)
	if err == io.EOF {
		return io.EOF
	}
	if err != nil {
		return fmt.Errorf("sort: run %s: %w", r.path, err)
	}
	rlen, err := binary.ReadUvarint(r.br)
	if err != nil {
		return fmt.Errorf("sort: run %s: %w", r.path, err)
	}
	r.key = grow(r.key, int(klen))
	r.rec = grow(r.rec, int(rlen))
	if _, err := io.ReadFull(r.br, r.key); err != nil {
		return fmt.Errorf("sort: run %s: %w", r.path, err)
	}
	if _, err := io.ReadFull(r.br, r.rec); err != nil {
		return fmt.Errorf("sort: run %s: %w", r.path, err)
	}
	return nil
}

func grow(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n)
	}
	return b[:n]
}

func (r *runReader) close() error {
	if r.zr != nil {
		putDecoder(r.zr)
		r.zr = nil
	}
	return r.f.Close()
}

type runHeap []*runReader

func (h runHeap) Len() int { return len(h) }
func (h runHeap) Less(i, j int) bool {
	if c := bytes.Compare(h[i].key, h[j].key); c != 0 {
		return c < 0
	}
	return h[i].path < h[j].path // earlier runs hold earlier input
}
func (h runHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *runHeap) Push(x any)   { *h = append(*h, x.(*runReader)) }
func (h *runHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// mergeRows is the k-way merge of the runs.
type mergeRows struct {
	sorter *Sorter
	h      runHeap
	all    []*runReader
	last   *runReader
}

func (m *mergeRows) Next() ([]string, error) {
	if m.last != nil {
		err := m.last.next()
		switch {
		case err == io.EOF:
			heap.Pop(&m.h)
		case err != nil:
			return nil, err
		default:
			heap.Fix(&m.h, 0)
		}
		m.last = nil
	}
	if len(m.h) == 0 {
		return nil, io.EOF
	}
	top := m.h[0]
	m.last = top
	return top.row, decodeRecord(top.rec, top.row)
}

func (m *mergeRows) Close() error {
	var errs []error
	for _, r := range m.all {
		errs = append(errs, r.close())
	}
	m.all, m.h = nil, nil
	errs = append(errs, m.sorter.Close())
	return errors.Join(errs...)
}
