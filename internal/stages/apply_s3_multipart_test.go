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
	"github.com/bandercheck/bandercheck/internal/store/s3store"
	"github.com/bandercheck/bandercheck/internal/testutil"
	"github.com/bandercheck/bandercheck/pipeline"
)

// TestApplyUploadsABigFileInPartsThatEtagThenProves lowers the multipart
// threshold (5 GiB by default) so that apply uploads a 6 MiB file in two
// parts: the object gets bandersnatch's sha256 metadata and a "-2" ETag, no
// multipart upload is left open, and a later --hash=etag scan, which cannot
// take that ETag for an MD5, proves it by its metadata (by its content with
// etag+content, even right after an etag scan took its metadata) and plans
// nothing.
func TestApplyUploadsABigFileInPartsThatEtagThenProves(t *testing.T) {
	t.Parallel()
	srv := testutil.Versity(t)
	client := srv.Bucket(t, "mirror")
	small := pkg{"echo-1.0.tar.gz", "1.0", "echo one"}
	big := pkg{"echo-2.0.tar.gz", "2.0", strings.Repeat("a big file ", 6<<20/11)}
	files := map[string]string{
		"pypi/web/json/echo":              jsonDoc("echo", 5, small, big),
		"pypi/web/simple/echo/index.html": "<html></html>",
		"pypi/web/simple/index.html":      "<html></html>",
		"pypi/" + small.key():             small.content,
	}
	testutil.Put(t, client, "mirror", files, nil)
	dir := t.TempDir()
	conf := filepath.Join(dir, "bandersnatch.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf("[mirror]\nstorage-backend = s3\njson = true\n[s3]\naws_access_key_id = %s\naws_secret_access_key = %s\n", srv.AccessKey, srv.SecretKey)), 0o644)
	ctx := context.Background()
	f := &fixture{t: t, ctx: ctx, env: &Env{Mirror: Location{Bucket: "mirror", Prefix: "pypi"}, Config: conf,
		S3Endpoint: srv.Endpoint, S3PathStyle: true, State: filepath.Join(dir, "state"), Progress: "never",
		Stdout: io.Discard, Stderr: io.Discard,
		tuneS3: func(o *s3store.Options) { o.MultipartAbove, o.PartSize = 5<<20, 5<<20 }}}
	f.scans()
	if err := f.plan(); err != nil {
		t.Fatal(err)
	}
	if err := testApply(serveFiles(t, big).URL).Run(ctx, f.env); err != nil {
		t.Fatalf("apply: %v", err)
	}
	head, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("mirror"), Key: aws.String("pypi/" + big.key())})
	if err != nil {
		t.Fatal(err)
	}
	if etag := strings.Trim(aws.ToString(head.ETag), `"`); !strings.HasSuffix(etag, "-2") {
		t.Fatalf("the big file's ETag is %s, not that of a two-part upload", etag)
	}
	if head.Metadata["sha256"] != sum(big.content) || head.Metadata["uploaded-at"] == "" {
		t.Errorf("the big file's metadata: %v", head.Metadata)
	}
	ups, err := client.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("mirror")})
	if err != nil || len(ups.Uploads) != 0 {
		t.Errorf("multipart uploads left open: %v %v", ups, err)
	}
	// etag first: etag+content then must not reuse the digest etag took
	// from the metadata (it did before), but read the object
	for _, c := range []struct {
		mode HashMode
		want string
	}{{HashETag, pipeline.VerifiedMetadata}, {HashETagContent, pipeline.VerifiedContent}} {
		mode, want := c.mode, c.want
		if _, err := (&ScanStorageOptions{Jobs: 2, Hash: mode, Fresh: true}).Run(ctx, f.env); err != nil {
			t.Fatalf("scan storage --hash=%s: %v", mode, err)
		}
		if err := f.plan(); err != nil {
			t.Fatalf("plan after --hash=%s: %v", mode, err)
		}
		got := map[string]string{}
		for _, r := range f.rows("storage") {
			got[r[pipeline.StoragePath]] = r[pipeline.StorageVerified]
		}
		if got[big.key()] != want || got[small.key()] != pipeline.VerifiedETag {
			t.Errorf("--hash=%s proved the big file by %q, the small one by %q; want %s and etag", mode, got[big.key()], got[small.key()], want)
		}
		for _, m := range []string{"plan/download", "plan/delete"} {
			if r := f.rows(m); len(r) != 0 {
				t.Errorf("--hash=%s plans %s: %v", mode, m, r)
			}
		}
	}
}
