package pipeline

import (
	"bufio"
	"bytes"
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/bandercheck/bandercheck/internal/safefs"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"

	"github.com/klauspost/compress/s2"
)

// Sorter sorts rows by the bytes of one of their fields (the key) in
// bounded memory: rows collect in an arena until it is full, then the arena
// is sorted and written as a run file by a goroutine while a second arena
// fills; Sort merges the runs with a heap. Rows with equal keys keep their
// input order. A record holds the key once: the key, then the other fields
// (the row is put back together when read). Run files live in a folder of
// their own under dir and are removed by Close.
//
// The two arenas share one pool of chunks, a quarter larger than one
// arena: the second fills while the first is written, and waits for its
// chunks once the pool is spent. So a sort holds its pool from the first
// full arena on, whatever the number of rows, and not two arenas: with an
// arena each, a sort's memory doubled between the sizes that fill one
// arena and those that fill two (plan: 142 MiB at 1% of the index, 204 at
// 10%).
type Sorter struct {
	dir      string
	runDir   string
	memory   int // the budget: the pool and both arenas' indexes
	pool     int // bytes of chunks the arenas hold at most, together
	chunk    int // bytes of a chunk
	held     int // bytes of chunks taken from the system (in the arenas and free)
	peak     int // the most held
	free     [][]byte
	fanIn    int // the most runs a sorted reader keeps open
	ncols    int
	col      int                     // the key's field
	prefix   func(key string) uint64 // orders keys before their bytes are compared
	cur      *sortBuf
	spare    *sortBuf
	inflight *sortBuf
	busy     chan error // the run being written, nil when none
	runs     []string
	width    int // the most runs mergeDown merges at once
	widest   int // the most it did
	hint     int // rows expected (WithSizeHint), 0 when unknown
}

// sortBuf is one arena of encoded records and their index. The arena is a
// list of chunks of the Sorter's chunk size (more for a record larger),
// taken from the Sorter's pool as rows arrive and given back once the arena
// is written: a sort of a few rows holds a few chunks, not the whole
// budget, and a full arena never grows by copying.
type sortBuf struct {
	chunks   [][]byte
	cur      int // the chunk records go to
	used     int // bytes of the chunks taken
	capacity int // the most used may reach before the arena is full
	chunk    int // bytes of a chunk: arenaChunk, or capacity when smaller
	maxIdx   int
	idx      []sortEntry
}

// arenaChunk is the size of an arena's chunks.
const arenaChunk = 1 << 20

// sortEntry locates one record in the arena: key bytes then the other
// fields, encoded. pfx is the Sorter's prefix of the key (by default its
// first 8 bytes), so most comparisons are one integer compare.
type sortEntry struct {
	pfx   uint64
	chunk int32
	off   int32
	klen  int32
	rlen  int32
}

// keyPrefix packs the first 8 bytes of a key, big-endian, zero-padded.
func keyPrefix(k string) uint64 {
	var b [8]byte
	copy(b[:], k)
	return binary.BigEndian.Uint64(b[:])
}

// sortDirPrefix begins the name of a sorter's folder of runs (State.Lock
// removes those a killed process left).
const sortDirPrefix = "sort-"

// NewSorter makes a sorter of rows with ncols fields, ordered by the bytes
// of field col, using at most about memory bytes and run files under dir:
// three quarters of it are the pool of chunks the two arenas share (an
// arena, a run, is four fifths of the pool), and a sixteenth each arena's
// index (up to an eighth while its slice grows). It panics when col is not a field (a programming error).
func NewSorter(dir string, memory int64, ncols, col int) *Sorter {
	if col < 0 || col >= ncols {
		panic(fmt.Sprintf("sort: key field %d of %d", col, ncols))
	}
	m := max(int(memory), 1<<16)
	pool := m * 3 / 4
	return &Sorter{dir: dir, memory: m, pool: pool, chunk: max(min(arenaChunk, pool*4/5), 1<<12),
		fanIn: defaultFanIn, width: defaultFanIn, ncols: ncols, col: col, prefix: keyPrefix}
}

// WithFanIn sets the most runs the sorted rows are read from at once (1 to
// MaxFanIn; defaultFanIn by default): Sort merges more runs than that into fewer
// first. Each open run holds about 120 KiB (an S2 reader and its buffers)
// for as long as its reader is open, so a reader that stays open through a long stage (scan metadata's
// listing) takes a few, at the cost of reading and writing some of the rows
// once more. Call it before Sort.
func (s *Sorter) WithFanIn(n int) *Sorter {
	s.fanIn = min(max(n, 1), MaxFanIn)
	return s
}

// WithMergeWidth sets the most runs merged at once when more than the
// fan-in are merged down (2 to defaultFanIn; defaultFanIn by default): each holds
// about OpenRunBytes while it is read, so a sort of a small budget that
// spills many runs keeps its merges to its budget, at the cost of merging
// some rows more than once. Call it before Sort.
func (s *Sorter) WithMergeWidth(n int) *Sorter {
	s.width = min(max(n, 2), defaultFanIn)
	return s
}

// PeakHeld is the most bytes of arena chunks the sorter held at once.
func (s *Sorter) PeakHeld() int64 { return int64(s.peak) }

// WidestMerge is the most runs Sort merged at once to bring them down to
// the fan-in (0 when it merged none first): each holds about OpenRunBytes
// while it is read.
func (s *Sorter) WidestMerge() int { return s.widest }

// WithPrefix replaces the key's first 8 bytes, compared before the key's
// bytes, by f(key): keys that share a long start (paths) compare as one
// integer more often. f must keep the order: a < b must give f(a) <= f(b).
// Call it before the first Add.
func (s *Sorter) WithPrefix(f func(key string) uint64) *Sorter {
	s.prefix = f
	return s
}

// WithSizeHint tells the sorter about how many rows will come (a previous
// run's count), so that an arena's index is made once at the size it
// reaches (at most its budget's) instead of growing by copying: sync
// upstream's index of 10,000 names was allocated some 2.5 times over,
// each time on fresh pages. Call it before the first Add; a wrong hint
// costs memory or copies, never rows.
func (s *Sorter) WithSizeHint(rows int) *Sorter {
	s.hint = max(rows, 0)
	return s
}

func (s *Sorter) newBuf() *sortBuf {
	b := &sortBuf{capacity: max(s.pool*4/5, s.chunk), chunk: s.chunk, maxIdx: max(s.memory/16/24, 1)}
	if s.hint > 0 {
		b.idx = make([]sortEntry, 0, min(s.hint, b.maxIdx))
	}
	return b
}

// room returns the chunk of b that takes a record of need bytes, taking a
// new one when no chunk left has room.
func (s *Sorter) room(b *sortBuf, need int) (*[]byte, error) {
	for b.cur < len(b.chunks) && cap(b.chunks[b.cur])-len(b.chunks[b.cur]) < need {
		b.cur++
	}
	if b.cur == len(b.chunks) {
		c, err := s.takeChunk(need)
		if err != nil {
			return nil, err
		}
		b.chunks = append(b.chunks, c)
		b.used += cap(c)
	}
	return &b.chunks[b.cur], nil
}

// takeChunk takes a chunk for a record of need bytes: a free one, or a new
// one while the pool has room; once it is spent, the chunks of the run being
// written, when it is done. A record larger than a chunk gets one of its own.
func (s *Sorter) takeChunk(need int) ([]byte, error) {
	if need > s.chunk {
		s.held += need
		s.peak = max(s.peak, s.held)
		return make([]byte, 0, need), nil
	}
	if len(s.free) == 0 && s.held+s.chunk > s.pool && s.busy != nil {
		if err := s.wait(); err != nil {
			return nil, err
		}
	}
	if n := len(s.free); n > 0 {
		c := s.free[n-1]
		s.free[n-1] = nil
		s.free = s.free[:n-1]
		return c, nil
	}
	s.held += s.chunk
	s.peak = max(s.peak, s.held)
	return make([]byte, 0, s.chunk), nil
}

// release gives b's chunks back to the pool (one larger than a chunk to
// the collector) and empties b for its next fill.
func (s *Sorter) release(b *sortBuf) {
	for i, c := range b.chunks {
		if cap(c) == s.chunk {
			s.free = append(s.free, c[:0])
		} else {
			s.held -= cap(c)
		}
		b.chunks[i] = nil
	}
	b.chunks, b.cur, b.used, b.idx = b.chunks[:0], 0, 0, b.idx[:0]
}

// full tells whether a record of need bytes would pass the arena's budget.
func (b *sortBuf) full(need int) bool {
	if len(b.idx) == 0 {
		return false
	}
	if len(b.idx) >= b.maxIdx {
		return true
	}
	fits := b.cur < len(b.chunks) && cap(b.chunks[b.cur])-len(b.chunks[b.cur]) >= need
	for i := b.cur + 1; !fits && i < len(b.chunks); i++ {
		fits = cap(b.chunks[i])-len(b.chunks[i]) >= need
	}
	return !fits && b.used+max(need, b.chunk) > b.capacity
}

// record is the bytes of e: its key, then its other fields, encoded.
func (b *sortBuf) record(e sortEntry) []byte {
	return b.chunks[e.chunk][e.off : int(e.off)+int(e.klen)+int(e.rlen)]
}

// Add copies a row into the sorter.
func (s *Sorter) Add(row []string) error {
	if len(row) != s.ncols {
		return fmt.Errorf("sort: row has %d fields, want %d", len(row), s.ncols)
	}
	k := row[s.col]
	need := len(k)
	for i, f := range row {
		if i != s.col {
			need += len(f) + binary.MaxVarintLen32
		}
	}
	if s.cur == nil {
		s.cur = s.newBuf()
	}
	b := s.cur
	if b.full(need) {
		if err := s.spill(); err != nil {
			return err
		}
		b = s.cur
	}
	c, err := s.room(b, need)
	if err != nil {
		return err
	}
	off := len(*c)
	*c = append(*c, k...)
	*c = appendRecord(*c, row, s.col)
	b.idx = append(b.idx, sortEntry{pfx: s.prefix(k), chunk: int32(b.cur), off: int32(off), klen: int32(len(k)), rlen: int32(len(*c) - off - len(k))})
	return nil
}

func (b *sortBuf) keyOf(e sortEntry) []byte {
	return b.chunks[e.chunk][e.off : int(e.off)+int(e.klen)]
}

func (b *sortBuf) sort() {
	slices.SortFunc(b.idx, func(x, y sortEntry) int {
		if x.pfx != y.pfx {
			if x.pfx < y.pfx {
				return -1
			}
			return 1
		}
		if c := bytes.Compare(b.keyOf(x), b.keyOf(y)); c != 0 {
			return c
		}
		if x.chunk != y.chunk {
			return int(x.chunk - y.chunk)
		}
		return int(x.off - y.off)
	})
}

// spill hands the full arena to a goroutine that sorts it and writes a run,
// and continues in the other arena.
func (s *Sorter) spill() error {
	if err := s.wait(); err != nil {
		return err
	}
	if s.runDir == "" {
		if err := os.MkdirAll(s.dir, 0o700); err != nil {
			return fmt.Errorf("sort: %w", err)
		}
		d, err := os.MkdirTemp(s.dir, sortDirPrefix)
		if err != nil {
			return fmt.Errorf("sort: %w", err)
		}
		s.runDir = d
	}
	path := filepath.Join(s.runDir, fmt.Sprintf("run-%05d.s2", len(s.runs)+1))
	s.runs = append(s.runs, path)
	buf, done := s.cur, make(chan error, 1)
	s.inflight, s.busy = buf, done
	go func() { buf.sort(); done <- buf.writeRun(path) }()
	if s.spare == nil {
		s.spare = s.newBuf()
	}
	s.cur, s.spare = s.spare, nil
	return nil
}

// wait waits for the run being written and takes its arena back.
func (s *Sorter) wait() error {
	if s.busy == nil {
		return nil
	}
	err := <-s.busy
	s.busy = nil
	s.release(s.inflight)
	s.spare, s.inflight = s.inflight, nil
	return err
}

// writeRun writes the sorted records as an S2 stream of
// uvarint(key length) uvarint(record length) key record.
func (b *sortBuf) writeRun(path string) error {
	w, err := createRun(path)
	if err != nil {
		return err
	}
	out := make([]byte, 0, 256<<10)
	for _, e := range b.idx {
		out = binary.AppendUvarint(out, uint64(e.klen))
		out = binary.AppendUvarint(out, uint64(e.rlen))
		out = append(out, b.record(e)...)
		if len(out) >= 240<<10 {
			if _, err = w.zw.Write(out); err != nil {
				break
			}
			out = out[:0]
		}
	}
	if err == nil {
		_, err = w.zw.Write(out)
	}
	if err = w.finish(err); err != nil {
		return fmt.Errorf("sort: write run %s: %w", path, err)
	}
	return nil
}

// runWriter writes one run file through a pooled encoder.
type runWriter struct {
	f  *os.File
	bw *bufio.Writer
	zw *s2.Writer
}

func createRun(path string) (*runWriter, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sort: %w", err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	zw, _ := runWriters.Get().(*s2.Writer)
	if zw == nil {
		zw = s2.NewWriter(nil, s2.WriterConcurrency(1), s2.WriterBlockSize(runBlock))
	}
	zw.Reset(bw)
	return &runWriter{f: f, bw: bw, zw: zw}, nil
}

// finish ends the run after writing stopped with err (nil when it did not
// fail): the encoder goes back to its pool and the file is closed.
func (w *runWriter) finish(err error) error {
	if err == nil {
		err = w.zw.Close()
	}
	w.zw.Reset(nil)
	runWriters.Put(w.zw)
	if err == nil {
		err = w.bw.Flush()
	}
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Sort returns the rows in key order. The Sorter must not be used after,
// except for Close.
func (s *Sorter) Sort() (RowReader, error) {
	if s.cur == nil {
		s.cur = &sortBuf{}
	}
	if len(s.runs) == 0 {
		s.cur.sort()
		return &memoryRows{s: s, b: s.cur, row: make([]string, s.ncols)}, nil
	}
	if len(s.cur.idx) > 0 {
		if err := s.spill(); err != nil {
			return nil, err
		}
	}
	if err := s.wait(); err != nil {
		return nil, err
	}
	s.dropArenas()
	if err := s.mergeDown(); err != nil {
		return nil, err
	}
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

// dropArenas lets the collector have the arenas and the pool.
func (s *Sorter) dropArenas() {
	s.cur, s.spare, s.free, s.held = nil, nil, nil, 0
}

// mergeDown merges runs until at most fanIn are left, reading and writing
// again only as many runs as that takes (the first ones, though the short
// last run would be cheaper to rewrite): each merge takes consecutive runs
// (so that input order among equal keys holds) that have not been merged
// yet, as many as take the count down to fanIn, at most the sorter's merge
// width (WithMergeWidth; the arenas are let go by then). Merging every run
// in groups of 128 read and wrote all of plan's rows again at full size
// (147 runs) where 20 runs merged were enough.
func (s *Sorter) mergeDown() error {
	start := 0
	for len(s.runs) > s.fanIn {
		if start >= len(s.runs)-1 {
			start = 0 // every run merged once: merge the merged ones
		}
		k := min(s.width, len(s.runs)-s.fanIn+1, len(s.runs)-start)
		s.widest = max(s.widest, k)
		if err := mergeRuns(s.runs[start:start+k], s.ncols); err != nil {
			return err
		}
		s.runs = slices.Delete(s.runs, start+1, start+k)
		start++
	}
	return nil
}

// Close removes the run files.
func (s *Sorter) Close() error {
	err := s.wait()
	s.dropArenas()
	if s.runDir == "" {
		return err
	}
	err = errors.Join(err, os.RemoveAll(s.runDir))
	s.runDir = ""
	return err
}

// appendRecord encodes the fields but the key's (field col) as
// uvarint-length-prefixed strings.
func appendRecord(b []byte, row []string, col int) []byte {
	for i, f := range row {
		if i == col {
			continue
		}
		b = binary.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
	}
	return b
}

// decodeRecord fills row from a key and the encoded other fields; the
// strings are copies.
func decodeRecord(key, rec []byte, row []string, col int) error {
	for i := range row {
		if i == col {
			row[i] = string(key)
			continue
		}
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
	b   *sortBuf
	i   int
	row []string
}

func (m *memoryRows) Next() ([]string, error) {
	if m.i >= len(m.b.idx) {
		return nil, io.EOF
	}
	e := m.b.idx[m.i]
	m.i++
	rec := m.b.record(e)
	return m.row, decodeRecord(rec[:e.klen], rec[e.klen:], m.row, m.s.col)
}

func (m *memoryRows) Close() error { return m.s.Close() }

// runReader reads one sorted run.
type runReader struct {
	path string
	f    *os.File
	zr   *s2.Reader
	key  []byte
	rec  []byte
	row  []string
}

func openRun(path string, ncols int) (*runReader, error) {
	f, err := safefs.OpenRegularNoFollow(path)
	if err != nil {
		return nil, fmt.Errorf("sort: %w", err)
	}
	zr := s2.NewReader(bufio.NewReaderSize(f, 32<<10), s2.ReaderMaxBlockSize(runBlock))
	return &runReader{path: path, f: f, zr: zr, row: make([]string, ncols)}, nil
}

func (r *runReader) next() error {
	klen, err := binary.ReadUvarint(r.zr)
	if err == io.EOF {
		return io.EOF
	}
	if err != nil {
		return fmt.Errorf("sort: run %s: %w", r.path, err)
	}
	rlen, err := binary.ReadUvarint(r.zr)
	if err != nil {
		return fmt.Errorf("sort: run %s: %w", r.path, err)
	}
	r.key = grow(r.key, int(klen))
	r.rec = grow(r.rec, int(rlen))
	if _, err := io.ReadFull(r.zr, r.key); err != nil {
		return fmt.Errorf("sort: run %s: %w", r.path, err)
	}
	if _, err := io.ReadFull(r.zr, r.rec); err != nil {
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
	r.zr = nil
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

// runBlock is the block size of sort runs (S2 streams): what a reader
// holds, twice.
const runBlock = 64 << 10

// runWriters are the S2 writers of sort runs, reused.
var runWriters sync.Pool

// defaultFanIn is the most runs merged at once, unless WithFanIn or
// WithMergeWidth set another (each open run holds about 120 KiB: an S2 reader of 64 KiB blocks and a 32 KiB file buffer, so 128
// hold 15 MiB; with zstd, 350 KiB, 45 MiB). More runs are merged first
// (mergeDown), into the place of the first, so that input order among
// equal keys holds. Run files are S2, not zstd: a run is written while the
// next arena fills, and zstd's writer was the slower side (plan at 10% of
// the index: 13 s of user CPU with zstd runs, 9-10 with S2; the runs take
// 1.7 times the disk, 373 MB against 215 at their most).
const defaultFanIn = 128

// MaxFanIn is the most runs WithFanIn may read at once: a sort whose
// arenas are let go before its final merge (plan's) can read more than
// defaultFanIn runs then, rather than merge some of them once more first.
const MaxFanIn = 256

// OpenRunBytes is about what one run holds while it is read.
const OpenRunBytes = 120 << 10

// mergeRuns merges the runs of group, in order, into group[0] and removes
// the others.
func mergeRuns(group []string, ncols int) (err error) {
	var h runHeap
	var all []*runReader
	defer func() {
		for _, r := range all {
			err = errors.Join(err, r.close())
		}
	}()
	for _, path := range group {
		r, err := openRun(path, ncols)
		if err != nil {
			return err
		}
		all = append(all, r)
		if err := r.next(); err == io.EOF {
			continue
		} else if err != nil {
			return err
		}
		h = append(h, r)
	}
	heap.Init(&h)
	tmp := group[0] + ".merge"
	w, err := createRun(tmp)
	if err != nil {
		return err
	}
	var out []byte
	for len(h) > 0 && err == nil {
		top := h[0]
		out = binary.AppendUvarint(out[:0], uint64(len(top.key)))
		out = binary.AppendUvarint(out, uint64(len(top.rec)))
		out = append(append(out, top.key...), top.rec...)
		if _, err = w.zw.Write(out); err != nil {
			break
		}
		switch nerr := top.next(); {
		case nerr == io.EOF:
			heap.Pop(&h)
		case nerr != nil:
			err = nerr
		default:
			heap.Fix(&h, 0)
		}
	}
	err = w.finish(err)
	for _, r := range all {
		err = errors.Join(err, r.close())
	}
	all = nil
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("sort: merge runs: %w", err)
	}
	for _, path := range group {
		if err := os.Remove(path); err != nil {
			return fmt.Errorf("sort: %w", err)
		}
	}
	return os.Rename(tmp, group[0])
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
	return top.row, decodeRecord(top.key, top.rec, top.row, m.sorter.col)
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
