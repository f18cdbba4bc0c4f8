package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/bandercheck/bandercheck/internal/store"
	"github.com/bandercheck/bandercheck/internal/store/s3store"
	"github.com/bandercheck/bandercheck/internal/testutil"
)

// s3Digest maps each key under web/packages/ of the mirror to its sha256.
func s3Digest(t *testing.T, st *s3store.Store) map[string]string {
	t.Helper()
	out := map[string]string{}
	ctx := context.Background()
	err := st.List(ctx, "web/packages/", "", func(o store.Object) error {
		rc, err := st.Open(ctx, o.Key)
		if err != nil {
			return err
		}
		defer rc.Close()
		h := sha256.New()
		if _, err := io.Copy(h, rc); err != nil {
			return err
		}
		out[o.Key] = hex.EncodeToString(h.Sum(nil))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRunOnS3MatchesTruth(t *testing.T) {
	t.Parallel()
	testutil.NeedVersity(t) // before the mirror is generated: a skip costs nothing
	m := generate(t, 100)
	url := m.serve(t, nil)
	srv, env := m.uploadToVersity(t)
	state := t.TempDir() + "/st"
	// S3 dates objects by their upload, just now: no grace, or nothing could be deleted
	mustBC(t, env, runArgs("s3://pypi/mirror", state, url, "--grace", "0s")...)

	st, err := s3store.Open(context.Background(), srv.Options("pypi", "mirror"))
	if err != nil {
		t.Fatal(err)
	}
	got, want := s3Digest(t, st), m.expected(t)
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("s3: %s wrong or missing after apply", k)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Fatalf("s3: %s should be gone", k)
		}
	}
	// a downloaded object carries bandersnatch's metadata
	key := m.truth["missing"][0]
	client, err := s3store.OpenClient(context.Background(), srv.Options("pypi", "mirror"))
	if err != nil {
		t.Fatal(err)
	}
	head, err := client.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String("pypi"), Key: aws.String("mirror/" + key)})
	if err != nil {
		t.Fatal(err)
	}
	if head.Metadata["sha256"] != want[key] || head.Metadata["uploaded-at"] == "" {
		t.Errorf("downloaded object metadata %v, want sha256 %s and uploaded-at", head.Metadata, want[key])
	}
	for _, p := range m.truth["removed-project"] {
		if _, err := st.Stat(context.Background(), "web/simple/"+p+"/index.html"); err == nil {
			t.Errorf("removed project %s keeps its simple page", p)
		}
	}
	mustBC(t, env, runArgs("s3://pypi/mirror", state, url, "--grace", "0s", "--fresh", "--dry-run")...)
	for _, plan := range []string{"plan/download", "plan/delete", "plan/remove-projects"} {
		if got := catState(t, state, plan); strings.Count(got, "\n") != 1 {
			t.Errorf("second run on S3 plans work in %s:\n%s", plan, got)
		}
	}
	idx, err := st.Open(context.Background(), "web/simple/index.v1_json")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(idx)
	idx.Close()
	for _, p := range m.truth["removed-project"] {
		if strings.Contains(strings.ToLower(string(body)), `"`+p+`"`) {
			t.Errorf("root JSON index still lists %s", p)
		}
	}
}
