package stages

import (
	"errors"
	"slices"
	"testing"

	"github.com/bandercheck/bandercheck/pipeline"
)

// TestScanStorageInProcess lists web/packages sorted with sizes and, with
// --hash, every file's sha256; the staging folder and everything outside
// web/packages are not listed.
func TestScanStorageInProcess(t *testing.T) {
	t.Parallel()
	f := newFixture(t, map[string]string{
		"web/packages/aa/bb/b-1.0.tar.gz":         "bee",
		"web/packages/aa/bb/a-1.0.tar.gz":         "ay",
		"web/packages/0f/00/z-1.0.whl":            "zed",
		"web/packages/.bandercheck-tmp/dl-1.part": "half a download",
		"web/json/a":              "{}",
		"web/simple/a/index.html": "<html></html>",
	})
	if err := (&ScanStorage{Jobs: 2, Hash: HashContent}).Run(f.ctx, f.env); err != nil {
		t.Fatal(err)
	}
	got := f.rows("storage")
	want := [][]string{
		{"web/packages/0f/00/z-1.0.whl", "3", sum("zed")},
		{"web/packages/aa/bb/a-1.0.tar.gz", "2", sum("ay")},
		{"web/packages/aa/bb/b-1.0.tar.gz", "3", sum("bee")},
	}
	if len(got) != len(want) {
		t.Fatalf("storage rows: %v", got)
	}
	for i, w := range want {
		g := got[i]
		if g[0] != w[0] || g[1] != w[1] || g[3] != w[2] || g[2] == "" {
			t.Errorf("row %d: %v, want path, size, sha256 %v", i, g, w)
		}
	}
	if p := f.rows("problems/storage"); len(p) != 0 {
		t.Errorf("problems on a clean tree: %v", p)
	}
}

// TestScanStorageNeedsPackagesFolder refuses a --mirror that is not a
// bandersnatch directory, as a usage error, before writing a manifest.
func TestScanStorageNeedsPackagesFolder(t *testing.T) {
	t.Parallel()
	f := newFixture(t, map[string]string{"packages/aa/x.whl": "misplaced"})
	err := (&ScanStorage{Jobs: 1}).Run(f.ctx, f.env)
	var ue *pipeline.UsageError
	if !errors.As(err, &ue) {
		t.Fatalf("scan of a tree without web/packages: %v, want a usage error", err)
	}
	if _, err := pipeline.OpenManifest(f.env.State, "storage"); err == nil {
		t.Errorf("a storage manifest was written for a refused scan")
	}
}

// TestScanStorageShardsAndResumesAsFinished writes many small shards; a
// second run of a finished stage keeps them as they are.
func TestScanStorageShardsAndResumesAsFinished(t *testing.T) {
	t.Parallel()
	files := map[string]string{}
	for i := range 25 {
		files["web/packages/aa/bb/f"+string(rune('a'+i))+".whl"] = "x"
	}
	f := newFixture(t, files)
	f.env.ShardRows = 4
	for range 2 {
		if err := (&ScanStorage{Jobs: 2}).Run(f.ctx, f.env); err != nil {
			t.Fatal(err)
		}
	}
	r, err := pipeline.OpenManifest(f.env.State, "storage")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if n := len(r.Shards()); n < 7 {
		t.Errorf("25 rows at 4 a shard in %d shards", n)
	}
	paths := f.column("storage", 0)
	if len(paths) != 25 || !slices.IsSorted(paths) {
		t.Errorf("%d rows, sorted %v", len(paths), slices.IsSorted(paths))
	}
}
