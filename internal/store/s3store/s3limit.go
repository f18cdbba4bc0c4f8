package s3store

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
)

// requestWindow lets at most window requests be in flight. It starts at its
// cap; a SlowDown (or any 503) halves it, at most once a second so that one
// burst of refusals counts once, and each success widens it by 1/window, so
// it grows back by one about every window of successes: the additive
// increase, multiplicative decrease of TCP, shared by every goroutine that
// uses the client.
type requestWindow struct {
	mu       sync.Mutex
	cond     *sync.Cond
	cap      float64
	window   float64
	inFlight int
	lastCut  time.Time
}

func newRequestWindow(n int) *requestWindow {
	w := &requestWindow{cap: float64(n), window: float64(n)}
	w.cond = sync.NewCond(&w.mu)
	return w
}

// acquire waits for room in the window, or for ctx to end.
func (w *requestWindow) acquire(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if float64(w.inFlight) < w.window {
		w.inFlight++ // the common case: no wait, nothing registered
		return nil
	}
	stop := context.AfterFunc(ctx, func() {
		w.mu.Lock()
		w.cond.Broadcast()
		w.mu.Unlock()
	})
	defer stop()
	for float64(w.inFlight) >= w.window {
		if err := ctx.Err(); err != nil {
			w.cond.Signal() // a place freed for this waiter goes to the next
			return err
		}
		w.cond.Wait()
	}
	w.inFlight++
	return nil
}

// release ends a request; throttled tells whether the store refused it for load.
// It wakes as many waiters as there are free places, not all of them.
func (w *requestWindow) release(throttled bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.inFlight--
	switch {
	case throttled && time.Since(w.lastCut) >= time.Second:
		w.window = max(1, w.window/2)
		w.lastCut = time.Now()
	case !throttled:
		w.window = min(w.cap, w.window+1/w.window)
	}
	for free := int(w.window) - w.inFlight; free > 0; free-- {
		w.cond.Signal()
	}
}

// Window is the current number of requests allowed in flight.
func (w *requestWindow) Window() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return int(w.window)
}

// isThrottle tells whether err is the store asking to slow down.
func isThrottle(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException":
			return true
		}
	}
	s := httpStatus(err)
	return s == http.StatusServiceUnavailable || s == http.StatusTooManyRequests
}

// limitRequests adds a step to every S3 call that holds a place in w while
// one attempt is sent, after the retryer has waited out its backoff: however
// many goroutines share the client, at most w's window of requests is in
// flight, and a request waiting to be retried holds no place.
func limitRequests(w *requestWindow) func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		return stack.Finalize.Add(middleware.FinalizeMiddlewareFunc("bandercheckRequestWindow",
			func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
				if err := w.acquire(ctx); err != nil {
					return middleware.FinalizeOutput{}, middleware.Metadata{}, err
				}
				out, md, err := next.HandleFinalize(ctx, in)
				w.release(err != nil && isThrottle(err))
				return out, md, err
			}), middleware.After)
	}
}
