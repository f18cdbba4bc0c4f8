package s3store_test

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/bandercheck/bandercheck/internal/s3proxy"
	"github.com/bandercheck/bandercheck/internal/store"
	"github.com/bandercheck/bandercheck/internal/store/s3store"
	"github.com/bandercheck/bandercheck/internal/testutil"
)

// upload writes content at key through st.
func upload(ctx context.Context, st *s3store.Store, key, content string) error {
	sum := sha256.Sum256([]byte(content))
	up, err := st.Create(ctx, key, store.Meta{SHA256: hex.EncodeToString(sum[:])})
	if err != nil {
		return err
	}
	if _, err := io.WriteString(up, content); err != nil {
		return errors.Join(err, up.Abort())
	}
	return up.Commit(ctx)
}

// TestEachUploadDigestRefusesAFlippedBody sends uploads through a proxy that
// flips a byte of their bodies, with the digests the server checks turned on
// one at a time. Each alone makes versitygw refuse the body and leave no
// object; with none, the flipped bytes are stored, so the flip is real. Over
// http the SDK signs the payload's sha256 by itself, which versitygw checks
// (XAmzContentSHA256Mismatch); over https it sends UNSIGNED-PAYLOAD, and
// Content-MD5 and x-amz-checksum-sha256 are what the server checks.
func TestEachUploadDigestRefusesAFlippedBody(t *testing.T) {
	srv := testutil.Versity(t)
	client := srv.Bucket(t, "mirror")
	p, err := s3proxy.Start(s3proxy.Options{Target: srv.Endpoint, FlipPutBody: "/flip-"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	opt := srv.Options("mirror", "pypi")
	opt.Endpoint = p.URL
	ctx := context.Background()
	st, err := s3store.Open(ctx, opt)
	if err != nil {
		t.Fatal(err)
	}
	st.StageUploadsIn(t.TempDir())
	content := strings.Repeat("0123456789", 100)
	for _, c := range []struct {
		name                 string
		payload, md5, sha256 bool
		code                 string // "" when the server stores the flipped body
	}{
		{"all", true, true, true, "XAmzContentSHA256Mismatch"},
		{"payload", true, false, false, "XAmzContentSHA256Mismatch"},
		{"md5", false, true, false, "BadDigest"},
		{"sha256", false, false, true, "BadDigest"},
		{"none", false, false, false, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			defer s3store.SetUploadChecks(c.payload, c.md5, c.sha256)()
			key := "flip-" + c.name + ".whl"
			err := upload(ctx, st, key, content)
			obj, gerr := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("mirror"), Key: aws.String("pypi/" + key)})
			if c.code == "" {
				if err != nil || gerr != nil {
					t.Fatalf("with no digest the upload should go through: %v, %v", err, gerr)
				}
				b, _ := io.ReadAll(obj.Body)
				obj.Body.Close()
				if string(b) == content {
					t.Fatalf("the proxy flipped no byte")
				}
				return
			}
			var ce *store.CorruptUploadError
			var ae smithy.APIError
			if !errors.As(err, &ce) || !errors.As(err, &ae) || ae.ErrorCode() != c.code {
				t.Fatalf("upload of a flipped body: %v, want a *store.CorruptUploadError of %s", err, c.code)
			}
			if gerr == nil {
				obj.Body.Close()
				t.Fatalf("an object was stored at %s", key)
			}
		})
	}
	// three attempts each for the four refused ones, one for the last
	if n := p.Stats().Requests["PUT"]; n != 4*3+1 {
		t.Errorf("%d PUTs, want 13", n)
	}
}

// TestUploadSendsDigestsTheServerKeeps uploads a file and reads back the
// sha256 checksum versitygw kept from x-amz-checksum-sha256, the MD5 ETag
// and bandersnatch's sha256 metadata.
func TestUploadSendsDigestsTheServerKeeps(t *testing.T) {
	srv := testutil.Versity(t)
	client := srv.Bucket(t, "mirror")
	ctx := context.Background()
	st, err := s3store.Open(ctx, srv.Options("mirror", "pypi"))
	if err != nil {
		t.Fatal(err)
	}
	st.StageUploadsIn(t.TempDir())
	content := "a wheel's bytes"
	if err := upload(ctx, st, "web/packages/aa/bb/x.whl", content); err != nil {
		t.Fatal(err)
	}
	out, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("mirror"), Key: aws.String("pypi/web/packages/aa/bb/x.whl"), ChecksumMode: types.ChecksumModeEnabled})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(content))
	if got := aws.ToString(out.ChecksumSHA256); got != base64.StdEncoding.EncodeToString(sum[:]) {
		t.Errorf("stored checksum %q, want the sha256 of the content", got)
	}
	if got, want := strings.Trim(aws.ToString(out.ETag), `"`), fmt.Sprintf("%x", md5.Sum([]byte(content))); got != want {
		t.Errorf("ETag %q, want the MD5 %s", got, want)
	}
	if got := out.Metadata["sha256"]; got != hex.EncodeToString(sum[:]) {
		t.Errorf("sha256 metadata %q", got)
	}
}

// TestUploadWithoutChecksumWhereNotImplemented puts a server that answers
// 501 to x-amz-checksum-sha256 in front of versitygw: the upload goes
// through without it, and the next one does not send it again.
func TestUploadWithoutChecksumWhereNotImplemented(t *testing.T) {
	srv := testutil.Versity(t)
	srv.Bucket(t, "mirror")
	target, _ := url.Parse(srv.Endpoint)
	rp := httputil.NewSingleHostReverseProxy(target)
	var refused, puts atomic.Int64
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			puts.Add(1)
			if r.Header.Get("x-amz-checksum-sha256") != "" {
				refused.Add(1)
				w.Header().Set("Content-Type", "application/xml")
				w.WriteHeader(http.StatusNotImplemented)
				io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>NotImplemented</Code><Message>A header you provided implies functionality that is not implemented.</Message></Error>`)
				return
			}
		}
		rp.ServeHTTP(w, r)
	}))
	defer front.Close()
	opt := srv.Options("mirror", "")
	opt.Endpoint = front.URL
	ctx := context.Background()
	st, err := s3store.Open(ctx, opt)
	if err != nil {
		t.Fatal(err)
	}
	st.StageUploadsIn(t.TempDir())
	for _, k := range []string{"a.whl", "b.whl"} {
		if err := upload(ctx, st, k, "content of "+k); err != nil {
			t.Fatalf("%s: %v", k, err)
		}
	}
	if refused.Load() != 1 || puts.Load() != 3 {
		t.Errorf("%d PUTs refused of %d, want 1 of 3", refused.Load(), puts.Load())
	}
}
