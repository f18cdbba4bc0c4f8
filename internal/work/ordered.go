package work

import (
	"context"
	"sync"

	"golang.org/x/sync/errgroup"
)

// OrderedMap runs work on every item that produce emits, up to jobs at once,
// and calls consume with the results in the order the items were emitted.
// consume is called from one goroutine at a time. At most 2*jobs items are held.
func OrderedMap[In, Out any](ctx context.Context, jobs int,
	produce func(ctx context.Context, emit func(In) error) error,
	work func(ctx context.Context, in In) (Out, error),
	consume func(Out) error,
) error {
	return OrderedMapQuick(ctx, jobs, produce, nil, work, consume)
}

// doneAlready is the closed channel of results known when emitted.
var doneAlready = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// OrderedMapQuick is OrderedMap with quick, which may answer an item at
// once in the producing goroutine (a reused digest): such an item takes no
// worker, and still comes out in its place.
//
// The jobs workers live as long as the call: a worker that goes through a
// deep call stack (the S3 client's middleware) grows its stack once, not
// once for every item.
func OrderedMapQuick[In, Out any](ctx context.Context, jobs int,
	produce func(ctx context.Context, emit func(In) error) error,
	quick func(in In) (Out, bool),
	work func(ctx context.Context, in In) (Out, error),
	consume func(Out) error,
) error {
	if jobs < 1 {
		jobs = 1
	}
	type future struct {
		in   In
		out  Out
		err  error
		done chan struct{}
	}
	g, gctx := errgroup.WithContext(ctx)
	queue := make(chan *future, 2*jobs)
	tasks := make(chan *future)
	var workers sync.WaitGroup
	started := 0
	g.Go(func() error {
		defer close(queue)
		defer close(tasks)
		return produce(gctx, func(in In) error {
			if quick != nil {
				if out, ok := quick(in); ok {
					select {
					case queue <- &future{out: out, done: doneAlready}:
						return nil
					case <-gctx.Done():
						return gctx.Err()
					}
				}
			}
			f := &future{in: in, done: make(chan struct{})}
			select {
			case queue <- f:
			case <-gctx.Done():
				return gctx.Err()
			}
			select {
			case tasks <- f:
				return nil
			default:
			}
			if started < jobs { // every worker is busy: start one more
				started++
				workers.Go(func() {
					for f := range tasks {
						f.out, f.err = work(gctx, f.in)
						var zero In
						f.in = zero
						close(f.done)
					}
				})
			}
			select {
			case tasks <- f:
				return nil
			case <-gctx.Done():
				close(f.done) // never worked: the consumer is stopping
				return gctx.Err()
			}
		})
	})
	g.Go(func() error {
		for f := range queue {
			select {
			case <-f.done:
			case <-gctx.Done():
				<-f.done
				return gctx.Err()
			}
			if f.err != nil {
				return f.err
			}
			if err := consume(f.out); err != nil {
				return err
			}
		}
		return nil
	})
	err := g.Wait()
	workers.Wait() // every work call has returned
	return err
}
