package stages

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/bandercheck/bandercheck/internal/testutil"
	"github.com/bandercheck/bandercheck/pipeline"
)

// results maps each applied row's path to its result.
func (f *fixture) results(name string) map[string]string {
	out := map[string]string{}
	for _, r := range f.rows(name) {
		out[r[pipeline.AppliedPath]] = r[pipeline.AppliedResult]
	}
	return out
}

// TestApplyInstallsOnlyMatchingDigests downloads what the plan names: a file
// whose bytes match its sha256 is installed, one whose upstream bytes do not
// is a failed row and never reaches the mirror, and the bad file it would
// have replaced stays as it was.
func TestApplyInstallsOnlyMatchingDigests(t *testing.T) {
	t.Parallel()
	f, missing, badHash, badSize := planFixture(t)
	if err := f.plan(); err != nil {
		t.Fatal(err)
	}
	// upstream serves the right bytes for two files, and tampered ones for the third
	up := serveFiles(t, missing, badHash, pkg{badSize.file, badSize.version, "tampered"})
	err := testApply(up.URL).Run(f.ctx, f.env)
	if err == nil || !strings.Contains(err.Error(), "1 download rows failed") {
		t.Fatalf("apply with one tampered download: %v", err)
	}
	got := f.results("applied/download")
	want := map[string]string{missing.key(): "ok", badHash.key(): "ok", badSize.key(): "failed"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("results %v, want %v", got, want)
	}
	for p, content := range map[string]string{missing.key(): missing.content, badHash.key(): badHash.content, badSize.key(): "short"} {
		if b, err := os.ReadFile(filepath.Join(f.root, p)); err != nil || string(b) != content {
			t.Errorf("%s after apply: %q %v, want %q", p, b, err, content)
		}
	}
	if _, err := os.Stat(filepath.Join(f.root, "web/packages/ff/ff/orphan.whl")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the orphan is still there: %v", err)
	}
	// a second apply retries only the failed row
	up2 := serveFiles(t, badSize)
	if err := testApply(up2.URL).Run(f.ctx, f.env); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(f.root, badSize.key())); string(b) != badSize.content {
		t.Errorf("the retried file: %q", b)
	}
}

// TestApplyRefusesStalePlan refuses a plan older than --max-plan-age.
func TestApplyRefusesStalePlan(t *testing.T) {
	t.Parallel()
	f, _, _, _ := planFixture(t)
	if err := f.plan(); err != nil {
		t.Fatal(err)
	}
	a := testApply("http://127.0.0.1:1")
	a.MaxPlanAge = 1 // a nanosecond
	err := a.Run(f.ctx, f.env)
	var re *pipeline.RefusedError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "--max-plan-age") {
		t.Fatalf("apply of an old plan: %v", err)
	}
	if _, err := os.Stat(filepath.Join(f.root, "web/packages/ff/ff/orphan.whl")); err != nil {
		t.Errorf("a refused apply deleted: %v", err)
	}
}

// TestStagesOnS3InProcess runs every stage against a mirror in versitygw:
// the same library calls as on POSIX, with the store chosen by the Env.
func TestStagesOnS3InProcess(t *testing.T) {
	t.Parallel()
	srv := testutil.Versity(t)
	client := srv.Bucket(t, "mirror")
	kept := pkg{"delta-1.0.tar.gz", "1.0", "delta one"}
	missing := pkg{"delta-2.0.tar.gz", "2.0", "delta two"}
	testutil.Put(t, client, "mirror", map[string]string{
		"pypi/web/json/delta":                jsonDoc("delta", 5, kept, missing),
		"pypi/web/simple/delta/index.html":   "<html></html>",
		"pypi/" + kept.key():                 kept.content,
		"pypi/web/packages/ee/ee/orphan.whl": "nobody's",
	}, nil)
	dir := t.TempDir()
	conf := filepath.Join(dir, "bandersnatch.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf("[mirror]\nstorage-backend = s3\njson = true\n[s3]\naws_access_key_id = %s\naws_secret_access_key = %s\n", srv.AccessKey, srv.SecretKey)), 0o644)
	ctx := context.Background()
	f := &fixture{t: t, ctx: ctx, env: &Env{Mirror: Location{Bucket: "mirror", Prefix: "pypi"}, Config: conf,
		S3Endpoint: srv.Endpoint, S3PathStyle: true, State: filepath.Join(dir, "state"), Progress: "never",
		Stdout: io.Discard, Stderr: io.Discard}}
	f.scans()
	if err := (&PlanOptions{MaxRemoveProjects: Limit{Percent: 1, IsPct: true}, Memory: 64 << 20}).Run(ctx, f.env); err != nil {
		t.Fatal(err)
	}
	up := serveFiles(t, missing)
	if err := testApply(up.URL).Run(ctx, f.env); err != nil {
		t.Fatal(err)
	}
	obj, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("mirror"), Key: aws.String("pypi/" + missing.key())})
	if err != nil {
		t.Fatalf("the downloaded object: %v", err)
	}
	b, _ := io.ReadAll(obj.Body)
	obj.Body.Close()
	if string(b) != missing.content {
		t.Errorf("downloaded object holds %q", b)
	}
	if _, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("mirror"), Key: aws.String("pypi/web/packages/ee/ee/orphan.whl")}); err == nil {
		t.Errorf("the orphan object is still there")
	}
}
