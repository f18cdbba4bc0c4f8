package sinks

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/bandercheck/bandercheck/internal/store"
	"github.com/bandercheck/bandercheck/internal/work"
	"github.com/bandercheck/bandercheck/sources"
	"golang.org/x/time/rate"
)

// FetchError is a failure of one file (not found upstream, digest or size
// mismatch, retries used up): apply records it as a failed row and goes on.
type FetchError struct{ Err error }

func (e *FetchError) Error() string { return e.Err.Error() }
func (e *FetchError) Unwrap() error { return e.Err }

// Fetcher downloads release files into a Mirror.
type Fetcher struct {
	Client *http.Client // NewHTTPClient's: it never decompresses what it did not ask for
	Base   string       // --download-base: prefixed to every file URL's path when set
	// Mirror is bandersnatch's download-mirror: tried first, before every
	// file URL's path, then the file URL itself unless NoFallback.
	Mirror     string
	NoFallback bool
	Upstream   string        // prefixed to file URLs that are paths only (from simple pages)
	Attempts   int           // attempts per file (4 when 0)
	Backoff    time.Duration // first wait between attempts (500ms when 0)
	Limiter    *rate.Limiter // requests per second, nil for no limit
	// BreakerBudget is how many attempts in a row may fail at a host that
	// never answered before Fetch returns a *HostDownError for every file
	// from it (DefaultBreakerBudget when 0).
	BreakerBudget int
	// IdleTimeout is the longest wait for the next byte of a body
	// (DefaultIdleTimeout when 0): a slow-drip server fails an attempt at
	// the first idle stretch, not after the whole per-attempt timeout.
	IdleTimeout time.Duration
	// Deferred installs files without an fsync each (store.Meta.Deferred):
	// the caller flushes the store before it records them (sync does at
	// each commit).
	Deferred bool

	breaker breaker
}

// DefaultIdleTimeout is the longest wait for the next byte of a download.
const DefaultIdleTimeout = 2 * time.Minute

// MaxUnknownSize is the most a file of unknown size (core metadata, a few
// KiB in practice) may hold: an endless or inflated body fails at this size.
const MaxUnknownSize = 16 << 20

// NewHTTPClient is the client downloads use: a timeout per attempt, and no
// transparent decompression, so a body is counted and hashed as sent.
func NewHTTPClient(timeout time.Duration) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DisableCompression = true
	return &http.Client{Timeout: timeout, Transport: t}
}

// Want is one planned download.
type Want struct {
	Key      string
	URL      string
	Size     int64 // -1 when unknown
	SHA256   string
	Uploaded time.Time
}

// Fetch downloads w into m. The body streams through sha256 and a size
// check into an Upload that is committed only when both match. It returns
// a *FetchError for failures of the file; other errors are the mirror's.
func (f *Fetcher) Fetch(ctx context.Context, m store.Writer, w Want) (int64, error) {
	srcs, err := f.sources(w.URL)
	if err != nil {
		return 0, &FetchError{err}
	}
	attempts, wait := f.Attempts, f.Backoff
	if attempts <= 0 {
		attempts = 4
	}
	if wait == 0 {
		wait = 500 * time.Millisecond
	}
	var failures []error
	var down error
	for _, src := range srcs {
		host, fix := f.hostOf(src.url), src.fix
		var n int64
		err := work.Retry(ctx, attempts, wait, nil, func() (err error) {
			if err := f.breaker.check(host); err != nil {
				return err
			}
			n, err = f.attempt(ctx, m, w, src.url)
			if ctx.Err() == nil {
				f.breaker.record(host, err, fix, f.BreakerBudget)
			}
			return err
		})
		var hd *HostDownError
		if errors.As(err, &hd) {
			down = err // the next source, if any, may answer
			continue
		}
		var re *work.RetryableError
		if errors.As(err, &re) {
			err = &FetchError{fmt.Errorf("%s: gave up after %d attempts: %w", src.url, attempts, err)}
		}
		var fe *FetchError
		if !errors.As(err, &fe) {
			return n, err // done, or the mirror's own failure
		}
		failures = append(failures, err)
	}
	if len(failures) == 0 && down != nil {
		return 0, down // every source is down: apply stops
	}
	return 0, &FetchError{errors.Join(failures...)}
}

// hostOf is the scheme and host of a URL, as the breaker counts them.
func (f *Fetcher) hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return u.Scheme + "://" + u.Host
}

// source is one place a file is fetched from, and the option that chose it.
type source struct {
	url string
	fix string // what to change when its host is down
}

// sources are where a file URL is fetched from, in order: --download-base
// alone; or the download mirror, then (unless NoFallback) the URL itself.
func (f *Fetcher) sources(raw string) ([]source, error) {
	if f.Base != "" || f.Mirror == "" {
		s, fix, err := f.source(raw, f.Base)
		if f.Base != "" {
			fix = "check that it is up and that --download-base " + f.Base + " is right"
		}
		return []source{{s, fix}}, err
	}
	first, _, err := f.source(raw, f.Mirror)
	mirrorFix := "check that it is up and that [mirror] download-mirror " + f.Mirror + " in the config is right, or pass --download-base URL"
	if err != nil || f.NoFallback {
		return []source{{first, mirrorFix}}, err
	}
	second, fix, err := f.source(raw, "")
	if err != nil {
		return []source{{first, mirrorFix}}, nil // a path-only URL with no upstream: the mirror alone
	}
	return []source{{first, mirrorFix}, {second, fix}}, nil
}

// source is where a file URL is fetched from: --download-base (keeping any
// path of its own) before the URL's path when set, else the URL itself, or
// the upstream before a URL that is a path only.
// fix says what to change when that host is down.
func (f *Fetcher) source(raw, base string) (out, fix string, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", fmt.Errorf("url %q: %w", raw, err)
	}
	if base == "" {
		if u.IsAbs() {
			return raw, "the project metadata's file URLs name this host: check that it is reachable from here, or download from a reachable mirror with --download-base URL (or [mirror] download-mirror in the config)", nil
		}
		base = f.Upstream
		fix = "check that it is up and that --upstream (or [mirror] master in the config) " + f.Upstream + " is right, or pass --download-base URL"
	}
	if base == "" {
		return "", "", fmt.Errorf("url %q is a path only (from a simple page): pass --download-base or --upstream (or [mirror] master in the config) to download it", raw)
	}
	out = strings.TrimRight(base, "/") + u.EscapedPath()
	if u.RawQuery != "" {
		out += "?" + u.RawQuery
	}
	return out, fix, nil
}

func (f *Fetcher) attempt(ctx context.Context, m store.Writer, w Want, src string) (int64, error) {
	if f.Limiter != nil {
		if err := f.Limiter.Wait(ctx); err != nil {
			return 0, err
		}
	}
	parent := ctx
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
	if err != nil {
		return 0, &FetchError{err}
	}
	resp, err := f.Client.Do(req)
	if err != nil {
		if parent.Err() != nil {
			return 0, parent.Err()
		}
		return 0, &work.RetryableError{Err: err}
	}
	defer resp.Body.Close()
	idle := f.IdleTimeout
	if idle <= 0 {
		idle = DefaultIdleTimeout
	}
	idler := work.NewIdleReader(resp.Body, idle, cancel)
	defer idler.Stop()
	switch {
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return 0, &work.RetryableError{Err: &statusError{src, resp.Status, resp.StatusCode}}
	case resp.StatusCode != http.StatusOK:
		return 0, &FetchError{&statusError{src, resp.Status, resp.StatusCode}}
	}
	algo, want := sources.SplitDigest(w.SHA256)
	h, err := sources.NewDigest(algo)
	if err != nil {
		return 0, &FetchError{fmt.Errorf("%s: %w", w.Key, err)}
	}
	meta := store.Meta{Uploaded: w.Uploaded, Deferred: f.Deferred}
	if algo == "sha256" {
		meta.SHA256 = want
	}
	up, err := m.Create(ctx, w.Key, meta)
	if err != nil {
		return 0, err
	}
	limit := int64(MaxUnknownSize)
	if w.Size >= 0 {
		limit = w.Size
	}
	body := io.LimitReader(idler, limit+1)
	n, err := io.Copy(io.MultiWriter(mirrorWriter{up}, h), body)
	if err != nil {
		abortErr := up.Abort()
		var werr *writeError
		if errors.As(err, &werr) || abortErr != nil {
			return 0, errors.Join(err, abortErr)
		}
		if parent.Err() != nil {
			return 0, parent.Err()
		}
		if ctx.Err() != nil {
			return 0, &work.RetryableError{Err: fmt.Errorf("%s: body: no byte for %v (a stalled or slow-drip server)", src, idle)}
		}
		return 0, &work.RetryableError{Err: fmt.Errorf("%s: body: %w", src, err)}
	}
	sum := hex.EncodeToString(h.Sum(nil))
	switch {
	case w.Size >= 0 && n != w.Size:
		_ = up.Abort()
		if n < w.Size {
			return 0, &work.RetryableError{Err: fmt.Errorf("%s: body cut short: %d of %d bytes", src, n, w.Size)}
		}
		return 0, &FetchError{fmt.Errorf("%s: size mismatch: more than the %d bytes planned", src, w.Size)}
	case w.Size < 0 && n > MaxUnknownSize:
		_ = up.Abort()
		return 0, &FetchError{fmt.Errorf("%s: more than %d bytes, the most a file of unknown size may hold", src, MaxUnknownSize)}
	case want != "" && sum != want:
		_ = up.Abort()
		return 0, &FetchError{fmt.Errorf("%s: %s mismatch: got %s, want %s", src, algo, sum, want)}
	}
	if err := up.Commit(ctx); err != nil {
		var ce *store.CorruptUploadError
		if errors.As(err, &ce) {
			return 0, &FetchError{err} // the store sent it again already; the next apply retries it
		}
		return 0, err
	}
	return n, nil
}

// writeError marks an error of the mirror while writing a download.
type writeError struct{ error }

func (e *writeError) Unwrap() error { return e.error }

// mirrorWriter tells the mirror's write errors from the body's read errors.
type mirrorWriter struct{ w io.Writer }

func (m mirrorWriter) Write(p []byte) (int, error) {
	n, err := m.w.Write(p)
	if err != nil {
		return n, &writeError{err}
	}
	return n, nil
}

// ParseSize parses a plan's size column ("" is unknown).
func ParseSize(s string) (int64, error) {
	if s == "" {
		return -1, nil
	}
	return strconv.ParseInt(s, 10, 64)
}
