package store

import (
	"context"
	"errors"
	"slices"
	"sort"
	"strings"
	"sync"
)

// listBatch is how many objects a partition lister hands over at once.
const listBatch = 1000

// firstBatch is the room a partition lister takes before a folder shows
// it holds more.
const firstBatch = 16

// listAhead is how many full batches a partition lister may hold before the
// consumer reaches it. Two keep the 16 listers of a warm 1.2-million-file tree
// as fast as four did, at 58–62 MiB peak RSS instead of 70–74 (issue 13).
const listAhead = 2

// listDeep is how many folders, from the one being read, list listAhead
// batches ahead; a folder after them lists one batch, and goes on only
// once the consumer comes within listDeep of it. What keeps the consumer
// fed is the look-ahead of the folder it reads and of the next ones: a
// folder has the time the two before it take to be read to fill its
// batches. The 13 further listers' two batches more each were 26,000 of
// the 49,000 objects the 16 listers held once folders held more than three
// batches (from 10% of PyPI on; at 1% a folder holds 773 objects): scan
// storage's peak grew with the mirror (issue 25). Alone at 10% of PyPI:
// 63.5-65.2 MiB -> 51.1-53.3, and no slower, also at 20 ms a request
// (49.9-68.4 s against 55.3-85.6; 2 and 16 deep alternated).
const listDeep = 3

type partition struct {
	dir string // a folder key ending in '/', or "" for a single object
	obj Object // when dir is ""
	ch  chan []Object
	err error // set before ch is closed
	// deep is closed once the consumer is within listDeep of the folder:
	// its lister may list on past its first batch
	deep     chan struct{}
	promoted bool // deep is closed (the consumer's own record)
}

// ListSorted lists every object under prefix that sorts after startAfter, in
// byte order of the key, calling fn from the calling goroutine. The folders
// directly under prefix (on a mirror, web/packages/00/ … ff/) are listed by up
// to jobs goroutines at once; their output is buffered in bounded batches and
// handed on in order, so memory depends on jobs, not on the number of objects.
func ListSorted(ctx context.Context, st Reader, prefix, startAfter string, jobs int, fn func(Object) error) error {
	return ListRange(ctx, st, prefix, startAfter, "", jobs, fn)
}

// ListRange is ListSorted that stops before the first key at or after end
// ("" for no end): no folder past end is listed, so a part of a mirror costs
// the requests of that part alone.
func ListRange(ctx context.Context, st Reader, prefix, startAfter, end string, jobs int, fn func(Object) error) error {
	if jobs < 1 {
		jobs = 1
	}
	dirs, objs, err := st.Children(ctx, prefix)
	if err != nil {
		return err
	}
	parts := make([]*partition, 0, len(dirs)+len(objs))
	for i, j := 0, 0; i < len(dirs) || j < len(objs); {
		if j >= len(objs) || (i < len(dirs) && dirs[i] < objs[j].Key) {
			d := dirs[i]
			i++
			if startAfter >= d && !strings.HasPrefix(startAfter, d) || end != "" && d >= end {
				continue
			}
			parts = append(parts, &partition{dir: d, ch: make(chan []Object, listAhead), deep: make(chan struct{})})
			continue
		}
		o := objs[j]
		j++
		if o.Key > startAfter && (end == "" || o.Key < end) {
			parts = append(parts, &partition{obj: o})
		}
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	slots := make(chan struct{}, jobs)
	wg.Go(func() {
		for _, p := range parts {
			if p.dir == "" {
				continue
			}
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			wg.Go(func() { p.err = listPartition(ctx, st, p, startAfter, end); close(p.ch) })
		}
	})
	err = consumePartitions(ctx, parts, slots, fn)
	cancel()
	wg.Wait()
	return err
}

// errEnd stops a listing at the end of its range.
var errEnd = errors.New("end of range")

func listPartition(ctx context.Context, st Reader, p *partition, startAfter, end string) error {
	if bl, ok := st.(BatchLister); ok {
		return listPartitionBatches(ctx, bl, p, startAfter, end)
	}
	// the first batch takes room for a full one only past firstBatch
	// objects: most of a small mirror's 256 folders hold a few files, and
	// room for 1,000 objects (104 KiB) each was 26 MiB of garbage at every
	// start of a scan
	batch := make([]Object, 0, firstBatch)
	err := st.List(ctx, p.dir, startAfter, func(o Object) error {
		if end != "" && o.Key >= end {
			return errEnd
		}
		if len(batch) == cap(batch) {
			batch = slices.Grow(batch, listBatch-len(batch))
		}
		batch = append(batch, o)
		if len(batch) < listBatch {
			return nil
		}
		select {
		case p.ch <- batch:
		case <-ctx.Done():
			return ctx.Err()
		}
		// a folder ahead of the deep ones holds its first batch only
		select {
		case <-p.deep:
		case <-ctx.Done():
			return ctx.Err()
		}
		batch = make([]Object, 0, listBatch)
		return nil
	})
	if errors.Is(err, errEnd) {
		err = nil
	}
	if err == nil && len(batch) > 0 {
		select {
		case p.ch <- batch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return err
}

// listPartitionBatches is listPartition for a store that lists a page at a
// time: each page, in a slice of its own, is a batch (cut at listBatch).
func listPartitionBatches(ctx context.Context, bl BatchLister, p *partition, startAfter, end string) error {
	err := bl.ListBatches(ctx, p.dir, startAfter, func(b []Object) error {
		stop := false
		if end != "" {
			if i := sort.Search(len(b), func(i int) bool { return b[i].Key >= end }); i < len(b) {
				b, stop = b[:i], true
			}
		}
		for len(b) > 0 {
			n := min(len(b), listBatch)
			select {
			case p.ch <- b[:n:n]:
			case <-ctx.Done():
				return ctx.Err()
			}
			b = b[n:]
			// a folder ahead of the deep ones holds its first batch only
			select {
			case <-p.deep:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if stop {
			return errEnd
		}
		return nil
	})
	if errors.Is(err, errEnd) {
		err = nil
	}
	return err
}

func consumePartitions(ctx context.Context, parts []*partition, slots chan struct{}, fn func(Object) error) error {
	for i, p := range parts {
		for _, q := range parts[i:min(i+listDeep, len(parts))] {
			if q.dir != "" && !q.promoted {
				q.promoted = true
				close(q.deep)
			}
		}
		if p.dir == "" {
			if err := fn(p.obj); err != nil {
				return err
			}
			continue
		}
		for batch := range p.ch {
			for _, o := range batch {
				if err := fn(o); err != nil {
					return err
				}
			}
		}
		if p.err != nil {
			return p.err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		<-slots
	}
	return nil
}
