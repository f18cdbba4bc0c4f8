package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/bandercheck/bandercheck/internal/s3proxy"
	"github.com/bandercheck/bandercheck/internal/store/s3store"
	"github.com/bandercheck/bandercheck/internal/testutil"
)

// plantedS3 is a generated mirror on versitygw with damage planted beside
// genmirror's defects.
type plantedS3 struct {
	m        *genMirror
	url      string
	srv      *testutil.S3
	env      []string
	client   *s3.Client
	found    map[string]string // planted key → the reason plan must give
	intact   []string          // keys re-uploaded with their right bytes: never planned
	lyingBig string            // several-part, wrong bytes, metadata claiming the right sha256
}

// intactKeys are stored files genmirror left right, sorted; no .metadata.
func intactKeys(t *testing.T, m *genMirror) []string {
	t.Helper()
	damaged := map[string]bool{}
	for _, paths := range m.truth {
		for _, p := range paths {
			damaged[p] = true
		}
	}
	var out []string
	for k := range m.expected(t) {
		if !damaged[k] && !strings.HasSuffix(k, ".metadata") {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// putMultipart uploads body as a multipart upload of the given parts, with
// sha256 metadata.
func putMultipart(t *testing.T, c *s3.Client, key string, body []byte, parts int, sha string) {
	t.Helper()
	ctx := context.Background()
	up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("pypi"), Key: aws.String("mirror/" + key), Metadata: map[string]string{"sha256": sha}})
	if err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	var done []types.CompletedPart
	size := 5 << 20 // every part but the last holds at least 5 MiB
	if parts == 1 {
		size = len(body)
	}
	for i := 0; i < parts; i++ {
		chunk := body[min(i*size, len(body)):min((i+1)*size, len(body))]
		n := int32(i + 1)
		p, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("pypi"), Key: aws.String("mirror/" + key), UploadId: up.UploadId, PartNumber: aws.Int32(n), Body: bytes.NewReader(chunk), ContentLength: aws.Int64(int64(len(chunk)))})
		if err != nil {
			t.Fatal(err)
		}
		done = append(done, types.CompletedPart{ETag: p.ETag, PartNumber: aws.Int32(n)})
	}
	if _, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("pypi"), Key: aws.String("mirror/" + key), UploadId: up.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: done}}); err != nil {
		t.Fatalf("%s (%d bytes, %d parts): %v", key, len(body), parts, err)
	}
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("pypi"), Key: aws.String("mirror/" + key)})
	if err != nil {
		t.Fatal(err)
	}
	if want := "-" + string(rune('0'+parts)) + `"`; !strings.HasSuffix(aws.ToString(head.ETag), want) {
		t.Fatalf("%s: ETag %s after a %d-part upload", key, aws.ToString(head.ETag), parts)
	}
}

// addBigFiles adds n files of a little over 5 MiB (the least a part of a
// several-part upload may hold) to a live project of the generated mirror,
// in its JSON document with their MD5, before the upload; it returns their
// keys and bytes.
func addBigFiles(t *testing.T, m *genMirror, n int) ([]string, [][]byte) {
	t.Helper()
	removed := map[string]bool{}
	for _, p := range m.truth["removed-project"] {
		removed[p] = true
	}
	entries, err := os.ReadDir(filepath.Join(m.root, "web/json"))
	if err != nil {
		t.Fatal(err)
	}
	name := ""
	for _, e := range entries {
		if !removed[e.Name()] && !strings.HasPrefix(e.Name(), ".") {
			name = e.Name()
			break
		}
	}
	docPath := filepath.Join(m.root, "web/json", name)
	raw, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	releases := doc["releases"].(map[string]any)
	var keys []string
	var bodies [][]byte
	var files []any
	for i := range n {
		line := fmt.Sprintf("big file %d of %s\n", i, name)
		body := bytes.Repeat([]byte(line), (5<<20+4096)/len(line)+1)[:5<<20+4096]
		key := fmt.Sprintf("web/packages/ee/ee/big%d/%s-%d.tar.gz", i, name, i)
		if err := os.MkdirAll(filepath.Dir(filepath.Join(m.root, key)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(m.root, key), body, 0o644); err != nil {
			t.Fatal(err)
		}
		md := md5.Sum(body)
		files = append(files, map[string]any{"filename": filepath.Base(key), "url": "https://files.example.invalid/" + strings.TrimPrefix(key, "web/"),
			"size": len(body), "digests": map[string]string{"md5": hex.EncodeToString(md[:]), "sha256": shaHex(body)},
			"upload_time_iso_8601": "2020-01-01T00:00:00.000000Z", "packagetype": "sdist"})
		keys, bodies = append(keys, key), append(bodies, body)
	}
	releases["999.0"] = files
	if raw, err = json.Marshal(doc); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(docPath, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	return keys, bodies
}

func shaHex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// plantS3 generates a mirror, uploads it and plants: a same-size corruption
// whose sha256 metadata still claims the right digest (only an ETag or the
// content can find it), a truncated object, a one-part multipart upload of
// wrong bytes (the metadata lying too), a several-part upload of wrong bytes
// with honest metadata, and one-part and several-part re-uploads of the
// right bytes.
func plantS3(t *testing.T) *plantedS3 {
	t.Helper()
	testutil.NeedVersity(t)
	p := &plantedS3{m: generate(t, 150), found: map[string]string{}}
	p.url = p.m.serve(t, nil)
	big, bigBodies := addBigFiles(t, p.m, 3)
	p.srv, p.env = p.m.uploadToVersity(t)
	var err error
	if p.client, err = s3store.OpenClient(context.Background(), p.srv.Options("pypi", "mirror")); err != nil {
		t.Fatal(err)
	}
	keys := intactKeys(t, p.m)
	if len(keys) < 4 {
		t.Fatalf("only %d intact files", len(keys))
	}
	want := p.m.expected(t)
	read := func(key string) []byte {
		b, err := os.ReadFile(filepath.Join(p.m.upstream, strings.TrimPrefix(key, "web/")))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	flip := func(b []byte) []byte { c := slices.Clone(b); c[len(c)/2] ^= 0x20; return c }
	put := func(key string, body []byte, sha string) {
		testutil.Put(t, p.client, "pypi", map[string]string{"mirror/" + key: string(body)}, map[string]map[string]string{"mirror/" + key: {"sha256": sha}})
	}
	corrupt, truncated, oneBad, oneOK := keys[0], keys[1], keys[2], keys[3]
	multiBad, multiOK, lying := big[0], big[1], big[2]
	put(corrupt, flip(read(corrupt)), want[corrupt])
	put(truncated, read(truncated)[:10], want[truncated])
	putMultipart(t, p.client, oneBad, flip(read(oneBad)), 1, want[oneBad])
	putMultipart(t, p.client, oneOK, read(oneOK), 1, want[oneOK])
	putMultipart(t, p.client, multiBad, flip(bigBodies[0]), 2, shaHex(flip(bigBodies[0])))
	putMultipart(t, p.client, multiOK, bigBodies[1], 2, shaHex(bigBodies[1]))
	putMultipart(t, p.client, lying, flip(bigBodies[2]), 2, shaHex(bigBodies[2]))
	p.found = map[string]string{corrupt: "hash-mismatch", truncated: "size-mismatch", oneBad: "hash-mismatch", multiBad: "hash-mismatch"}
	p.intact = []string{oneOK, multiOK}
	p.lyingBig = lying
	return p
}

// plan runs a dry run with hash and returns plan/download (path → reason),
// plan/delete paths and the output.
func (p *plantedS3) plan(t *testing.T, env []string, hash string) (map[string]string, []string, string) {
	t.Helper()
	state := filepath.Join(t.TempDir(), "st")
	r := bc(t, env, "--mirror", "s3://pypi/mirror", "--state", state, "run", "--dry-run", hash, "--upstream", p.url,
		"--grace", "0s", "--max-remove-projects", "10%", "--max-download", "100%")
	if r.code != 0 {
		t.Fatalf("run %s: exit %d\n%s", hash, r.code, r.stderr)
	}
	out := r.stdout + r.stderr
	dl := map[string]string{}
	for _, r := range parseCSV(t, catState(t, state, "plan/download")) {
		dl[r[0]] = r[4]
	}
	var del []string
	for _, r := range parseCSV(t, catState(t, state, "plan/delete")) {
		del = append(del, r[0])
	}
	return dl, del, out
}

// TestETagOnPlantedS3 plants damage on one versitygw and checks, in
// parallel, what --hash=etag finds there and that calibration refuses
// rewritten ETags. Both only read the bucket (dry runs), so they share it:
// one upload instead of two.
func TestETagOnPlantedS3(t *testing.T) {
	t.Parallel()
	p := plantS3(t)
	t.Run("FindsPlantedDamage", func(t *testing.T) { t.Parallel(); etagFindsPlantedDamage(t, p) })
	t.Run("CalibrationRefusesRewrittenETags", func(t *testing.T) { t.Parallel(); etagCalibrationRefusesRewrittenETags(t, p) })
}

// etagFindsPlantedDamage: --hash=etag finds every planted damage and
// genmirror's defects, plans nothing correct, and decides exactly as
// --hash=content does; etag+content also finds a several-part upload whose
// metadata lies.
func etagFindsPlantedDamage(t *testing.T, p *plantedS3) {
	content, contentDel, _ := p.plan(t, p.env, "--hash=content")
	etag, etagDel, out := p.plan(t, p.env, "--hash=etag")
	for _, want := range []string{"ETags calibrated: 3 sampled objects", "by etag"} {
		if !strings.Contains(out, want) {
			t.Errorf("etag run output lacks %q:\n%s", want, out)
		}
	}
	for k, reason := range p.found {
		if etag[k] != reason {
			t.Errorf("--hash=etag: planted %s planned as %q, want %q", k, etag[k], reason)
		}
	}
	for _, kind := range []string{"missing", "size-mismatch", "hash-mismatch"} {
		for _, k := range p.m.truth[kind] {
			if etag[k] != kind {
				t.Errorf("--hash=etag: genmirror's %s %s planned as %q", kind, k, etag[k])
			}
		}
	}
	for _, k := range p.intact {
		if _, ok := etag[k]; ok {
			t.Errorf("--hash=etag plans the intact re-upload %s (%s)", k, etag[k])
		}
	}
	// the several-part upload with lying metadata: only content tells
	delete(content, p.lyingBig)
	if !maps.Equal(etag, content) || !slices.Equal(etagDel, contentDel) {
		t.Errorf("--hash=etag and --hash=content disagree:\netag    %v %v\ncontent %v %v", etag, etagDel, content, contentDel)
	}
	both, _, _ := p.plan(t, p.env, "--hash=etag+content")
	if both[p.lyingBig] != "hash-mismatch" {
		t.Errorf("--hash=etag+content: the several-part upload of wrong bytes is planned as %q", both[p.lyingBig])
	}
}

// etagCalibrationRefusesRewrittenETags: behind a gateway that rewrites
// every ETag into another 32-hex value, calibration fails in one line and
// no object is proven by its ETag: the plan is metadata's.
func etagCalibrationRefusesRewrittenETags(t *testing.T, p *plantedS3) {
	proxy, err := s3proxy.Start(s3proxy.Options{Target: p.srv.Endpoint, RewriteETags: true})
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	rewritten := append(slices.Clone(p.env), "BANDERCHECK_S3_ENDPOINT="+proxy.URL)
	metadata, _, _ := p.plan(t, p.env, "--hash=metadata")
	etag, _, out := p.plan(t, rewritten, "--hash=etag")
	if strings.Count(out, "ETags here are not the MD5 of the content") != 1 || strings.Contains(out, "by etag") {
		t.Errorf("calibration did not refuse the rewritten ETags in one line:\n%s", out)
	}
	if !maps.Equal(etag, metadata) {
		t.Errorf("with rewritten ETags the plan is not metadata's:\netag     %v\nmetadata %v", etag, metadata)
	}
	if proxy.Stats().Requests["HEAD"] == 0 {
		t.Errorf("no HEAD after calibration failed: %s", proxy.Stats())
	}
}
