// Package testutil starts the real services tests need (versitygw on
// loopback), builds the binaries under test and writes small mirrors.
package testutil

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/bandercheck/bandercheck/internal/store/s3store"
)

// S3 is a running versitygw.
type S3 struct {
	Endpoint  string
	AccessKey string
	SecretKey string
}

// NeedVersity skips the test, with a message, when versitygw is not
// installed, and returns its path otherwise. A test that prepares anything
// costly (a generated mirror) before it starts versitygw calls it first, so
// a skip costs nothing.
func NeedVersity(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("versitygw")
	if err == nil {
		return bin
	}
	gobin := filepath.Join(goPath(), "bin", "versitygw")
	if _, serr := os.Stat(gobin); serr != nil {
		t.Skip("versitygw not installed: run scripts/test.sh, or go install github.com/versity/versitygw/cmd/versitygw@v1.8.0")
	}
	return gobin
}

// Versity starts versitygw on 127.0.0.1 over a fresh folder, or skips the test
// with a message when it is not installed. It stops when the test ends.
func Versity(t testing.TB) *S3 {
	t.Helper()
	bin := NeedVersity(t)
	port := freePort(t)
	s := &S3{Endpoint: "http://127.0.0.1:" + port, AccessKey: "bandercheck-test", SecretKey: "bandercheck-secret"}
	dir := t.TempDir()
	cmd := exec.Command(bin, "--port", "127.0.0.1:"+port, "posix", dir)
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+s.AccessKey, "ROOT_SECRET_KEY="+s.SecretKey)
	logf, _ := os.Create(filepath.Join(t.TempDir(), "versitygw.log"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start versitygw: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); logf.Close() })
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(s.Endpoint)
		if err == nil {
			resp.Body.Close()
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("versitygw did not answer on %s: %v", s.Endpoint, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Options returns S3Options for a bucket and prefix on this server.
func (s *S3) Options(bucket, prefix string) s3store.Options {
	return s3store.Options{Bucket: bucket, Prefix: prefix, Endpoint: s.Endpoint, PathStyle: true, AccessKey: s.AccessKey, SecretKey: s.SecretKey}
}

// Env is the environment a bandercheck subprocess needs to reach this server.
func (s *S3) Env() []string {
	return []string{"AWS_ACCESS_KEY_ID=" + s.AccessKey, "AWS_SECRET_ACCESS_KEY=" + s.SecretKey, "AWS_REGION=us-east-1",
		"BANDERCHECK_S3_ENDPOINT=" + s.Endpoint, "BANDERCHECK_S3_PATH_STYLE=true", "AWS_EC2_METADATA_DISABLED=true"}
}

// Bucket creates a bucket and returns a client for it.
func (s *S3) Bucket(t testing.TB, name string) *s3.Client {
	t.Helper()
	// a bucket must exist before s3store.Open checks it, so create it with a raw client
	st, err := s3store.OpenClient(context.Background(), s.Options(name, ""))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("create bucket %s: %v", name, err)
	}
	return st
}

// Put uploads files (key → content) with optional metadata.
func Put(t testing.TB, c *s3.Client, bucket string, files map[string]string, meta map[string]map[string]string) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, len(files))
	sem := make(chan struct{}, 16)
	for k, v := range files {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			_, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(k), Body: strings.NewReader(v), Metadata: meta[k]})
			if err != nil {
				errs <- fmt.Errorf("put %s: %w", k, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// WriteFiles writes files (relative path → content) under root.
func WriteFiles(t testing.TB, root string, files map[string]string) {
	t.Helper()
	for p, c := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

var (
	buildOnce sync.Map // package path → *builtBinary
)

type builtBinary struct {
	once sync.Once
	path string
	err  error
}

// Binary builds a command of this module (e.g. "./cmd/bandercheck") once per
// test process: static and with trimmed paths, as the container image is built.
func Binary(t testing.TB, pkg string) string {
	t.Helper()
	v, _ := buildOnce.LoadOrStore(pkg, &builtBinary{})
	b := v.(*builtBinary)
	b.once.Do(func() {
		dir, err := os.MkdirTemp("", "bandercheck-bin-")
		if err != nil {
			b.err = err
			return
		}
		b.path = filepath.Join(dir, filepath.Base(pkg))
		// as the Dockerfile builds it (deploy/deploy_test.go holds them to it)
		cmd := exec.Command("go", "build", "-trimpath", "-o", b.path, pkg)
		cmd.Dir = ModuleRoot()
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// ModuleRoot is the folder of go.mod.
func ModuleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

func freePort(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

func goPath() string {
	if p := os.Getenv("GOPATH"); p != "" {
		return strings.Split(p, string(os.PathListSeparator))[0]
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, "go")
}
