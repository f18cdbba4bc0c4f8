package stages

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bandercheck/bandercheck/internal/store"
	"github.com/bandercheck/bandercheck/internal/store/posixstore"
	"github.com/bandercheck/bandercheck/internal/testutil"
)

// etagStore is a folder mirror whose listings carry each file's MD5 as its
// ETag, as an S3 bucket's do. It lists pages (store.PageLister) and counts
// what calibration asks: whole listings, the largest page, and the most
// reads in flight at once (each read waits, up to a few seconds, until
// want reads are in flight).
type etagStore struct {
	store.Store
	want int

	mu                sync.Mutex
	lists, widestPage int
	inFlight, most    int
	arrived           chan struct{}
}

func (s *etagStore) withETag(o store.Object) store.Object {
	rc, err := s.Store.Open(context.Background(), o.Key)
	if err != nil {
		return o
	}
	defer rc.Close()
	h := md5.New()
	io.Copy(h, rc)
	o.ETag = `"` + hex.EncodeToString(h.Sum(nil)) + `"`
	return o
}

func (s *etagStore) List(ctx context.Context, prefix, startAfter string, fn func(store.Object) error) error {
	s.mu.Lock()
	s.lists++
	s.mu.Unlock()
	return s.Store.List(ctx, prefix, startAfter, func(o store.Object) error { return fn(s.withETag(o)) })
}

func (s *etagStore) ListPage(ctx context.Context, prefix, startAfter string, n int, fn func(store.Object) error) error {
	s.mu.Lock()
	s.widestPage = max(s.widestPage, n)
	s.mu.Unlock()
	i := 0
	err := s.Store.List(ctx, prefix, startAfter, func(o store.Object) error {
		if i++; i > n {
			return errFound
		}
		return fn(s.withETag(o))
	})
	if err == errFound && i > n {
		return nil
	}
	return err
}

func (s *etagStore) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	s.mu.Lock()
	s.inFlight++
	s.most = max(s.most, s.inFlight)
	if s.inFlight == s.want {
		close(s.arrived)
	}
	s.mu.Unlock()
	select { // not a timed assertion: a bound on the wait for reads that never come
	case <-s.arrived:
	case <-time.After(3 * time.Second):
	}
	defer func() { s.mu.Lock(); s.inFlight--; s.mu.Unlock() }()
	b, err := s.Store.Open(ctx, key)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	data, err := io.ReadAll(b)
	return io.NopCloser(bytes.NewReader(data)), err
}

// TestCalibrationSamplesAPageAtATimeAndAtOnce: calibration lists pages of
// calibrationPage keys, not listings a server walks 1,000 keys at a time,
// and takes its samples at once (each a listing and a read: one after the
// other they held a 20 ms scan back by six round trips, ~0.5 s of 2.3).
func TestCalibrationSamplesAPageAtATimeAndAtOnce(t *testing.T) {
	files := map[string]string{}
	for i := range 600 {
		files[fmt.Sprintf("web/packages/%02x/%02x/%060x/p-%d.tar.gz", i%256, (i*7)%256, i, i)] = strings.Repeat("x", i+1)
	}
	root := t.TempDir()
	testutil.WriteFiles(t, root, files)
	ps, err := posixstore.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	es := &etagStore{Store: ps, want: calibrationSamples, arrived: make(chan struct{})}
	var log bytes.Buffer
	g := &Env{Progress: "never", LogFormat: "text", Stdout: io.Discard, Stderr: &log}
	hash, err := calibrate(context.Background(), g, es, HashETag)
	if err != nil || hash != HashETag {
		t.Fatalf("calibrate: %v, %v; log:\n%s", hash, err, log.String())
	}
	if !strings.Contains(log.String(), fmt.Sprintf("ETags calibrated: %d sampled objects", calibrationSamples)) {
		t.Errorf("log: %s", log.String())
	}
	if es.lists != 0 || es.widestPage == 0 || es.widestPage > calibrationPage {
		t.Errorf("calibration made %d whole listings and pages of at most %d keys; want none, and pages of 1 to %d", es.lists, es.widestPage, calibrationPage)
	}
	if es.most != calibrationSamples {
		t.Errorf("at most %d samples read at once, want %d", es.most, calibrationSamples)
	}
}

// readCounter counts the reads of each key.
type readCounter struct {
	*etagStore
	mu    sync.Mutex
	reads map[string]int
}

func (r *readCounter) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	r.mu.Lock()
	r.reads[key]++
	r.mu.Unlock()
	return r.etagStore.Open(ctx, key)
}

// TestCalibrationReadsEachSampleOnce: on a small mirror the samples of a
// round often land on the same object; it is read once, so calibration
// reads at most calibrationSamples objects. Before, each sample read its
// object, and a duplicate cost a GET and another round (up to 9 reads).
func TestCalibrationReadsEachSampleOnce(t *testing.T) {
	files := map[string]string{}
	for i := range calibrationSamples {
		files[fmt.Sprintf("web/packages/%02x/%02x/%060x/p-%d.tar.gz", 0x80, 0x80, i, i)] = strings.Repeat("x", i+1)
	}
	root := t.TempDir()
	testutil.WriteFiles(t, root, files)
	ps, err := posixstore.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	es := &etagStore{Store: ps, want: 1, arrived: make(chan struct{})}
	close(es.arrived) // no waiting for reads in flight here
	es.want = -1
	for run := range 30 { // the samples' starting points are random
		rc := &readCounter{etagStore: es, reads: map[string]int{}}
		g := &Env{Progress: "never", LogFormat: "text", Stdout: io.Discard, Stderr: io.Discard}
		hash, err := calibrate(context.Background(), g, rc, HashETag)
		if err != nil || hash != HashETag {
			t.Fatalf("run %d: calibrate: %v, %v", run, hash, err)
		}
		total := 0
		for key, n := range rc.reads {
			total += n
			if n > 1 {
				t.Errorf("run %d: %s read %d times", run, key, n)
			}
		}
		if total > calibrationSamples {
			t.Errorf("run %d: %d reads, want at most %d", run, total, calibrationSamples)
		}
	}
}
