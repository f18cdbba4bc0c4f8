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

func readFixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testutil.ModuleRoot(), "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var goodFiles = []string{
	"web/packages/aa/bb/cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc/good_project-1.0.tar.gz",
	"web/packages/dd/ee/ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff/good_project-1.0-py3-none-any.whl",
	"web/packages/dd/ee/ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff/good_project-1.0-py3-none-any.whl.metadata",
	"web/packages/11/22/333333333333333333333333333333333333333333333333333333333333/good_project-1.1+cpu.tar.gz",
	"web/packages/source/g/good_project/good_project-0.1.tar.gz",
}

// metadataMirror is a mirror whose projects cover each way metadata can be found or fail.
func metadataMirror(t *testing.T, hashIndex bool) (files map[string]string, links map[string]string) {
	simple := func(n string) string {
		if hashIndex {
			return "web/simple/" + n[:1] + "/" + n + "/"
		}
		return "web/simple/" + n + "/"
	}
	files = map[string]string{
		"web/json/Good_Project":                  readFixture(t, "json/good.json"),
		simple("good-project") + "index.v1_json": readFixture(t, "simple/good.v1_json"),
		simple("good-project") + "index.html":    readFixture(t, "simple/good.html"),
		"web/json/truncated.proj":                readFixture(t, "json/truncated.json"),
		simple("truncated-proj") + "index.html":  readFixture(t, "simple/good.html"),
		"web/json/bad-digest":                    readFixture(t, "json/bad-digest.json"),
		simple("only-simple") + "index.html":     readFixture(t, "simple/good.html"),
		simple("dangling") + "index.v1_json":     readFixture(t, "simple/good.v1_json"),
		"web/json/not-object":                    readFixture(t, "json/not-object.json"),
		simple("not-object") + "index.html":      readFixture(t, "simple/truncated.html"),
		"web/packages/aa/bb/x":                   "stored",
		"web/json/bad\xffname":                   readFixture(t, "json/good.json"),
	}
	links = map[string]string{
		"web/pypi/Good_Project/json": "../../json/Good_Project",
		"web/pypi/dangling/json":     "../../json/dangling",
	}
	return files, links
}

func writeMirror(t *testing.T, files, links map[string]string) string {
	root := t.TempDir()
	testutil.WriteFiles(t, root, files)
	for p, target := range links {
		full := filepath.Join(root, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.Symlink(target, full); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func parseCSV(t *testing.T, s string) [][]string {
	t.Helper()
	rows, err := csv.NewReader(strings.NewReader(s)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows[1:]
}

func column(rows [][]string, cols ...int) []string {
	var out []string
	for _, r := range rows {
		var parts []string
		for _, c := range cols {
			parts = append(parts, r[c])
		}
		out = append(out, strings.Join(parts, " "))
	}
	slices.Sort(out)
	return out
}

func expectedDesignated() []string {
	var out []string
	for _, p := range []string{"dangling", "good-project", "only-simple", "truncated-proj"} {
		for _, f := range goodFiles {
			out = append(out, f+" "+p)
		}
	}
	slices.Sort(out)
	return out
}

func TestScanMetadataDesignatesExactly(t *testing.T) {
	t.Parallel()
	for _, hashIndex := range []bool{false, true} {
		for _, from := range []string{"json", "simple"} {
			t.Run(from+map[bool]string{true: " hash-index", false: ""}[hashIndex], func(t *testing.T) {
				files, links := metadataMirror(t, hashIndex)
				root := writeMirror(t, files, links)
				state := t.TempDir() + "/st"
				mustBC(t, nil, "--mirror", root, "--state", state, "scan", "metadata", "--from", from)
				designated := parseCSV(t, catState(t, state, "designated"))
				if got, want := column(designated, 0, 1), expectedDesignated(); !slices.Equal(got, want) {
					t.Fatalf("designated\n got %q\nwant %q", got, want)
				}
				problems := column(parseCSV(t, catState(t, state, "problems/metadata")), 0, 3)
				sp := "web/simple/"
				if hashIndex {
					sp = "web/simple/n/"
				}
				// a failed source is a problem row; fallback names the source used instead, empty when none worked
				wantProblems := []string{"web/json/bad\uFFFDname ", "web/json/bad-digest ", "web/json/not-object ", "web/json/only-simple simple",
					"web/json/truncated.proj simple", "web/pypi/dangling/json simple", sp + "not-object/ "}
				if from == "simple" {
					bd := "web/simple/bad-digest/ "
					if hashIndex {
						bd = "web/simple/b/bad-digest/ "
					}
					wantProblems = []string{"web/json/bad\uFFFDname ", bd, "web/json/bad-digest ", "web/json/not-object ", sp + "not-object/ "}
				}
				slices.Sort(wantProblems)
				if !slices.Equal(problems, wantProblems) {
					t.Errorf("problems\n got %q\nwant %q", problems, wantProblems)
				}
				projects := column(parseCSV(t, catState(t, state, "projects")), 1, 4)
				if len(projects) != 7 || !slices.Contains(projects, "good-project 4") {
					t.Errorf("projects: %q", projects)
				}
			})
		}
	}
}

func TestScanMetadataOnS3MatchesPOSIX(t *testing.T) {
	t.Parallel()
	srv := testutil.Versity(t)
	// hash-index too: on S3 web/simple is listed without a delimiter (to see
	// the pages' ETags), the first-letter folder taken off each key
	for _, hashIndex := range []bool{false, true} {
		files, _ := metadataMirror(t, hashIndex)
		files["web/pypi/Good_Project/json"] = files["web/json/Good_Project"] // S3 holds copies, not links
		delete(files, "web/json/bad\xffname")                                // an S3 key is UTF-8
		root := writeMirror(t, files, nil)
		for _, from := range []string{"json", "simple"} {
			state := t.TempDir() + "/st"
			mustBC(t, nil, "--mirror", root, "--state", state, "scan", "metadata", "--from", from)
			bucket := fmt.Sprintf("meta-%t-%s", hashIndex, from)
			c := srv.Bucket(t, bucket)
			objs := map[string]string{}
			for k, v := range files {
				objs["m/"+k] = v
			}
			testutil.Put(t, c, bucket, objs, nil)
			s3state := t.TempDir() + "/st"
			mustBC(t, srv.Env(), "--mirror", "s3://"+bucket+"/m", "--state", s3state, "scan", "metadata", "--jobs", "4", "--from", from)
			for _, m := range []string{"designated", "problems/metadata"} {
				want := catState(t, state, m)
				if got := catState(t, s3state, m); got != want {
					t.Errorf("hash-index %t, from %s: S3 %s differs from POSIX:\n%s\n---\n%s", hashIndex, from, m, got, want)
				}
			}
		}
	}
}

// shardRows are the rows of each shard of manifest in state.
func shardRows(t *testing.T, state, manifest string) []int {
	t.Helper()
	sf, err := pipeline.NewState(state).StageFile(manifest)
	if err != nil {
		t.Fatal(err)
	}
	var rows []int
	for _, sh := range sf.Shards {
		rows = append(rows, sh.Rows)
	}
	return rows
}

// fullShards fails unless every shard of projects in state but the last
// holds n rows: projects is cut at its own row count, not with designated
// (it had 2,110 shards of about 420 rows at full size).
func fullShards(t *testing.T, what, state string, n int) {
	t.Helper()
	rows := shardRows(t, state, "projects")
	for i, r := range rows {
		if r != n && i < len(rows)-1 || r > n {
			t.Errorf("%s: projects shards of %v rows, want %d each but the last (designated: %v)", what, rows, n, shardRows(t, state, "designated"))
			return
		}
	}
}

// TestScanMetadataSurvivesKill: a scan killed at every commit (the shards
// renamed, journaled, recorded by one manifest, by all), and then at random
// ones, ends with the manifests of an uninterrupted scan, and projects still
// in full shards of its own row count (its open shard kept across the
// commits of designated).
func TestScanMetadataSurvivesKill(t *testing.T) {
	t.Parallel()
	files := map[string]string{"web/packages/x": "x"}
	good := readFixture(t, "json/good.json")
	for i := range 200 {
		files[fmt.Sprintf("web/json/proj-%03d", i)] = strings.ReplaceAll(good, "good_project", fmt.Sprintf("p%03d", i))
	}
	root := writeMirror(t, files, nil)
	env := []string{"BANDERCHECK_SHARD_ROWS=37"}
	ref := t.TempDir() + "/ref"
	mustBC(t, env, "--mirror", root, "--state", ref, "scan", "metadata")
	fullShards(t, "uninterrupted", ref, 37)
	if n := len(shardRows(t, ref, "designated")); n < 3*len(shardRows(t, ref, "projects")) {
		t.Fatalf("designated has %d shards, projects %d: too few to show projects cut on its own", n, len(shardRows(t, ref, "projects")))
	}
	// every commit, every commit left half done (one manifest a commit ahead), every
	// commit journaled but not counted in _stage.json, then random ones
	args := func(state string) []string {
		return []string{"--mirror", root, "--state", state, "scan", "metadata", "--jobs", "3"}
	}
	for _, walk := range []struct {
		name  string
		crash func(t *testing.T, state string) int
	}{
		{"every shard", func(t *testing.T, state string) int { return crashAtEveryPoint(t, env, "shard", args(state)...) }},
		{"every partial", func(t *testing.T, state string) int { return crashAtEveryPoint(t, env, "partial", args(state)...) }},
		{"every journaled", func(t *testing.T, state string) int { return crashAtEveryPoint(t, env, "journaled", args(state)...) }},
		{"every renamed", func(t *testing.T, state string) int { return crashAtEveryPoint(t, env, "renamed", args(state)...) }},
		{"random shards", func(t *testing.T, state string) int { return crashAtRandomPoints(t, env, "shard", 7, args(state)...) }},
	} {
		t.Run(walk.name, func(t *testing.T) {
			t.Parallel() // each walk has its own state; the scan only reads the mirror
			state := t.TempDir() + "/st"
			kills := walk.crash(t, state)
			for _, m := range []string{"designated", "projects", "problems/metadata"} {
				want := catState(t, ref, m)
				if got := catState(t, state, m); got != want {
					t.Errorf("%s after %d crashes differs from an uninterrupted scan (%d vs %d bytes)", m, kills, len(got), len(want))
				}
			}
			fullShards(t, fmt.Sprintf("after %d crashes", kills), state, 37)
		})
	}
}
