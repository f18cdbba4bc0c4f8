// Package s3proxy is a reverse proxy for tests and benchmarks that puts real
// latency and real faults between bandercheck and an S3 server on loopback:
// a fixed delay before every request, 503 SlowDown replies and connection
// resets at chosen rates, and counts of requests by kind and of the most in
// flight at once. It listens on 127.0.0.1 only and holds at most MaxInFlight
// requests; more wait for a slot.
package s3proxy

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options configure a Proxy.
type Options struct {
	Target       string        // the S3 server's base URL, e.g. http://127.0.0.1:7070
	Delay        time.Duration // added before every request is forwarded
	SlowDownRate float64       // share of requests answered 503 SlowDown, never forwarded
	ResetRate    float64       // share of connections reset before the request is forwarded
	Seed         uint64        // of the fault choices, so a run can be repeated
	MaxInFlight  int           // requests held at once (default 4096)
	// RewriteETags replaces every ETag the server gives (headers and
	// listings) by another of the same shape, the MD5 of the ETag: a gateway
	// whose ETags are no MD5 of the content.
	RewriteETags bool
	// RewriteCompleteETag replaces the ETag in the answer to every
	// CompleteMultipartUpload (a POST with an uploadId) by another of the
	// same shape: a server that assembled other bytes than the parts sent.
	RewriteCompleteETag bool
	// FlipPutBody flips one byte in the middle of the body of every PUT
	// whose URL path contains it ("" flips none): a body altered in flight.
	FlipPutBody string
}

// Stats are the requests a Proxy saw.
type Stats struct {
	Requests    map[string]int64 `json:"requests"` // by kind: LIST, GET, HEAD, PUT, POST, DELETE
	Total       int64            `json:"total"`    // every request, faults included
	SlowDowns   int64            `json:"slowdowns"`
	Resets      int64            `json:"resets"`
	MaxInFlight int64            `json:"max_in_flight"`
}

// Proxy is a running proxy.
type Proxy struct {
	URL string // http://127.0.0.1:port

	opt   Options
	srv   *http.Server
	ln    net.Listener
	slots chan struct{}

	mu       sync.Mutex
	rng      *rand.Rand
	stats    Stats
	inFlight int64
}

// StatsPath is answered by the proxy itself with its Stats as JSON; a POST to
// it resets them.
const StatsPath = "/_s3proxy/stats"

// Start listens on 127.0.0.1 and forwards to opt.Target.
func Start(opt Options) (*Proxy, error) {
	target, err := url.Parse(opt.Target)
	if err != nil || target.Host == "" {
		return nil, fmt.Errorf("s3proxy: target %q is not a URL", opt.Target)
	}
	if opt.MaxInFlight <= 0 {
		opt.MaxInFlight = 4096
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("s3proxy: listen: %w", err)
	}
	p := &Proxy{
		URL: "http://" + ln.Addr().String(), opt: opt, ln: ln,
		slots: make(chan struct{}, opt.MaxInFlight),
		rng:   rand.New(rand.NewPCG(opt.Seed, 0x5333)),
		stats: Stats{Requests: map[string]int64{}},
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = opt.MaxInFlight, opt.MaxInFlight
	rp.Transport = tr
	rp.Director = func(r *http.Request) {
		// keep Host as the client signed it: the server checks the signature
		r.URL.Scheme, r.URL.Host = target.Scheme, target.Host
	}
	switch {
	case opt.RewriteETags:
		rp.ModifyResponse = rewriteETags
	case opt.RewriteCompleteETag:
		rp.ModifyResponse = rewriteCompleteETag
	}
	p.srv = &http.Server{Handler: p.handler(rp), ReadHeaderTimeout: time.Minute}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

// Close stops the proxy.
func (p *Proxy) Close() error { return p.srv.Close() }

// Stats returns a copy of the counts so far.
func (p *Proxy) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats
	s.Requests = make(map[string]int64, len(p.stats.Requests))
	for k, v := range p.stats.Requests {
		s.Requests[k] = v
	}
	return s
}

// Reset sets every count back to zero.
func (p *Proxy) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stats = Stats{Requests: map[string]int64{}}
}

// String is the counts in one line: "total 123 (GET 100, HEAD 23), at most 8 in flight".
func (s Stats) String() string {
	kinds := make([]string, 0, len(s.Requests))
	for k := range s.Requests {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = fmt.Sprintf("%s %d", k, s.Requests[k])
	}
	return fmt.Sprintf("total %d (%s), at most %d in flight, %d SlowDown, %d resets",
		s.Total, strings.Join(parts, ", "), s.MaxInFlight, s.SlowDowns, s.Resets)
}

// fault is what happens to one request.
type fault int

const (
	forward fault = iota
	slowDown
	reset
)

func (p *Proxy) admit(r *http.Request) fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stats.Total++
	p.stats.Requests[Kind(r)]++
	p.inFlight++
	p.stats.MaxInFlight = max(p.stats.MaxInFlight, p.inFlight)
	x := p.rng.Float64()
	switch {
	case x < p.opt.SlowDownRate:
		p.stats.SlowDowns++
		return slowDown
	case x < p.opt.SlowDownRate+p.opt.ResetRate:
		p.stats.Resets++
		return reset
	}
	return forward
}

func (p *Proxy) done() {
	p.mu.Lock()
	p.inFlight--
	p.mu.Unlock()
}

func (p *Proxy) handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == StatsPath {
			p.serveStats(w, r)
			return
		}
		select {
		case p.slots <- struct{}{}:
		case <-r.Context().Done():
			return
		}
		defer func() { <-p.slots }()
		f := p.admit(r)
		defer p.done()
		select {
		case <-time.After(p.opt.Delay):
		case <-r.Context().Done():
			return
		}
		switch f {
		case slowDown:
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>`)
		case reset:
			resetConn(w)
		default:
			if p.opt.FlipPutBody != "" && r.Method == http.MethodPut && strings.Contains(r.URL.Path, p.opt.FlipPutBody) && r.Body != nil {
				if err := flipBody(r); err != nil {
					http.Error(w, err.Error(), http.StatusBadGateway)
					return
				}
			}
			next.ServeHTTP(w, r)
		}
	})
}

// resetConn closes the client's connection with a TCP reset.
func resetConn(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0) // close sends RST, not FIN
	}
	_ = conn.Close()
}

func (p *Proxy) serveStats(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		p.Reset()
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(p.Stats())
}

// Kind names an S3 request: LIST for a bucket listing, else its HTTP method.
func Kind(r *http.Request) string {
	q := r.URL.Query()
	if r.Method == http.MethodGet && (q.Has("list-type") || q.Has("delimiter") || q.Has("prefix") || strings.Count(strings.Trim(r.URL.Path, "/"), "/") == 0 && !q.Has("uploads")) {
		return "LIST"
	}
	return r.Method
}

// flipBody reads a request body and flips one byte in its middle, keeping
// its length.
func flipBody(r *http.Request) error {
	b, err := io.ReadAll(r.Body)
	r.Body.Close()
	if err != nil {
		return fmt.Errorf("s3proxy: read PUT body: %w", err)
	}
	if len(b) > 0 {
		b[len(b)/2] ^= 0x01
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	return nil
}

// etagElement is an ETag in a listing, quoted as XML escapes it or not.
var etagElement = regexp.MustCompile(`<ETag>(&#34;|&quot;|")?([0-9a-fA-F]{32})`)

// otherETag is the ETag a rewriting gateway gives for etag: the MD5 of it.
func otherETag(etag string) string {
	s := md5.Sum([]byte(etag))
	return hex.EncodeToString(s[:])
}

// rewriteETags replaces the ETags of a response, in its header and, for a
// listing, in its body.
func rewriteETags(resp *http.Response) error {
	if e := resp.Header.Get("ETag"); e != "" {
		resp.Header.Set("ETag", `"`+otherETag(strings.Trim(e, `"`))+`"`)
	}
	if !strings.Contains(resp.Header.Get("Content-Type"), "xml") || Kind(resp.Request) != "LIST" {
		return nil
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return fmt.Errorf("s3proxy: read listing: %w", err)
	}
	b = etagElement.ReplaceAllFunc(b, func(m []byte) []byte {
		sub := etagElement.FindSubmatch(m)
		return []byte("<ETag>" + string(sub[1]) + otherETag(strings.ToLower(string(sub[2]))))
	})
	resp.Body = io.NopCloser(bytes.NewReader(b))
	resp.ContentLength = int64(len(b))
	resp.Header.Set("Content-Length", strconv.Itoa(len(b)))
	return nil
}

// completeETag is the ETag of a multipart object in an answer to
// CompleteMultipartUpload: quoted as XML escapes it or not, then "-N".
var completeETag = regexp.MustCompile(`<ETag>(&#34;|&quot;|")?([0-9a-fA-F]{32})-`)

// rewriteCompleteETag replaces the ETag of an answer to
// CompleteMultipartUpload by the MD5 of it, keeping its "-N".
func rewriteCompleteETag(resp *http.Response) error {
	if resp.Request.Method != http.MethodPost || !resp.Request.URL.Query().Has("uploadId") || resp.StatusCode != http.StatusOK {
		return nil
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return fmt.Errorf("s3proxy: read CompleteMultipartUpload answer: %w", err)
	}
	b = completeETag.ReplaceAllFunc(b, func(m []byte) []byte {
		sub := completeETag.FindSubmatch(m)
		return []byte("<ETag>" + string(sub[1]) + otherETag(strings.ToLower(string(sub[2]))) + "-")
	})
	resp.Body = io.NopCloser(bytes.NewReader(b))
	resp.ContentLength = int64(len(b))
	resp.Header.Set("Content-Length", strconv.Itoa(len(b)))
	return nil
}
