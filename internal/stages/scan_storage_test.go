package stages

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/bandercheck/bandercheck/internal/testutil"

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
	if _, err := (&ScanStorageOptions{Jobs: 2, Hash: HashContent}).Run(f.ctx, f.env); err != nil {
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
	_, err := (&ScanStorageOptions{Jobs: 1}).Run(f.ctx, f.env)
	var ue *pipeline.UsageError
	if !errors.As(err, &ue) {
		t.Fatalf("scan of a tree without web/packages: %v, want a usage error", err)
	}
	if _, err := pipeline.NewState(f.env.State).Manifest("storage"); err == nil {
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
		if _, err := (&ScanStorageOptions{Jobs: 2}).Run(f.ctx, f.env); err != nil {
			t.Fatal(err)
		}
	}
	r, err := pipeline.NewState(f.env.State).Manifest("storage")
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

// hashedAt maps each storage row's path to its sha256 and hashed_at.
func (f *fixture) digests() map[string][2]string {
	out := map[string][2]string{}
	for _, r := range f.rows("storage") {
		out[r[pipeline.StoragePath]] = [2]string{r[pipeline.StorageSHA256], r[pipeline.StorageHashedAt]}
	}
	return out
}

// TestScanStorageReusesOnlyWhatCannotHaveChanged changes a hashed mirror in
// every way a reuse could miss; each changed file is read again and its row
// is right, every other digest is reused (its hashed_at is the first scan's).
func TestScanStorageReusesOnlyWhatCannotHaveChanged(t *testing.T) {
	t.Parallel()
	files := map[string]string{}
	for _, n := range []string{"same", "rewritten", "renamed", "corrupt", "truncated", "removed"} {
		files["web/packages/aa/bb/"+n+".whl"] = n + " original content"
	}
	f := newFixture(t, files)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	scan := func(at time.Time, fresh bool) {
		t.Helper()
		s := &ScanStorageOptions{Jobs: 2, Hash: HashContent, RehashAfter: Days(30 * 24 * time.Hour), Fresh: fresh, now: func() time.Time { return at }}
		if _, err := s.Run(f.ctx, f.env); err != nil {
			t.Fatal(err)
		}
	}
	scan(t0, false)
	p := func(n string) string { return filepath.Join(f.root, "web/packages/aa/bb", n+".whl") }
	keepTimes := func(n string, fn func()) {
		fi, _ := os.Stat(p(n))
		fn()
		os.Chtimes(p(n), fi.ModTime(), fi.ModTime()) // touch -d: the date restored
	}
	time.Sleep(20 * time.Millisecond) // past the file system's ctime granularity
	keepTimes("rewritten", func() {
		os.WriteFile(p("rewritten"), []byte("rewritten ORIGINAL content"), 0o644)
	})
	keepTimes("renamed", func() {
		os.WriteFile(p("renamed")+".new", []byte("renamed ORIGINAL content"), 0o644)
		os.Rename(p("renamed")+".new", p("renamed"))
	})
	keepTimes("corrupt", func() {
		fh, _ := os.OpenFile(p("corrupt"), os.O_WRONLY, 0)
		fh.WriteAt([]byte("X"), 3)
		fh.Close()
	})
	os.Truncate(p("truncated"), 4)
	os.Remove(p("removed"))
	os.WriteFile(p("new"), []byte("a new file"), 0o644)
	old := time.Now().Add(-24 * time.Hour)
	os.Chtimes(p("new"), old, old)

	t1 := t0.Add(time.Hour)
	scan(t1, true)
	got := f.digests()
	when := func(at time.Time) string { return at.Format(time.RFC3339) }
	for name, want := range map[string]string{"same": when(t0), "rewritten": when(t1), "renamed": when(t1), "corrupt": when(t1), "truncated": when(t1), "new": when(t1)} {
		key := "web/packages/aa/bb/" + name + ".whl"
		body, _ := os.ReadFile(p(name))
		if got[key][0] != sum(string(body)) || got[key][1] != want {
			t.Errorf("%s: digest %.12s hashed at %s; want %.12s at %s", name, got[key][0], got[key][1], sum(string(body)), want)
		}
	}
	if _, ok := got["web/packages/aa/bb/removed.whl"]; ok {
		t.Errorf("the removed file still has a row")
	}
	// --hash=full reads everything again
	s := &ScanStorageOptions{Jobs: 2, Hash: HashFull, Fresh: true, now: func() time.Time { return t1.Add(time.Hour) }}
	if _, err := s.Run(f.ctx, f.env); err != nil {
		t.Fatal(err)
	}
	for key, d := range f.digests() {
		if d[1] != when(t1.Add(time.Hour)) {
			t.Errorf("--hash=full reused %s", key)
		}
	}
}

// TestRollingScrubIsEven: with --rehash-after 7d and a scan a day, every
// file is read again within the seven days, and no day reads more than 1.5×
// its share.
func TestRollingScrubIsEven(t *testing.T) {
	t.Parallel()
	files := map[string]string{}
	const n = 700
	for i := range n {
		files[fmt.Sprintf("web/packages/%02x/%02x/f%d.whl", i%256, i/256, i)] = fmt.Sprint(i)
	}
	f := newFixture(t, files)
	t0 := time.Date(2026, 3, 1, 4, 0, 0, 0, time.UTC)
	readOn := map[string]bool{}
	for day := range 8 {
		at := t0.Add(time.Duration(day) * 24 * time.Hour)
		s := &ScanStorageOptions{Jobs: 2, Hash: HashContent, RehashAfter: Days(7 * 24 * time.Hour), Fresh: day > 0, now: func() time.Time { return at }}
		if _, err := s.Run(f.ctx, f.env); err != nil {
			t.Fatal(err)
		}
		if day == 0 {
			continue
		}
		read := 0
		for key, d := range f.digests() {
			if d[1] == at.Format(time.RFC3339) {
				read++
				readOn[key] = true
			}
		}
		if read > n/7*3/2 {
			t.Errorf("day %d read %d files, more than 1.5× its share of %d", day, read, n/7)
		}
	}
	if len(readOn) != n {
		t.Errorf("%d of %d files were read again within the seven days", len(readOn), n)
	}
}

// TestScanStorageReusesOnS3ByETag: on S3 a digest is reused while size,
// ETag and date are unchanged; a rewritten object (a new ETag), a new one and
// a removed one are seen; --hash=metadata reuses too and asks only for what changed.
func TestScanStorageReusesOnS3ByETag(t *testing.T) {
	t.Parallel()
	srv := testutil.Versity(t)
	client := srv.Bucket(t, "hashes")
	files := map[string]string{"m/web/packages/aa/same.whl": "same bytes", "m/web/packages/aa/changed.whl": "old bytes!", "m/web/packages/aa/gone.whl": "gone"}
	meta := map[string]map[string]string{}
	for k, v := range files {
		meta[k] = map[string]string{"sha256": sum(v)}
	}
	testutil.Put(t, client, "hashes", files, meta)
	dir := t.TempDir()
	conf := filepath.Join(dir, "b.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf("[s3]\naws_access_key_id = %s\naws_secret_access_key = %s\n", srv.AccessKey, srv.SecretKey)), 0o644)
	f := &fixture{t: t, ctx: context.Background(), env: &Env{Mirror: Location{Bucket: "hashes", Prefix: "m"}, Config: conf,
		S3Endpoint: srv.Endpoint, S3PathStyle: true, State: filepath.Join(dir, "state"), Progress: "never", Stdout: io.Discard, Stderr: io.Discard}}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	scan := func(mode HashMode, at time.Time, fresh bool) {
		t.Helper()
		s := &ScanStorageOptions{Jobs: 2, Hash: mode, RehashAfter: Days(30 * 24 * time.Hour), Fresh: fresh, now: func() time.Time { return at }}
		if _, err := s.Run(f.ctx, f.env); err != nil {
			t.Fatal(err)
		}
	}
	scan(HashContent, t0, false)
	testutil.Put(t, client, "hashes", map[string]string{"m/web/packages/aa/changed.whl": "new bytes!", "m/web/packages/aa/new.whl": "new"},
		map[string]map[string]string{"m/web/packages/aa/changed.whl": {"sha256": sum("new bytes!")}, "m/web/packages/aa/new.whl": {"sha256": sum("new")}})
	client.DeleteObject(f.ctx, &s3.DeleteObjectInput{Bucket: aws.String("hashes"), Key: aws.String("m/web/packages/aa/gone.whl")})
	t1 := t0.Add(time.Hour)
	scan(HashContent, t1, true)
	got := f.digests()
	for name, want := range map[string][2]string{
		"same": {sum("same bytes"), t0.Format(time.RFC3339)}, "changed": {sum("new bytes!"), t1.Format(time.RFC3339)}, "new": {sum("new"), t1.Format(time.RFC3339)},
	} {
		if d := got["web/packages/aa/"+name+".whl"]; d != want {
			t.Errorf("%s: %v, want %v", name, d, want)
		}
	}
	if len(got) != 3 {
		t.Errorf("rows %v", got)
	}
	// --hash=metadata: the unchanged digests are kept, a rewritten object's comes from its metadata
	testutil.Put(t, client, "hashes", map[string]string{"m/web/packages/aa/new.whl": "newer"},
		map[string]map[string]string{"m/web/packages/aa/new.whl": {"sha256": sum("newer")}})
	scan(HashMetadata, t1.Add(time.Hour), true)
	got = f.digests()
	for name, want := range map[string]string{"same": sum("same bytes"), "changed": sum("new bytes!"), "new": sum("newer")} {
		if d := got["web/packages/aa/"+name+".whl"]; d[0] != want {
			t.Errorf("metadata scan, %s: %v, want %s", name, d, want)
		}
	}
}

// TestFutureDigestIsDue: a hashed_at in the future (a clock gone wrong) is
// due at once, never carried forward out of the rolling scrub's reach.
func TestFutureDigestIsDue(t *testing.T) {
	now := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
	p := rehashPolicy{every: 30 * 24 * time.Hour, now: now}
	if !p.due("web/packages/aa/x.whl", "9999-12-31T00:00:00Z") {
		t.Errorf("a digest computed in 9999 is not due")
	}
	if p.due("web/packages/aa/x.whl", now.Add(-time.Minute).Format(time.RFC3339)) {
		t.Errorf("a digest a minute old is due")
	}
}

// TestScansReturnTheirResults: scan storage and scan metadata hand what
// they did back to their caller (run's report, the metrics) as a result,
// not through Env; a stage finished in an earlier run reports nothing done.
func TestScansReturnTheirResults(t *testing.T) {
	t.Parallel()
	a, b := pkg{"a-1.0.tar.gz", "1.0", "ay"}, pkg{"b-1.0.tar.gz", "1.0", "bee"}
	f := newFixture(t, map[string]string{
		a.key(): a.content, b.key(): b.content,
		"web/json/a": jsonDoc("a", 1, a), "web/json/b": jsonDoc("b", 1, b),
	})
	res, err := (&ScanStorageOptions{Jobs: 2, Hash: HashContent}).Run(f.ctx, f.env)
	if err != nil {
		t.Fatal(err)
	}
	if h := res.Hashing; h == nil || h.Read != 2 || h.Reused != 0 || h.Oldest == "" {
		t.Fatalf("scan storage --hash: %+v; want 2 files read, none reused", h)
	}
	if res, err = (&ScanStorageOptions{Jobs: 2, Hash: HashContent}).Run(f.ctx, f.env); err != nil || res.Hashing != nil {
		t.Fatalf("scan storage done already: %+v, %v; want nothing hashed", res.Hashing, err)
	}
	if res, err = (&ScanStorageOptions{Jobs: 2, Fresh: true}).Run(f.ctx, f.env); err != nil || res.Hashing != nil {
		t.Fatalf("scan storage without --hash: %+v, %v; want no hashing", res.Hashing, err)
	}
	meta, err := (&ScanMetadataOptions{Jobs: 2}).Run(f.ctx, f.env)
	if err != nil {
		t.Fatal(err)
	}
	if !meta.Scanned || meta.Read != 2 || meta.Reused != 0 || meta.Documents != 2 {
		t.Fatalf("scan metadata: %+v; want the projects it read", meta)
	}
	if meta, err = (&ScanMetadataOptions{Jobs: 2}).Run(f.ctx, f.env); err != nil || meta.Scanned {
		t.Fatalf("scan metadata done already: %+v, %v; want nothing scanned", meta, err)
	}
}
