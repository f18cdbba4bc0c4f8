package stages

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bandercheck/bandercheck/internal/s3proxy"
	"github.com/bandercheck/bandercheck/internal/synth"
	"github.com/bandercheck/bandercheck/pipeline"
	"github.com/klauspost/compress/zstd"
)

// decompressedPlan reads every shard of the plan manifests in state,
// decompressed (header lines included), by manifest and shard name.
func decompressedPlan(t *testing.T, state string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	dec, err := zstd.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	for _, m := range []string{"plan/download", "plan/delete", "plan/remove-projects"} {
		files, err := filepath.Glob(filepath.Join(state, m, "*.csv.zst"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if out[m+"/"+filepath.Base(f)], err = dec.DecodeAll(b, nil); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
		}
	}
	return out
}

// TestPlanShardsDoNotDependOnConfirmationTiming: the plan of one state is
// the same, shard for shard and byte for byte (decompressed, header lines
// included), whether its ETag mismatches are confirmed at once or each
// read of the object takes 40 ms more. Before, deletes went into the plan
// while downloads waited behind a confirmation, and plan/download and
// plan/delete (cut together) were cut at other rows with another timing:
// at full size, four partitions planned together cut plan/download's first
// shard at 5,777 rows, one process at 5,744.
func TestPlanShardsDoNotDependOnConfirmationTiming(t *testing.T) {
	t.Parallel()
	m, err := synth.New(synth.Config{Seed: 5, Projects: 120, Root: "root", MedianSize: 2000, MaxSize: 64 << 10,
		Missing: 0.02, Orphan: 0.08, SizeMismatch: 0.01, HashMismatch: 0.04, Removed: 0.05})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := synth.Start(m, "mirror", "", "")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	proxy, err := s3proxy.Start(s3proxy.Options{Target: srv.S3URL, Delay: 40 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	dir := t.TempDir()
	conf := filepath.Join(dir, "b.conf")
	if err := os.WriteFile(conf, []byte("[mirror]\njson = true\n[s3]\naws_access_key_id = synth\naws_secret_access_key = synth\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	g := &Env{Mirror: Location{Bucket: "mirror", Prefix: "root"}, Config: conf, S3Endpoint: srv.S3URL, S3PathStyle: true,
		State: filepath.Join(dir, "state"), Progress: "never", Stdout: io.Discard, Stderr: io.Discard, ShardRows: 7}
	ctx := context.Background()
	if _, err := (&ScanStorageOptions{Jobs: 4, Hash: HashETag}).Run(ctx, g); err != nil {
		t.Fatal(err)
	}
	if _, err := (&ScanMetadataOptions{Jobs: 4}).Run(ctx, g); err != nil {
		t.Fatal(err)
	}
	if err := (&ScanUpstreamOptions{Upstream: srv.UpstreamURL, Timeout: time.Minute, Attempts: 1}).Run(ctx, g); err != nil {
		t.Fatal(err)
	}
	plan := func(endpoint string) (map[string][]byte, *pipeline.PlanSummary) {
		t.Helper()
		g.S3Endpoint = endpoint
		opt := DefaultPlanOptions()
		opt.Grace, opt.MaxRemoveProjects = 0, Limit{Percent: 50, IsPct: true}
		sum, err := opt.plan(ctx, g)
		var refused *pipeline.RefusedError
		if err != nil && !errors.As(err, &refused) {
			t.Fatal(err)
		}
		return decompressedPlan(t, g.State), sum
	}
	want, sum := plan(srv.S3URL)
	t.Logf("download %v delete %v proven %v etag %v removed %d", tallies(sum.Join.Download), tallies(sum.Join.Delete), sum.Join.Proven, sum.Join.ETagMismatches, sum.RemoveProjectsRows)
	if sum.Join.ETagMismatches["confirmed"] == 0 || sum.Join.Delete[pipeline.ReasonUnowned] == nil || sum.RemoveProjectsRows == 0 {
		t.Fatalf("the plan has no confirmed ETag mismatch, unowned file or removed project to order (%+v): the test proves nothing", sum.Join.ETagMismatches)
	}
	if len(want) < 8 {
		t.Fatalf("only %d plan shards: too few to compare where they are cut", len(want))
	}
	got, _ := plan(proxy.URL)
	if len(got) != len(want) {
		t.Errorf("%d plan shards with slow confirmations, %d without", len(got), len(want))
	}
	for name, b := range want {
		if !bytes.Equal(got[name], b) {
			t.Errorf("%s with slow confirmations differs from the plan without:\n%s\nwant:\n%s", name, got[name], b)
		}
	}
}

func tallies(m map[string]*pipeline.Tally) map[string]int64 {
	out := map[string]int64{}
	for k, v := range m {
		out[k] = v.Files
	}
	return out
}
