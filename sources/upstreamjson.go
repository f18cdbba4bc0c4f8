package sources

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/bandercheck/bandercheck/internal/work"
)

// SerialHeader is the header upstream answers a project's JSON document
// with: the serial the answer is current to.
const SerialHeader = "X-PyPI-Last-Serial"

// MaxDocument is the largest /pypi/<name>/json document a sync accepts
// (upstream's largest are tens of MiB); a larger answer is a fault.
const MaxDocument = 256 << 20

// ErrNotFound is upstream's 404 for a project's document: bandersnatch skips
// such a project without counting it as an error.
var ErrNotFound = errors.New("not found upstream")

// StaleError is an answer older than the serial the index promised (a cache
// in front of upstream): bandersnatch waits and asks again.
type StaleError struct {
	URL       string
	Want, Got int64 // Got is NoSerial when the header was missing
}

func (e *StaleError) Error() string {
	got := "no " + SerialHeader
	if e.Got != NoSerial {
		got = "serial " + strconv.FormatInt(e.Got, 10)
	}
	return fmt.Sprintf("%s: stale answer: %s, the index promised %d", e.URL, got, e.Want)
}

// Upstream fetches project documents as bandersnatch 8's master.py and
// package.py do: GET <base>/pypi/<normalized>/json (following upstream's
// redirect to its own spelling), refused as stale when X-PyPI-Last-Serial is
// missing or below the serial asked for, tried Attempts times in all on a
// stale answer or a timeout, waiting StaleWait and then twice as long each
// time. Unlike bandersnatch it also retries a 5xx, a 429 and a dropped
// connection within the same attempts.
type Upstream struct {
	Base      string
	Client    *http.Client  // NewUpstreamClient's
	Attempts  int           // bandersnatch: 3
	StaleWait time.Duration // bandersnatch: 1s
	// IdleTimeout is bandersnatch's `timeout`: the longest wait for the
	// connection, the answer's headers and each read of its body.
	IdleTimeout time.Duration
}

// NewUpstreamClient is the HTTP client of a sync: `timeout` bounds the
// connection and the wait for headers, `global-timeout` each whole request
// (as aiohttp's sock_connect, sock_read and total), and it keeps up to
// conns connections to upstream open. A proxy ([mirror] proxy), when not
// empty, carries every request; it was checked when the config was read.
func NewUpstreamClient(timeout, global time.Duration, conns int, proxy string) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	if u, err := url.Parse(proxy); proxy != "" && err == nil {
		t.Proxy = http.ProxyURL(u)
	}
	t.DisableCompression = true
	t.DialContext = (&net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}).DialContext
	t.ResponseHeaderTimeout = timeout
	t.MaxIdleConnsPerHost = max(conns, 2)
	return &http.Client{Timeout: global, Transport: t}
}

// Project returns the document of project normalized, current to at least
// serial (0: any). It returns ErrNotFound for a 404, a *StaleError when the
// attempts ran out on stale answers, and other errors naming the URL.
func (u *Upstream) Project(ctx context.Context, normalized string, serial int64) ([]byte, error) {
	url := strings.TrimSuffix(u.Base, "/") + "/pypi/" + url.PathEscape(normalized) + "/json"
	var doc []byte
	err := work.Retry(ctx, max(u.Attempts, 1), u.StaleWait, nil, func() (err error) {
		doc, err = u.attempt(ctx, url, serial)
		return err
	})
	return doc, err
}

func (u *Upstream) attempt(parent context.Context, url string, serial int64) ([]byte, error) {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("upstream %s: %w", url, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := u.Client.Do(req)
	if err != nil {
		if parent.Err() != nil {
			return nil, parent.Err()
		}
		return nil, &work.RetryableError{Err: fmt.Errorf("upstream %s: %w", url, err)}
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, fmt.Errorf("upstream %s: %w", url, ErrNotFound)
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return nil, &work.RetryableError{Err: fmt.Errorf("upstream %s: %s", url, resp.Status)}
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("upstream %s: %s", url, resp.Status)
	}
	got := int64(NoSerial)
	if h := resp.Header.Get(SerialHeader); h != "" {
		if n, err := strconv.ParseInt(strings.TrimSpace(h), 10, 64); err == nil {
			got = n
		}
	}
	if serial > 0 && got < serial {
		return nil, &work.RetryableError{Err: &StaleError{URL: url, Want: serial, Got: got}}
	}
	if resp.ContentLength > MaxDocument {
		return nil, fmt.Errorf("upstream %s: a document of %d bytes, more than the %d a sync accepts", url, resp.ContentLength, MaxDocument)
	}
	body := io.Reader(resp.Body)
	if u.IdleTimeout > 0 {
		body = work.NewIdleReader(resp.Body, u.IdleTimeout, cancel)
	}
	doc, err := readDocument(io.LimitReader(body, MaxDocument+1), resp.ContentLength)
	if err != nil {
		if parent.Err() != nil {
			return nil, parent.Err()
		}
		return nil, &work.RetryableError{Err: fmt.Errorf("upstream %s: reading the answer: %w", url, err)}
	}
	if len(doc) > MaxDocument {
		return nil, fmt.Errorf("upstream %s: a document of more than the %d bytes a sync accepts", url, MaxDocument)
	}
	return doc, nil
}

// readDocument is io.ReadAll with room for size bytes (the Content-Length,
// -1 when unknown) from the start: one allocation for a document, where
// io.ReadAll grows from 512 bytes, copying it each time.
func readDocument(r io.Reader, size int64) ([]byte, error) {
	if size <= 0 || size > MaxDocument {
		return io.ReadAll(r)
	}
	b := make([]byte, 0, size+1) // +1: the read that sees the end
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)] // more than announced: grow as append does
		}
	}
}
