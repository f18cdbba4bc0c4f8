package pipeline

import (
	"io"
	"slices"
	"sync"
)

// prefetchBatch is how many rows the reading goroutine hands over at once.
const prefetchBatch = 1024

// Prefetch reads r in a goroutine of its own, a few batches ahead, so that
// decompressing and parsing one stream overlaps the work done with its rows.
// Rows stay valid until the next call to Next, as for any RowReader.
func Prefetch(r RowReader) RowReader {
	p := &prefetched{r: r, ch: make(chan rowBatch, 4), stop: make(chan struct{})}
	p.wg.Go(p.fill)
	return p
}

type rowBatch struct {
	rows [][]string
	err  error
}

type prefetched struct {
	r    RowReader
	ch   chan rowBatch
	stop chan struct{}
	wg   sync.WaitGroup
	cur  [][]string
	i    int
	err  error
	once sync.Once
}

func (p *prefetched) fill() {
	defer close(p.ch)
	for {
		b := rowBatch{rows: make([][]string, 0, prefetchBatch)}
		for len(b.rows) < prefetchBatch {
			row, err := p.r.Next()
			if err != nil {
				b.err = err
				break
			}
			b.rows = append(b.rows, slices.Clone(row))
		}
		select {
		case p.ch <- b:
		case <-p.stop:
			return
		}
		if b.err != nil {
			return
		}
	}
}

// Next implements RowReader.
func (p *prefetched) Next() ([]string, error) {
	for p.i >= len(p.cur) {
		if p.err != nil {
			return nil, p.err
		}
		b, ok := <-p.ch
		if !ok {
			return nil, io.EOF
		}
		p.cur, p.i, p.err = b.rows, 0, b.err
	}
	p.i++
	return p.cur[p.i-1], nil
}

// Close stops the reading goroutine and closes the underlying reader.
func (p *prefetched) Close() error {
	p.once.Do(func() { close(p.stop) })
	for range p.ch {
	}
	p.wg.Wait()
	return p.r.Close()
}
