package work

import (
	"io"
	"sync"
	"time"
)

// IdleReader calls cancel when no byte arrived for its timeout (aiohttp's
// sock_read): a slow-drip body fails at the first idle stretch instead of at
// the end of the whole request's timeout.
type IdleReader struct {
	r       io.Reader
	timeout time.Duration
	mu      sync.Mutex
	timer   *time.Timer
}

// NewIdleReader reads r, calling cancel once r gives nothing for timeout.
func NewIdleReader(r io.Reader, timeout time.Duration, cancel func()) *IdleReader {
	return &IdleReader{r: r, timeout: timeout, timer: time.AfterFunc(timeout, cancel)}
}

// Read reads from r and restarts the wait for the next byte.
func (i *IdleReader) Read(p []byte) (int, error) {
	n, err := i.r.Read(p)
	i.mu.Lock()
	if err != nil {
		i.timer.Stop()
	} else {
		i.timer.Reset(i.timeout)
	}
	i.mu.Unlock()
	return n, err
}

// Stop ends the wait (the body is done with).
func (i *IdleReader) Stop() {
	i.mu.Lock()
	i.timer.Stop()
	i.mu.Unlock()
}
