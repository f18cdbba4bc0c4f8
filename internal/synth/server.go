package synth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Counts are the requests a server answered, by kind.
type Counts struct {
	HeadBucket    int64 `json:"head_bucket"`
	List          int64 `json:"list"`
	ListedKeys    int64 `json:"listed_keys"`
	Head          int64 `json:"head"`
	Get           int64 `json:"get"`
	GetBytes      int64 `json:"get_bytes"`
	Put           int64 `json:"put"`
	PutBytes      int64 `json:"put_bytes"`
	Delete        int64 `json:"delete"`
	DeleteObjects int64 `json:"delete_objects"`
	DeletedKeys   int64 `json:"deleted_keys"`
	NotFound      int64 `json:"not_found"`
	Refused       int64 `json:"refused"` // bad requests, a wrong Content-MD5
	Index         int64 `json:"upstream_index"`
	ProjectJSON   int64 `json:"upstream_json"`
	ProjectPage   int64 `json:"upstream_page"`
	Files         int64 `json:"upstream_files"`
	FileBytes     int64 `json:"upstream_file_bytes"`
}

// counters are Counts updated atomically.
type counters struct {
	headBucket, list, listedKeys, head, get, getBytes, put, putBytes, del, delObjects, deletedKeys,
	notFound, refused, index, projectJSON, projectPage, files, fileBytes atomic.Int64
}

func (c *counters) snapshot() Counts {
	return Counts{c.headBucket.Load(), c.list.Load(), c.listedKeys.Load(), c.head.Load(), c.get.Load(), c.getBytes.Load(),
		c.put.Load(), c.putBytes.Load(), c.del.Load(), c.delObjects.Load(), c.deletedKeys.Load(), c.notFound.Load(),
		c.refused.Load(), c.index.Load(), c.projectJSON.Load(), c.projectPage.Load(), c.files.Load(), c.fileBytes.Load()}
}

// Requests is the number of requests counted.
func (c Counts) Requests() int64 {
	return c.HeadBucket + c.List + c.Head + c.Get + c.Put + c.Delete + c.DeleteObjects + c.Index + c.ProjectJSON + c.ProjectPage + c.Files
}

// Stats is what /_synth/stats answers: the counts and the server process's CPU.
type Stats struct {
	Counts
	Requests   int64   `json:"requests"`
	CPUSeconds float64 `json:"cpu_seconds"` // user + system of the whole process since it started
}

// Server serves a Mirror as an S3 bucket and as its upstream, on loopback.
type Server struct {
	Mirror      *Mirror
	Bucket      string
	S3URL       string // the S3 endpoint (path style)
	UpstreamURL string // upstream's base: /simple/, /pypi/<name>/json, /packages/…

	counts  counters
	mu      sync.Mutex
	deleted map[string]bool // keys deleted since the start: HEAD and GET miss them
	s3, up  *http.Server
}

// Start serves m on two loopback ports: S3 (bucket bucket) and upstream.
// addrs gives the listen addresses ("" for any free port).
func Start(m *Mirror, bucket, s3Addr, upAddr string) (*Server, error) {
	s := &Server{Mirror: m, Bucket: bucket, deleted: map[string]bool{}}
	ls, err := listen(s3Addr)
	if err != nil {
		return nil, err
	}
	lu, err := listen(upAddr)
	if err != nil {
		ls.Close()
		return nil, err
	}
	s.S3URL, s.UpstreamURL = "http://"+ls.Addr().String(), "http://"+lu.Addr().String()
	s.s3 = &http.Server{Handler: http.HandlerFunc(s.serveS3), ReadHeaderTimeout: time.Minute}
	s.up = &http.Server{Handler: http.HandlerFunc(s.serveUpstream), ReadHeaderTimeout: time.Minute}
	go s.s3.Serve(ls)
	go s.up.Serve(lu)
	return s, nil
}

func listen(addr string) (net.Listener, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil || (host != "127.0.0.1" && host != "localhost" && host != "::1") {
		return nil, fmt.Errorf("synth listens on loopback only, not %q", addr)
	}
	return net.Listen("tcp", addr)
}

// Close stops both servers.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return errors.Join(s.s3.Shutdown(ctx), s.up.Shutdown(ctx))
}

// Counts returns the requests answered so far.
func (s *Server) Counts() Counts { return s.counts.snapshot() }

// Stats returns the counts and the process's CPU time.
func (s *Server) Stats() Stats {
	c := s.counts.snapshot()
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return Stats{Counts: c, Requests: c.Requests(), CPUSeconds: cpu.Seconds()}
}

// serveStats answers /_synth/stats on either port.
func (s *Server) serveStats(w http.ResponseWriter, r *http.Request) bool {
	if !strings.HasPrefix(r.URL.Path, "/_synth/stats") {
		return false
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(s.Stats())
	return true
}

func (s *Server) isDeleted(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deleted[key]
}

func (s *Server) markDeleted(keys ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range keys {
		s.deleted[k] = true
	}
}
