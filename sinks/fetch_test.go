package sinks

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bandercheck/bandercheck/internal/store"
	"github.com/bandercheck/bandercheck/internal/store/posixstore"
	"github.com/bandercheck/bandercheck/sources"
)

// fullMirror is a Mirror whose disk is full.
type fullMirror struct{ *posixstore.Store }

type fullUpload struct{ store.Upload }

func (f fullUpload) Write(p []byte) (int, error) { return 0, syscall.ENOSPC }

func (f *fullMirror) Create(ctx context.Context, key string, meta store.Meta) (store.Upload, error) {
	up, err := f.Store.Create(ctx, key, meta)
	return fullUpload{up}, err
}

func TestFetchVerifiesAndSeparatesMirrorErrors(t *testing.T) {
	body := "release file content"
	sum := sha256.Sum256([]byte(body))
	digest := hex.EncodeToString(sum[:])
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/packages/ok.whl":
			w.Write([]byte(body))
		case "/packages/long.whl":
			w.Write([]byte(body + "more"))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "web/packages"), 0o755); err != nil {
		t.Fatal(err)
	}
	mirror := openMirror(t, root)
	f := &Fetcher{Client: srv.Client(), Base: srv.URL, Backoff: time.Millisecond}
	want := func(name string) Want {
		return Want{Key: "web/packages/" + name, URL: "https://files.example.invalid/packages/" + name, Size: int64(len(body)), SHA256: digest, Uploaded: time.Unix(1600000000, 0)}
	}
	ctx := context.Background()
	if n, err := f.Fetch(ctx, mirror, want("ok.whl")); err != nil || n != int64(len(body)) {
		t.Fatalf("fetch: %d, %v", n, err)
	}
	fi, err := os.Stat(filepath.Join(root, "web/packages/ok.whl"))
	if err != nil || !fi.ModTime().Equal(time.Unix(1600000000, 0)) {
		t.Errorf("installed file: %v, mtime %v", err, fi.ModTime())
	}
	var fe *FetchError
	for _, name := range []string{"long.whl", "gone.whl"} {
		_, err := f.Fetch(ctx, mirror, want(name))
		if !errors.As(err, &fe) {
			t.Errorf("%s: %v, want a FetchError", name, err)
		}
		if _, serr := os.Stat(filepath.Join(root, "web/packages", name)); serr == nil {
			t.Errorf("%s was installed", name)
		}
	}
	_, err = f.Fetch(ctx, &fullMirror{mirror}, want("ok.whl"))
	if err == nil || errors.As(err, &fe) || !strings.Contains(err.Error(), "no space left") {
		t.Errorf("full disk: %v, want a mirror error (not a FetchError)", err)
	}
	if left, _ := filepath.Glob(filepath.Join(root, "web/packages", store.TempDir, "*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// openMirror opens root as a POSIX store for the test.
func openMirror(t *testing.T, root string) *posixstore.Store {
	t.Helper()
	m, err := posixstore.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func TestFetchBoundsUnknownSizesAndNeverDecompresses(t *testing.T) {
	var sawEncoding []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sawEncoding = append(sawEncoding, r.Header.Get("Accept-Encoding"))
		switch r.URL.Path {
		case "/packages/endless.metadata":
			chunk := []byte(strings.Repeat("x", 64<<10))
			for i := 0; i < (MaxUnknownSize>>16)+64; i++ {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		case "/packages/bomb.metadata":
			// a small gzip body that inflates to 64 MiB
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			zw.Write(make([]byte, 64<<20))
			zw.Close()
			w.Header().Set("Content-Encoding", "gzip")
			w.Write(buf.Bytes())
		}
	}))
	defer srv.Close()
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "web/packages"), 0o755)
	mirror := openMirror(t, root)
	f := &Fetcher{Client: NewHTTPClient(time.Minute), Base: srv.URL, Attempts: 1}
	for _, name := range []string{"endless.metadata", "bomb.metadata"} {
		// the digest upstream names is that of the inflated content
		_, err := f.Fetch(context.Background(), mirror, Want{Key: "web/packages/" + name, URL: "/packages/" + name, Size: -1, SHA256: zeros64MiB})
		var fe *FetchError
		if !errors.As(err, &fe) {
			t.Errorf("%s: %v, want a FetchError", name, err)
		}
		if _, err := os.Stat(filepath.Join(root, "web/packages", name)); err == nil {
			t.Errorf("%s was installed", name)
		}
	}
	for _, enc := range sawEncoding {
		if enc != "" {
			t.Errorf("the client asked for a compressed body: Accept-Encoding %q", enc)
		}
	}
}

// zeros64MiB is the sha256 of 64 MiB of zero bytes.
var zeros64MiB = func() string {
	s := sha256.Sum256(make([]byte, 64<<20))
	return hex.EncodeToString(s[:])
}()

func TestFetchSource(t *testing.T) {
	cases := []struct {
		base, upstream, url, want string
	}{
		{"", "", "https://files.example.invalid/packages/ab/x.whl", "https://files.example.invalid/packages/ab/x.whl"},
		{"https://m.example/pypi", "", "https://files.example.invalid/packages/ab/x%2Bcpu.whl", "https://m.example/pypi/packages/ab/x%2Bcpu.whl"},
		{"https://m.example/pypi/", "", "https://files.example.invalid/packages/ab/x.whl", "https://m.example/pypi/packages/ab/x.whl"},
		{"", "http://127.0.0.1:9/up", "/packages/ab/x.whl", "http://127.0.0.1:9/up/packages/ab/x.whl"},
		{"http://b.example", "http://127.0.0.1:9", "/packages/ab/x.whl.metadata", "http://b.example/packages/ab/x.whl.metadata"},
		{"", "", "/packages/ab/x.whl", ""},
	}
	for _, c := range cases {
		got, _, err := (&Fetcher{Upstream: c.upstream}).source(c.url, c.base)
		if c.want == "" {
			if err == nil || !strings.Contains(err.Error(), "--download-base") {
				t.Errorf("%q with no base: %q, %v; want an error naming --download-base", c.url, got, err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("source(%q) with base %q, upstream %q = %q, %v; want %q", c.url, c.base, c.upstream, got, err, c.want)
		}
	}
}

// TestFetchDownloadMirror tries bandersnatch's download-mirror first, falls
// back to the file's own URL unless told not to, and verifies a digest of
// another algorithm than sha256 (an md5-only core-metadata).
func TestFetchDownloadMirror(t *testing.T) {
	body := "Metadata-Version: 2.1\nName: x\n"
	var hits []string
	handler := func(name string, has bool) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits = append(hits, name+r.URL.Path)
			if !has {
				http.NotFound(w, r)
				return
			}
			w.Write([]byte(body))
		})
	}
	mirrorUp := httptest.NewServer(handler("mirror", false))
	defer mirrorUp.Close()
	origin := httptest.NewServer(handler("origin", true))
	defer origin.Close()
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "web/packages"), 0o755)
	m := openMirror(t, root)
	md5sum := "md5:" + hexDigest(t, "md5", body)
	w := Want{Key: "web/packages/ab/x.whl.metadata", URL: origin.URL + "/packages/ab/x.whl.metadata", Size: -1, SHA256: md5sum}
	f := &Fetcher{Client: origin.Client(), Mirror: mirrorUp.URL + "/pypi", Backoff: time.Millisecond, Attempts: 1}
	if _, err := f.Fetch(context.Background(), m, w); err != nil {
		t.Fatalf("fetch with fallback: %v", err)
	}
	if strings.Join(hits, " ") != "mirror/pypi/packages/ab/x.whl.metadata origin/packages/ab/x.whl.metadata" {
		t.Errorf("requests: %v", hits)
	}
	if b, _ := os.ReadFile(filepath.Join(root, w.Key)); string(b) != body {
		t.Errorf("installed %q", b)
	}
	hits = nil
	f.NoFallback = true
	w.Key = "web/packages/ab/y.whl.metadata"
	_, err := f.Fetch(context.Background(), m, w)
	var fe *FetchError
	if !errors.As(err, &fe) || len(hits) != 1 {
		t.Errorf("no fallback: %v after %v", err, hits)
	}
	hits = nil
	f.NoFallback = false
	w.SHA256 = "md5:" + strings.Repeat("0", 32)
	w.Key = "web/packages/ab/z.whl.metadata"
	if _, err := f.Fetch(context.Background(), m, w); err == nil || !strings.Contains(err.Error(), "md5 mismatch") {
		t.Errorf("a wrong md5: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, w.Key)); err == nil {
		t.Errorf("a file with the wrong md5 was installed")
	}
}

func hexDigest(t *testing.T, algo, s string) string {
	h, err := sources.NewDigest(algo)
	if err != nil {
		t.Fatal(err)
	}
	h.Write([]byte(s))
	return hex.EncodeToString(h.Sum(nil))
}

// TestFetchSlowDripFailsAtTheFirstIdleStretch: a server that sends a byte
// and then nothing fails each attempt once IdleTimeout passes without a
// byte, long before the client's per-attempt timeout (an hour here): the
// file is a failed, retryable row and nothing is installed.
func TestFetchSlowDripFailsAtTheFirstIdleStretch(t *testing.T) {
	body := "release file content"
	sum := sha256.Sum256([]byte(body))
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "20")
		w.Write([]byte(body[:1]))
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "web/packages"), 0o755); err != nil {
		t.Fatal(err)
	}
	client := NewHTTPClient(time.Hour)
	f := &Fetcher{Client: client, Base: srv.URL, Backoff: time.Millisecond, Attempts: 2, IdleTimeout: 100 * time.Millisecond}
	w := Want{Key: "web/packages/drip.whl", URL: "https://files.example.invalid/packages/drip.whl", Size: int64(len(body)), SHA256: hex.EncodeToString(sum[:])}
	_, err := f.Fetch(context.Background(), openMirror(t, root), w)
	var fe *FetchError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "no byte for 100ms") {
		t.Fatalf("a slow-drip body: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, w.Key)); !os.IsNotExist(err) {
		t.Errorf("a stalled download was installed: %v", err)
	}
}
