package stages

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/bandercheck/bandercheck/internal/s3proxy"
	"github.com/bandercheck/bandercheck/internal/testutil"
)

// TestApplyOnS3RefusesABodyFlippedInFlight sends apply's uploads through a
// proxy that flips one byte of every PUT body of one file: versitygw must
// refuse the upload (apply's PutObject carries Content-MD5 and
// x-amz-checksum-sha256), the row fails, no object of the wrong bytes
// becomes visible, and a second apply, with the proxy no longer flipping,
// installs it.
func TestApplyOnS3RefusesABodyFlippedInFlight(t *testing.T) {
	t.Parallel()
	srv := testutil.Versity(t)
	client := srv.Bucket(t, "mirror")
	kept := pkg{"echo-1.0.tar.gz", "1.0", "echo one"}
	missing := pkg{"echo-2.0.tar.gz", "2.0", strings.Repeat("echo two, a file long enough to flip in its middle. ", 40)}
	other := pkg{"echo-3.0.tar.gz", "3.0", "echo three"}
	testutil.Put(t, client, "mirror", map[string]string{
		"pypi/web/json/echo":              jsonDoc("echo", 5, kept, missing, other),
		"pypi/web/simple/echo/index.html": "<html></html>",
		"pypi/" + kept.key():              kept.content,
	}, nil)
	flipping, err := s3proxy.Start(s3proxy.Options{Target: srv.Endpoint, FlipPutBody: missing.key()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { flipping.Close() })
	dir := t.TempDir()
	conf := filepath.Join(dir, "bandersnatch.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf("[mirror]\nstorage-backend = s3\njson = true\n[s3]\naws_access_key_id = %s\naws_secret_access_key = %s\n", srv.AccessKey, srv.SecretKey)), 0o644)
	ctx := context.Background()
	f := &fixture{t: t, ctx: ctx, env: &Env{Mirror: Location{Bucket: "mirror", Prefix: "pypi"}, Config: conf,
		S3Endpoint: flipping.URL, S3PathStyle: true, State: filepath.Join(dir, "state"), Progress: "never",
		Stdout: io.Discard, Stderr: io.Discard}}
	f.scans()
	if err := f.plan(); err != nil {
		t.Fatal(err)
	}
	up := serveFiles(t, missing, other)
	err = testApply(up.URL).Run(ctx, f.env)
	if err == nil || !strings.Contains(err.Error(), "1 download rows failed") {
		t.Fatalf("apply with a body flipped in flight: %v", err)
	}
	if n := flipping.Stats().Requests["PUT"]; n == 0 {
		t.Fatalf("no PUT went through the proxy")
	}
	got := f.results("applied/download")
	want := map[string]string{missing.key(): "failed", other.key(): "ok"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("results %v, want %v", got, want)
	}
	if _, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("mirror"), Key: aws.String("pypi/" + missing.key())}); err == nil {
		t.Fatalf("the server kept the upload whose body was flipped in flight")
	}
	// the row is retryable: with the proxy no longer flipping, apply installs it
	plain, err := s3proxy.Start(s3proxy.Options{Target: srv.Endpoint})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { plain.Close() })
	f.env.S3Endpoint = plain.URL
	if err := testApply(serveFiles(t, missing).URL).Run(ctx, f.env); err != nil {
		t.Fatalf("retry: %v", err)
	}
	for _, p := range []pkg{missing, other} {
		obj, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("mirror"), Key: aws.String("pypi/" + p.key())})
		if err != nil {
			t.Fatalf("%s after the retry: %v", p.key(), err)
		}
		b, _ := io.ReadAll(obj.Body)
		obj.Body.Close()
		if string(b) != p.content {
			t.Errorf("%s holds %q", p.key(), b)
		}
	}
}
