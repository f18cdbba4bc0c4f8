package main

import (
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bandercheck/bandercheck/internal/testutil"
	"github.com/bandercheck/bandercheck/pipeline"
)

func storageFiles(n int) map[string]string {
	files := map[string]string{}
	for i := range n {
		files[fmt.Sprintf("web/packages/%02x/%02x/%x/p%d-1.0.tar.gz", i%256, i/256%256, i*7919, i)] = fmt.Sprint(i)
	}
	files["web/packages/ab/cd/foo/x.whl"] = "x"
	files["web/packages/ab/cd/foo-1.whl"] = "y"
	files["web/packages/ab/cd/a,b \"q\".whl"] = "z"
	return files
}

func TestScanStoragePOSIXAndS3Agree(t *testing.T) {
	t.Parallel()
	files := storageFiles(500)
	root := t.TempDir()
	testutil.WriteFiles(t, root, files)
	os.Symlink("/etc/passwd", filepath.Join(root, "web/packages/ab/evil"))
	state := t.TempDir() + "/st"
	mustBC(t, nil, "--mirror", root, "--state", state, "scan", "storage", "--hash")
	posix := catState(t, state, "storage")
	lines := strings.Split(strings.TrimSpace(posix), "\n")
	if len(lines) != len(files)+1 {
		t.Fatalf("storage has %d rows, mirror %d files", len(lines)-1, len(files))
	}
	for i := 2; i < len(lines); i++ {
		if pathOf(lines[i-1]) >= pathOf(lines[i]) {
			t.Fatalf("storage not in byte order at row %d: %s then %s", i, lines[i-1], lines[i])
		}
	}
	if !strings.Contains(posix, "web/packages/ab/cd/foo-1.whl,1,") || !strings.Contains(posix, ",a1fce4363854ff888cff4b8e7875d600c2682390412a8cf79b37d0b11148b0fa,") {
		t.Errorf("storage lacks expected rows or digests:\n%s", posix[:400])
	}
	problems := catState(t, state, "problems/storage")
	if !strings.Contains(problems, "web/packages/ab/evil,storage,") {
		t.Errorf("symlink not reported: %s", problems)
	}

	srv := testutil.Versity(t)
	c := srv.Bucket(t, "bucket")
	objs := map[string]string{"pfx/web/packages/.s3keep": "", "pfx/.lock": ""}
	meta := map[string]map[string]string{}
	for k, v := range files {
		objs["pfx/"+k] = v
		meta["pfx/"+k] = map[string]string{"sha256": sha256hex(v)}
	}
	testutil.Put(t, c, "bucket", objs, meta)
	s3state := t.TempDir() + "/st"
	mustBC(t, srv.Env(), "--mirror", "s3://bucket/pfx", "--state", s3state, "scan", "storage", "--hash=metadata", "--jobs", "4")
	s3rows := catState(t, s3state, "storage")
	// what both stores say alike: the dates, inode, ctime and ETag are each store's own
	if columnsOf(t, s3rows, "path", "size", "sha256") != columnsOf(t, posix, "path", "size", "sha256") {
		t.Errorf("S3 and POSIX storage manifests differ:\n%s\n---\n%s", head(s3rows), head(posix))
	}
}

func TestScanStorageBadInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for name, tc := range map[string]struct {
		args []string
		code int
		msg  string
	}{
		"missing mirror":   {[]string{"--mirror", dir + "/nope", "scan", "storage"}, 2, "does not exist"},
		"no web/packages":  {[]string{"--mirror", dir, "scan", "storage"}, 2, "has no web/packages/"},
		"no mirror at all": {[]string{"scan", "storage"}, 2, "no mirror given"},
		"bad hash value":   {[]string{"--mirror", dir, "scan", "storage", "--hash=md5"}, 2, "want content, metadata, etag, etag+content or full"},
	} {
		t.Run(name, func(t *testing.T) {
			state := t.TempDir() + "/st"
			r := bc(t, nil, append([]string{"--state", state}, tc.args...)...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.msg) || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 {
				t.Errorf("exit %d, stderr %q; want exit %d and one line with %q", r.code, r.stderr, tc.code, tc.msg)
			}
			if _, err := os.Stat(filepath.Join(state, "storage")); err == nil {
				t.Errorf("state written although the scan failed")
			}
		})
	}
	t.Run("wrong S3 credentials", func(t *testing.T) {
		srv := testutil.Versity(t)
		srv.Bucket(t, "bkt")
		env := append(srv.Env(), "AWS_SECRET_ACCESS_KEY=wrong")
		r := bc(t, env, "--state", t.TempDir()+"/st", "--mirror", "s3://bkt/x", "scan", "storage")
		if r.code != 1 || !strings.Contains(r.stderr, "refused these credentials") {
			t.Errorf("exit %d: %s", r.code, r.stderr)
		}
		r = bc(t, srv.Env(), "--state", t.TempDir()+"/st", "--mirror", "s3://nobucket/x", "scan", "storage")
		if r.code != 1 || !strings.Contains(r.stderr, "does not exist") {
			t.Errorf("missing bucket: exit %d: %s", r.code, r.stderr)
		}
	})
}

// TestScanStorageSurvivesKill crashes the scan at every shard commit, and at
// every shard renamed but not yet recorded, at every journal entry appended
// but not yet counted in _stage.json, and checks that the resumed
// manifest equals an uninterrupted one.
func TestScanStorageSurvivesKill(t *testing.T) {
	t.Parallel()
	files := storageFiles(3000)
	root := t.TempDir()
	testutil.WriteFiles(t, root, files)
	env := []string{"BANDERCHECK_SHARD_ROWS=100"}
	ref := t.TempDir() + "/ref"
	mustBC(t, env, "--mirror", root, "--state", ref, "scan", "storage", "--hash")
	want := catState(t, ref, "storage")

	for _, point := range []string{"shard", "renamed", "journaled"} {
		t.Run(point, func(t *testing.T) {
			t.Parallel() // each walk has its own state; the scan only reads the mirror
			state := t.TempDir() + "/st"
			kills := crashAtEveryPoint(t, env, point, "--mirror", root, "--state", state, "scan", "storage", "--hash", "--jobs", "2")
			if kills < 25 {
				t.Errorf("%s: %d crashes; 3,000 files in shards of 100 have 30 commits", point, kills)
			}
			// every column but hashed_at, the second each digest was computed in
			cols := []string{"path", "size", "modified", "sha256", "inode", "ctime", "etag"}
			if got := catState(t, state, "storage"); columnsOf(t, got, cols...) != columnsOf(t, want, cols...) {
				t.Fatalf("after %d crashes at %s the manifest differs from an uninterrupted scan (%d vs %d bytes)", kills, point, len(got), len(want))
			}
		})
	}
}

func pathOf(line string) string {
	if strings.HasPrefix(line, `"`) {
		return line[1 : strings.Index(line[1:], `"`)+1]
	}
	p, _, _ := strings.Cut(line, ",")
	return p
}

// columnsOf keeps the named columns of a manifest's CSV (header first).
func columnsOf(t *testing.T, text string, names ...string) string {
	t.Helper()
	rows, err := csv.NewReader(strings.NewReader(text)).ReadAll()
	if err != nil || len(rows) == 0 {
		t.Fatalf("read manifest: %v", err)
	}
	var idx []int
	for _, n := range names {
		i := slices.Index(rows[0], n)
		if i < 0 {
			t.Fatalf("no column %s in %v", n, rows[0])
		}
		idx = append(idx, i)
	}
	var b strings.Builder
	w := csv.NewWriter(&b)
	for _, r := range rows {
		out := make([]string, len(idx))
		for j, i := range idx {
			out[j] = r[i]
		}
		w.Write(out)
	}
	w.Flush()
	return b.String()
}

func head(s string) string {
	if len(s) > 600 {
		return s[:600]
	}
	return s
}

// TestReusingScanSurvivesKill: a scan that reuses digests, killed at every
// shard commit, resumes to the manifest an uninterrupted reusing scan
// writes: the same rows, the unchanged files' digests reused, the changed
// ones read.
func TestReusingScanSurvivesKill(t *testing.T) {
	t.Parallel()
	files := storageFiles(3000)
	root := t.TempDir()
	testutil.WriteFiles(t, root, files)
	env := []string{"BANDERCHECK_SHARD_ROWS=200"}
	base := t.TempDir() + "/base"
	mustBC(t, env, "--mirror", root, "--state", base, "scan", "storage", "--hash")
	before := columnsOf(t, catState(t, base, "storage"), "path", "sha256", "hashed_at")
	changed := 0
	for k := range files {
		if changed < 40 && strings.HasSuffix(k, ".whl") {
			os.WriteFile(filepath.Join(root, k), []byte("changed "+k), 0o644)
			changed++
		}
	}
	copyState := func() string { return copyTree(t, base) }
	ref := copyState()
	mustBC(t, env, "--mirror", root, "--state", ref, "scan", "storage", "--hash", "--fresh")
	want := catState(t, ref, "storage")

	state := copyState()
	// what --fresh does first (a stage opened fresh has no crash points)
	if err := pipeline.NewState(state).KeepPrevious(root); err != nil {
		t.Fatal(err)
	}
	kills := crashAtEveryPoint(t, env, "shard", "--mirror", root, "--state", state, "scan", "storage", "--hash", "--jobs", "2")
	got := catState(t, state, "storage")
	cols := []string{"path", "size", "modified", "sha256", "inode", "ctime", "etag"}
	if columnsOf(t, got, cols...) != columnsOf(t, want, cols...) {
		t.Fatalf("after %d kills the reusing scan's manifest differs from an uninterrupted one", kills)
	}
	// what was reused kept its first hashed_at; exactly the changed files were read again
	old := map[string]string{}
	for _, l := range strings.Split(before, "\n")[1:] {
		if p, rest, ok := strings.Cut(l, ","); ok {
			old[p] = rest
		}
	}
	reread := 0
	for _, l := range strings.Split(columnsOf(t, got, "path", "sha256", "hashed_at"), "\n")[1:] {
		if p, rest, ok := strings.Cut(l, ","); ok && old[p] != rest {
			reread++
		}
	}
	if reread != changed {
		t.Errorf("%d rows were read again, %d files changed", reread, changed)
	}
}
