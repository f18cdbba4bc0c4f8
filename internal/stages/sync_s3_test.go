package stages

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/bandercheck/bandercheck/internal/fakepypi"
	"github.com/bandercheck/bandercheck/internal/goldentree"
	"github.com/bandercheck/bandercheck/internal/s3proxy"
	"github.com/bandercheck/bandercheck/internal/testutil"
	"github.com/bandercheck/bandercheck/pipeline"
)

// TestSyncWritesBandersnatchsS3Layout: sync into a bucket on the real S3
// server (versitygw) leaves what bandersnatch's S3 backend left there for
// the same config, recorded by testdata/golden/generate.sh: every key and
// byte, the .s3keep objects, and the sha256 and uploaded-at metadata, on
// the first sync and after upstream changed.
func TestSyncWritesBandersnatchsS3Layout(t *testing.T) {
	t.Parallel()
	srv := testutil.Versity(t)
	client := srv.Bucket(t, "golden")
	for _, name := range []string{"json-all-flat", "defaults-hash-index"} {
		t.Run(name, func(t *testing.T) {
			state := t.TempDir()
			for step := range fakepypi.GoldenSteps {
				w, err := fakepypi.Golden(goldenBase, step)
				if err != nil {
					t.Fatal(err)
				}
				up := httptest.NewServer(w)
				b, err := os.ReadFile(filepath.Join("../../testdata/golden/s3", name+".conf"))
				if err != nil {
					t.Fatal(err)
				}
				conf := strings.NewReplacer("@NAME@", name, "@MASTER@", up.URL, "@S3@", srv.Endpoint,
					"aws_access_key_id = golden", "aws_access_key_id = "+srv.AccessKey,
					"aws_secret_access_key = golden-secret", "aws_secret_access_key = "+srv.SecretKey).Replace(string(b))
				conf = strings.Replace(conf, "[mirror]\n", "[mirror]\ndownload-mirror = "+up.URL+"\ndownload-mirror-no-fallback = true\n", 1)
				p := filepath.Join(t.TempDir(), "bandersnatch.conf")
				os.WriteFile(p, []byte(conf), 0o644)
				var out strings.Builder
				g := &Env{Config: p, State: state, Progress: "never", Stdout: &out, Stderr: &out}
				res, err := Sync(context.Background(), g, DefaultSyncOptions())
				up.Close()
				if err != nil || res.Failed != 0 {
					t.Fatalf("step %d: %v, %d failed\n%s", step, err, res.Failed, out.String())
				}
				want, err := os.ReadFile(filepath.Join("../../testdata/golden/s3", name, fmt.Sprintf("step%d.S3MANIFEST", step)))
				if err != nil {
					t.Fatal(err)
				}
				if got := bucketManifest(t, client, "golden", name); got != string(want) {
					t.Errorf("step %d: the bucket differs from bandersnatch's:\n%s", step, goldentree.LineDiff(got, string(want), "ours:          ", "bandersnatch's:"))
				}
			}
		})
	}
}

// bucketManifest lists bucket/prefix as testdata/golden/s3/s3list.py does:
// "key size sha256 metadata-json" a line, keys relative to the prefix.
func bucketManifest(t *testing.T, c *s3.Client, bucket, prefix string) string {
	t.Helper()
	ctx := context.Background()
	var lines []string
	pages := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix + "/")})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			obj, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: o.Key})
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(obj.Body)
			obj.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			rel := strings.TrimPrefix(*o.Key, prefix+"/")
			sum := sha256.Sum256(body)
			digest := hex.EncodeToString(sum[:])
			if rel == "web/last-modified" {
				digest = "-" // the sync's start time
			}
			meta := obj.Metadata
			if meta == nil {
				meta = map[string]string{}
			}
			mj, _ := json.Marshal(meta) // sorted keys, as json.dumps(sort_keys=True) for plain strings
			lines = append(lines, fmt.Sprintf("%s %d %s %s", rel, len(body), digest, strings.ReplaceAll(strings.ReplaceAll(string(mj), `":"`, `": "`), `","`, `", "`)))
		}
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n") + "\n"
}

// TestSyncOnS3RefusedPageIsAProblemRow sends a sync's uploads through a
// proxy that flips a byte of one project's JSON document (delta) or simple
// pages (beta): versitygw refuses them (Content-MD5 and the checksums), and
// that project fails with a problem row naming it, while the sync goes on,
// leaves no status serial and is not an error; the next sync, the proxy no
// longer flipping, leaves bandersnatch's bucket. Before, the refused PUT
// stopped the whole sync with an error.
func TestSyncOnS3RefusedPageIsAProblemRow(t *testing.T) {
	t.Parallel()
	srv := testutil.Versity(t)
	client := srv.Bucket(t, "golden")
	const name = "json-all-flat"
	for _, c := range []struct{ flip, project string }{
		{"/web/json/delta", "delta"},
		{"/web/simple/beta/", "beta"},
	} {
		t.Run(c.project, func(t *testing.T) {
			prefix := name + "-" + c.project
			flipping, err := s3proxy.Start(s3proxy.Options{Target: srv.Endpoint, FlipPutBody: c.flip})
			if err != nil {
				t.Fatal(err)
			}
			defer flipping.Close()
			state := t.TempDir()
			sync := func(endpoint string) (SyncResult, error, string) {
				w, err := fakepypi.Golden(goldenBase, 0)
				if err != nil {
					t.Fatal(err)
				}
				up := httptest.NewServer(w)
				defer up.Close()
				b, err := os.ReadFile(filepath.Join("../../testdata/golden/s3", name+".conf"))
				if err != nil {
					t.Fatal(err)
				}
				conf := strings.NewReplacer("/golden/@NAME@", "/golden/"+prefix, "@MASTER@", up.URL, "@S3@", endpoint,
					"aws_access_key_id = golden", "aws_access_key_id = "+srv.AccessKey,
					"aws_secret_access_key = golden-secret", "aws_secret_access_key = "+srv.SecretKey).Replace(string(b))
				conf = strings.Replace(conf, "[mirror]\n", "[mirror]\ndownload-mirror = "+up.URL+"\ndownload-mirror-no-fallback = true\n", 1)
				p := filepath.Join(t.TempDir(), "bandersnatch.conf")
				os.WriteFile(p, []byte(conf), 0o644)
				var out strings.Builder
				res, err := Sync(context.Background(), &Env{Config: p, State: state, Progress: "never", Stdout: &out, Stderr: &out}, DefaultSyncOptions())
				return res, err, out.String()
			}
			res, err, out := sync(flipping.URL)
			if err != nil || res.Failed != 1 || res.Synced == 0 {
				t.Fatalf("sync with %s flipped: %v, %d failed, %d synced\n%s", c.flip, err, res.Failed, res.Synced, out)
			}
			if flipping.Stats().Requests["PUT"] == 0 {
				t.Fatal("no PUT went through the proxy")
			}
			var problems []string
			pipeline.NewState(state).EachRow("problems/sync", func(r []string) error {
				problems = append(problems, strings.Join(r, " | "))
				return nil
			})
			if len(problems) != 1 || !strings.Contains(problems[0], c.flip[1:]) || !strings.Contains(problems[0], c.project+": ") ||
				!strings.Contains(problems[0], "refused") {
				t.Errorf("problem rows %q, want one naming %s and its refused upload", problems, c.project)
			}
			if _, err := client.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String("golden"), Key: aws.String(prefix + "/status")}); err == nil {
				t.Errorf("a status serial was written though %s failed", c.project)
			}
			res, err, out = sync(srv.Endpoint)
			if err != nil || res.Failed != 0 {
				t.Fatalf("second sync: %v, %d failed\n%s", err, res.Failed, out)
			}
			want, err := os.ReadFile(filepath.Join("../../testdata/golden/s3", name, "step0.S3MANIFEST"))
			if err != nil {
				t.Fatal(err)
			}
			if got := bucketManifest(t, client, "golden", prefix); got != string(want) {
				t.Errorf("after the second sync the bucket differs from bandersnatch's:\n%s", goldentree.LineDiff(got, string(want), "ours:          ", "bandersnatch's:"))
			}
		})
	}
}
