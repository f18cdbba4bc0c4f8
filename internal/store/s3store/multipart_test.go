package s3store_test

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/bandercheck/bandercheck/internal/s3proxy"
	"github.com/bandercheck/bandercheck/internal/store"
	"github.com/bandercheck/bandercheck/internal/store/s3store"
	"github.com/bandercheck/bandercheck/internal/testutil"
)

// multipartETag is the ETag S3 gives an object uploaded in parts of
// partSize bytes: the MD5 of the parts' MD5s, "-" and the number of parts.
func multipartETag(content string, partSize int) string {
	var sums []byte
	n := 0
	for off := 0; off < len(content); off += partSize {
		s := md5.Sum([]byte(content[off:min(off+partSize, len(content))]))
		sums = append(sums, s[:]...)
		n++
	}
	return fmt.Sprintf("%x-%d", md5.Sum(sums), n)
}

// TestUploadAboveTheThresholdGoesInParts lowers the multipart threshold
// (5 GiB by default) so that a small object goes as a multipart upload: it
// is stored whole, with a several-part ETag and bandersnatch's sha256 and
// uploaded-at metadata, and no multipart upload is left open. An object at
// the threshold stays one PutObject, its ETag the MD5 of its bytes.
func TestUploadAboveTheThresholdGoesInParts(t *testing.T) {
	srv := testutil.Versity(t)
	client := srv.Bucket(t, "mirror")
	p, err := s3proxy.Start(s3proxy.Options{Target: srv.Endpoint})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	opt := srv.Options("mirror", "pypi")
	opt.Endpoint = p.URL
	opt.MultipartAbove, opt.PartSize = 5<<20+1000, 5<<20 // versitygw, as S3, wants parts of 5 MiB
	ctx := context.Background()
	st, err := s3store.Open(ctx, opt)
	if err != nil {
		t.Fatal(err)
	}
	st.StageUploadsIn(t.TempDir())
	small := strings.Repeat("0123456789", 5<<20/10+100) // at the threshold: one PutObject
	big := small + "x"                                  // above it: 2 parts
	when := time.Unix(1581537968, 580457000)
	for key, content := range map[string]string{"big.whl": big, "small.whl": small} {
		sum := sha256.Sum256([]byte(content))
		up, err := st.Create(ctx, key, store.Meta{SHA256: hex.EncodeToString(sum[:]), Uploaded: when})
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(up, content)
		if err := up.Commit(ctx); err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("mirror"), Key: aws.String("pypi/" + key)})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(out.Body)
		out.Body.Close()
		if string(b) != content {
			t.Errorf("%s holds %d bytes, not its %d", key, len(b), len(content))
		}
		want := fmt.Sprintf("%x", md5.Sum([]byte(content)))
		if key == "big.whl" {
			want = multipartETag(content, 5<<20)
		}
		if got := strings.Trim(aws.ToString(out.ETag), `"`); got != want {
			t.Errorf("%s: ETag %s, want %s", key, got, want)
		}
		if out.Metadata["sha256"] != hex.EncodeToString(sum[:]) || out.Metadata["uploaded-at"] != "1581537968.580457" {
			t.Errorf("%s: metadata %v", key, out.Metadata)
		}
	}
	if n := p.Stats().Requests["PUT"]; n != 2+1 {
		t.Errorf("%d PUTs, want 2 parts and one PutObject", n)
	}
	noOpenUploads(t, client)
}

// TestMultipartUploadOfAFlippedPartIsAborted flips a byte of every part
// sent of one object: each part is refused (its Content-MD5, checksum and
// signed payload), sent three times, then the upload fails with a
// *store.CorruptUploadError and is aborted, leaving no object and no parts.
func TestMultipartUploadOfAFlippedPartIsAborted(t *testing.T) {
	srv := testutil.Versity(t)
	client := srv.Bucket(t, "mirror")
	p, err := s3proxy.Start(s3proxy.Options{Target: srv.Endpoint, FlipPutBody: "/flip-"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	opt := srv.Options("mirror", "pypi")
	opt.Endpoint = p.URL
	opt.MultipartAbove, opt.PartSize = 100, 5<<20
	ctx := context.Background()
	st, err := s3store.Open(ctx, opt)
	if err != nil {
		t.Fatal(err)
	}
	st.StageUploadsIn(t.TempDir())
	err = upload(ctx, st, "flip-big.whl", strings.Repeat("0123456789", 6<<20/10))
	var ce *store.CorruptUploadError
	if !errors.As(err, &ce) {
		t.Fatalf("multipart upload of flipped parts: %v, want a *store.CorruptUploadError", err)
	}
	if _, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("mirror"), Key: aws.String("pypi/flip-big.whl")}); err == nil {
		t.Errorf("an object was stored from flipped parts")
	}
	if n := p.Stats().Requests["PUT"]; n != 3 {
		t.Errorf("%d PUTs, want the first part three times", n)
	}
	noOpenUploads(t, client)
}

// noOpenUploads fails when the bucket holds a multipart upload not
// completed nor aborted.
func noOpenUploads(t *testing.T, client *s3.Client) {
	t.Helper()
	out, err := client.ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: aws.String("mirror")})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range out.Uploads {
		t.Errorf("multipart upload of %s left open (%s)", aws.ToString(u.Key), aws.ToString(u.UploadId))
	}
}

// TestMultipartObjectWithAnotherETagIsDeleted: the ETag the answer to
// CompleteMultipartUpload gives (here rewritten by the proxy, as for a
// server that assembled other bytes) is not the MD5 of the parts' MD5s:
// the upload fails with a *store.CorruptUploadError (apply: a failed row,
// retried by the next apply) and the object is deleted, so nothing
// unproven stays in the bucket and no upload is left open.
func TestMultipartObjectWithAnotherETagIsDeleted(t *testing.T) {
	srv := testutil.Versity(t)
	client := srv.Bucket(t, "mirror")
	p, err := s3proxy.Start(s3proxy.Options{Target: srv.Endpoint, RewriteCompleteETag: true})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	opt := srv.Options("mirror", "pypi")
	opt.Endpoint = p.URL
	opt.MultipartAbove, opt.PartSize = 100, 5<<20
	ctx := context.Background()
	st, err := s3store.Open(ctx, opt)
	if err != nil {
		t.Fatal(err)
	}
	st.StageUploadsIn(t.TempDir())
	err = upload(ctx, st, "big.whl", strings.Repeat("0123456789", 6<<20/10))
	var ce *store.CorruptUploadError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "MD5 of its 2 parts' MD5s") {
		t.Fatalf("multipart upload answered with another ETag: %v, want a *store.CorruptUploadError naming the parts", err)
	}
	if _, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("mirror"), Key: aws.String("pypi/big.whl")}); err == nil {
		t.Errorf("the object whose ETag is not its parts' was kept")
	}
	if n := p.Stats().Requests["DELETE"]; n != 1 {
		t.Errorf("%d DELETEs, want the object's", n)
	}
	noOpenUploads(t, client)
}

// TestMultipartETagOfAnEncryptingServerIsNotChecked: a server whose part
// ETags are no MD5s (SSE-KMS, SSE-C) gives the object an ETag no one can
// foresee: the upload is not failed for it, and nothing is deleted.
func TestMultipartETagOfAnEncryptingServerIsNotChecked(t *testing.T) {
	for _, c := range []struct {
		name      string
		md5Parts  bool   // the part ETags are the parts' MD5s
		objectTag string // the ETag element CompleteMultipartUpload answers
	}{
		{"part ETags no MD5s", false, `<ETag>"ffffffffffffffffffffffffffffffff-2"</ETag>`},
		{"no object ETag in the answer", true, ``},
	} {
		t.Run(c.name, func(t *testing.T) {
			var mu sync.Mutex
			var deletes, parts int
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				defer mu.Unlock()
				q := r.URL.Query()
				switch {
				case r.Method == http.MethodHead:
				case r.Method == http.MethodPost && q.Has("uploads"):
					fmt.Fprint(w, `<InitiateMultipartUploadResult><Bucket>mirror</Bucket><Key>pypi/big.whl</Key><UploadId>u1</UploadId></InitiateMultipartUploadResult>`)
				case r.Method == http.MethodPut && q.Has("partNumber"):
					h := md5.New()
					io.Copy(h, r.Body)
					parts++
					if c.md5Parts {
						w.Header().Set("ETag", fmt.Sprintf(`"%x"`, h.Sum(nil)))
					} else {
						w.Header().Set("ETag", fmt.Sprintf(`"%032x"`, parts)) // no MD5 of the part
					}
				case r.Method == http.MethodPost && q.Has("uploadId"):
					fmt.Fprint(w, `<CompleteMultipartUploadResult><Bucket>mirror</Bucket><Key>pypi/big.whl</Key>`+c.objectTag+`</CompleteMultipartUploadResult>`)
				case r.Method == http.MethodDelete:
					deletes++
				default:
					http.Error(w, "unexpected "+r.Method+" "+r.URL.String(), http.StatusBadRequest)
				}
			}))
			defer srv.Close()
			ctx := context.Background()
			st, err := s3store.Open(ctx, s3store.Options{Bucket: "mirror", Prefix: "pypi", Endpoint: srv.URL, PathStyle: true, AccessKey: "k", SecretKey: "s", MultipartAbove: 100, PartSize: 5 << 20})
			if err != nil {
				t.Fatal(err)
			}
			st.StageUploadsIn(t.TempDir())
			defer s3store.SetUploadChecks(false, true, false)()
			if err := upload(ctx, st, "big.whl", strings.Repeat("0123456789", 6<<20/10)); err != nil {
				t.Fatalf("upload: %v", err)
			}
			if parts != 2 || deletes != 0 {
				t.Errorf("%d parts sent and %d deletes, want 2 and none", parts, deletes)
			}
		})
	}
}
