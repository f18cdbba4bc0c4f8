package stages

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bandercheck/bandercheck/internal/s3proxy"
	"github.com/bandercheck/bandercheck/internal/testutil"
	"github.com/bandercheck/bandercheck/pipeline"
)

// TestETagProvesCoreMetadataByItsSHA256: upstream gives a .metadata file's
// sha256 (core-metadata) but no md5, so its ETag proves nothing. A first
// --hash=etag scan (no request an object) leaves .metadata files proven by
// their presence only; --hash=etag+content reads them and plan compares
// their sha256: a same-size corrupt one is planned as hash-mismatch, the
// right one proven by content; a later --hash=etag scan reuses those digests
// while the ETags are unchanged, with no read but calibration's, and plans
// the same. Before, --hash=etag never used a digest read earlier for them.
func TestETagProvesCoreMetadataByItsSHA256(t *testing.T) {
	t.Parallel()
	srv := testutil.Versity(t)
	client := srv.Bucket(t, "mirror")
	good := pkg{"echo-1.0-py3-none-any.whl", "1.0", "wheel one"}
	bad := pkg{"echo-2.0-py3-none-any.whl", "2.0", "wheel two"}
	goodMeta, badMeta := "Metadata-Version: 2.1\nName: echo\nVersion: 1.0\n", "Metadata-Version: 2.1\nName: echo\nVersion: 2.0\n"
	doc := jsonDoc("echo", 5, good, bad)
	for _, p := range []struct{ file, meta string }{{good.file, goodMeta}, {bad.file, badMeta}} {
		doc = strings.Replace(doc, `"filename":"`+p.file+`"`, `"core-metadata":{"sha256":"`+sum(p.meta)+`"},"filename":"`+p.file+`"`, 1)
	}
	corrupt := strings.Replace(badMeta, "2.0", "2.1", 1) // the same size
	testutil.Put(t, client, "mirror", map[string]string{
		"pypi/web/json/echo":               doc,
		"pypi/web/simple/echo/index.html":  "<html></html>",
		"pypi/web/simple/index.html":       "<html></html>",
		"pypi/" + good.key():               good.content,
		"pypi/" + good.key() + ".metadata": goodMeta,
		"pypi/" + bad.key():                bad.content,
		"pypi/" + bad.key() + ".metadata":  corrupt,
	}, nil)
	proxy, err := s3proxy.Start(s3proxy.Options{Target: srv.Endpoint})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proxy.Close() })
	dir := t.TempDir()
	conf := filepath.Join(dir, "bandersnatch.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf("[mirror]\nstorage-backend = s3\njson = true\n[s3]\naws_access_key_id = %s\naws_secret_access_key = %s\n", srv.AccessKey, srv.SecretKey)), 0o644)
	ctx := context.Background()
	f := &fixture{t: t, ctx: ctx, env: &Env{Mirror: Location{Bucket: "mirror", Prefix: "pypi"}, Config: conf,
		S3Endpoint: proxy.URL, S3PathStyle: true, State: filepath.Join(dir, "state"), Progress: "never",
		Stdout: io.Discard, Stderr: io.Discard}}
	scan := func(mode HashMode) {
		t.Helper()
		if _, err := (&ScanStorageOptions{Jobs: 2, Hash: mode, Fresh: true}).Run(ctx, f.env); err != nil {
			t.Fatal(err)
		}
		if _, err := (&ScanMetadataOptions{Jobs: 2}).Run(ctx, f.env); err != nil {
			t.Fatal(err)
		}
		if err := f.plan(); err != nil {
			t.Fatal(err)
		}
	}
	verified := func() map[string]string {
		got := map[string]string{}
		for _, r := range f.rows("storage") {
			got[r[pipeline.StoragePath]] = r[pipeline.StorageVerified]
		}
		return got
	}
	check := func(when, metaBy string, planned bool) {
		t.Helper()
		v := verified()
		if v[good.key()+".metadata"] != metaBy || v[bad.key()+".metadata"] != metaBy || v[good.key()] != pipeline.VerifiedETag {
			t.Errorf("%s: verified %v: want the .metadata files by %s, the wheels by etag", when, v, metaBy)
		}
		rows := f.rows("plan/download")
		if planned != (len(rows) == 1) || planned && (rows[0][0] != bad.key()+".metadata" || !strings.Contains(fmt.Sprint(rows[0]), pipeline.ReasonHashMismatch)) {
			t.Errorf("%s: plan/download %v, want %s.metadata as hash-mismatch: %t", when, rows, bad.key(), planned)
		}
	}
	scan(HashETag)
	check("first etag scan", pipeline.VerifiedETag, false) // (proven by presence: no md5 to compare)
	scan(HashETagContent)
	check("etag+content", pipeline.VerifiedContent, true)
	gets := proxy.Stats().Requests["GET"]
	scan(HashETag)
	if n := proxy.Stats().Requests["GET"] - gets - 1; n > calibrationSamples { // (1: scan metadata's document)
		t.Errorf("the etag scan after etag+content made %d GETs, want at most calibration's %d (the .metadata digests reused)", n, calibrationSamples)
	}
	check("etag after etag+content", pipeline.VerifiedContent, true)
}
