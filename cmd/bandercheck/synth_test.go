package main

import (
	"context"
	"encoding/csv"
	"slices"
	"strings"
	"testing"

	"github.com/bandercheck/bandercheck/internal/store"
	"github.com/bandercheck/bandercheck/internal/store/s3store"
	"github.com/bandercheck/bandercheck/internal/synth"
)

// startSynth serves a small synthetic mirror with every kind of defect as
// s3://mirror/root; env points bandercheck at it.
func startSynth(t *testing.T, cfg synth.Config) (*synth.Server, []string) {
	t.Helper()
	cfg.Root = "root"
	cfg.MedianSize, cfg.MaxSize = 2000, 200<<10
	m, err := synth.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := synth.Start(m, "mirror", "", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	env := []string{"AWS_ACCESS_KEY_ID=synth", "AWS_SECRET_ACCESS_KEY=synth", "AWS_REGION=us-east-1",
		"BANDERCHECK_S3_ENDPOINT=" + srv.S3URL, "BANDERCHECK_S3_PATH_STYLE=true", "AWS_EC2_METADATA_DISABLED=true"}
	return srv, env
}

var synthDefects = synth.Config{Seed: 5, Projects: 400, Missing: 0.01, Orphan: 0.01, SizeMismatch: 0.01, HashMismatch: 0.01, Removed: 0.01}

// TestSynthS3Store: the S3 store lists, heads and reads the synthetic
// bucket as the synthetic mirror says it holds it.
func TestSynthS3Store(t *testing.T) {
	t.Parallel()
	srv, _ := startSynth(t, synth.Config{Seed: 2, Projects: 60, HashMismatch: 0.05})
	ctx := context.Background()
	st, err := s3store.Open(ctx, s3store.Options{Bucket: "mirror", Prefix: "root", Endpoint: srv.S3URL, PathStyle: true, AccessKey: "a", SecretKey: "b"})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	srv.Mirror.Keys(func(k string) error {
		if strings.HasPrefix(k, "root/web/packages/") {
			want = append(want, strings.TrimPrefix(k, "root/"))
		}
		return nil
	})
	var got []store.Object
	if err := store.ListRange(ctx, st, "web/packages/", "", "", 4, func(o store.Object) error { got = append(got, o); return nil }); err != nil {
		t.Fatal(err)
	}
	keys := make([]string, len(got))
	for i, o := range got {
		keys[i] = o.Key
	}
	if !slices.Equal(keys, want) {
		t.Fatalf("listed %d keys under web/packages, the mirror holds %d", len(keys), len(want))
	}
	buf := make([]byte, 32<<10)
	for _, o := range got[:min(len(got), 200)] {
		meta, err := st.StoredSHA256(ctx, o.Key)
		if err != nil {
			t.Fatal(err)
		}
		read, sum, err := st.Hash(ctx, o.Key, buf)
		if err != nil {
			t.Fatal(err)
		}
		if read.Size != o.Size || read.ETag != o.ETag {
			t.Fatalf("%s: listed %d %s, read %d %s", o.Key, o.Size, o.ETag, read.Size, read.ETag)
		}
		if !strings.HasSuffix(o.Key, ".metadata") && meta != sum {
			t.Fatalf("%s: sha256 metadata %s, content %s", o.Key, meta, sum)
		}
	}
	c := srv.Counts()
	if c.Head == 0 || c.Get == 0 || c.List == 0 {
		t.Fatalf("requests not counted: %+v", c)
	}
}

// TestSynthDryRunFindsPlantedDefects: a real run --dry-run with
// --hash=metadata against the synthetic bucket and upstream plans exactly
// the planted defects.
func TestSynthDryRunFindsPlantedDefects(t *testing.T) {
	t.Parallel()
	srv, env := startSynth(t, synthDefects)
	state := t.TempDir()
	mustBC(t, env, "--mirror", "s3://mirror/root", "--state", state, "run", "--dry-run", "--hash=metadata", "--grace", "0s",
		"--upstream", srv.UpstreamURL, "--max-remove-projects", "10%")
	removed := map[string]bool{}
	want := map[string]string{} // path -> "download reason" or "delete reason"
	srv.Mirror.Defects(func(d synth.Defect) error {
		switch d.Kind {
		case "removed-project":
			removed[d.Project] = true
			return nil
		case "missing":
			if !removed[d.Project] { // a removed project's missing file is not fetched
				want[d.Path] = "download missing"
			}
		case "orphan":
			want[d.Path] = "delete unowned"
		default:
			want[d.Path] = "download " + d.Kind
		}
		if removed[d.Project] && d.Kind != "missing" {
			want[d.Path] = "delete project-removed" // whatever else is wrong with it
		}
		return nil
	})
	got := map[string]string{}
	for _, action := range []string{"download", "delete"} {
		r := csv.NewReader(strings.NewReader(mustBC(t, env, "--state", state, "cat", "plan/"+action)))
		rows, err := r.ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		col := slices.Index(rows[0], "reason")
		for _, row := range rows[1:] {
			got[row[0]] = action + " " + row[col]
		}
	}
	if len(removed) == 0 || len(want) < 20 {
		t.Fatalf("too few defects planted: %d files, %d projects", len(want), len(removed))
	}
	for path, w := range want {
		if got[path] != w {
			t.Errorf("%s: planted %q, planned %q", path, w, got[path])
		}
	}
	for path, g := range got {
		if want[path] == "" && g != "delete project-removed" {
			t.Errorf("%s: planned %q, nothing planted", path, g)
		}
	}
}

// TestSynthStorageScanListsOnlyPackages: scan storage lists web/packages
// and the temp files of the metadata folders, not the metadata folders
// themselves (three names a project: 2.6M keys at full size).
func TestSynthStorageScanListsOnlyPackages(t *testing.T) {
	t.Parallel()
	srv, env := startSynth(t, synth.Config{Seed: 3, Projects: 300})
	packages := int64(0)
	srv.Mirror.Keys(func(k string) error {
		if strings.HasPrefix(k, "root/web/packages/") {
			packages++
		}
		return nil
	})
	mustBC(t, env, "--mirror", "s3://mirror/root", "--state", t.TempDir(), "scan", "storage")
	// one more: the check that web/packages exists
	if c := srv.Counts(); c.ListedKeys > packages+1 {
		t.Fatalf("scan storage listed %d keys; web/packages holds %d", c.ListedKeys, packages)
	}
}
