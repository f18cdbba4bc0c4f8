package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/bandercheck/bandercheck/internal/s3proxy"
	"github.com/bandercheck/bandercheck/internal/testutil"
	"github.com/bandercheck/bandercheck/pipeline"
)

// reuseMirror is n projects read from JSON, every 7th document broken (a
// problem row each) and every 11th project found only in web/simple (a
// problem row and the fallback).
func reuseMirror(t *testing.T, n int) (string, map[string]string) {
	files := map[string]string{"web/packages/x": "x"}
	good := readFixture(t, "json/good.json")
	for i := range n {
		name := fmt.Sprintf("proj-%03d", i)
		switch {
		case i%11 == 5:
			files["web/simple/"+name+"/index.html"] = readFixture(t, "simple/good.html")
		case i%7 == 3:
			files["web/json/"+name] = `{"info": {"name": "` + name + `"}, "releases": {"1.0": [`
		default:
			files["web/json/"+name] = strings.ReplaceAll(good, "good_project", fmt.Sprintf("p%03d", i))
		}
	}
	return writeMirror(t, files, nil), files
}

// readCount is what scan metadata's log line says it read and reused.
func readCount(t *testing.T, stderr string) (reused, read, documents int) {
	t.Helper()
	m := regexp.MustCompile(`(\d+) projects' rows reused \(documents unchanged\), (\d+) projects read \((\d+) documents\)`).FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("no tally in the log:\n%s", stderr)
	}
	fmt.Sscan(m[1], &reused)
	fmt.Sscan(m[2], &read)
	fmt.Sscan(m[3], &documents)
	return reused, read, documents
}

// TestReusingScanMetadataSurvivesKill: a scan metadata that reuses the
// previous scan's rows, killed at every shard commit (and at every commit
// left half done), resumes to the manifests of an uninterrupted reusing
// scan, which equal those of a scan with nothing to reuse.
func TestReusingScanMetadataSurvivesKill(t *testing.T) {
	t.Parallel()
	root, files := reuseMirror(t, 200)
	env := []string{"BANDERCHECK_SHARD_ROWS=37"}
	base := t.TempDir() + "/base"
	mustBC(t, env, "--mirror", root, "--state", base, "scan", "metadata")
	// changes: 20 documents rewritten, 5 removed, 5 new projects
	changed := 0
	for k := range files {
		if strings.HasPrefix(k, "web/json/") && changed < 30 {
			p := filepath.Join(root, k)
			switch {
			case changed < 20:
				os.WriteFile(p, []byte(strings.Replace(readFixture(t, "json/good.json"), "good_project", "changed"+k[len("web/json/"):], -1)), 0o644)
			case changed < 25:
				os.Remove(p)
			default:
				os.WriteFile(p+"-new", []byte(readFixture(t, "json/good.json")), 0o644)
			}
			changed++
		}
	}
	copyState := func() string { return copyTree(t, base) }
	fresh := t.TempDir() + "/fresh"
	mustBC(t, env, "--mirror", root, "--state", fresh, "scan", "metadata")
	ref := copyState()
	r := bc(t, env, "--mirror", root, "--state", ref, "scan", "metadata", "--fresh")
	if r.code != 0 {
		t.Fatal(r.stderr)
	}
	// the 20 rewritten and 5 new documents are read; no other JSON document
	if _, read, docs := readCount(t, r.stderr); read != 25 || docs != 25 {
		t.Errorf("the reusing scan read %d projects (%d documents), want the 25 changed and new:\n%s", read, docs, r.stderr)
	}
	for _, m := range pipeline.MetadataManifests {
		if got, want := catState(t, ref, m), catState(t, fresh, m); got != want {
			t.Errorf("%s of the reusing scan differs from a scan with nothing to reuse", m)
		}
	}
	for _, point := range []string{"shard", "partial"} {
		t.Run(point, func(t *testing.T) {
			t.Parallel() // each walk has its own copy of the state; the scan only reads the mirror
			state := copyTree(t, base)
			// what --fresh does first (a stage opened fresh has no crash points)
			if err := pipeline.NewState(state).KeepPreviousMetadata(root); err != nil {
				t.Fatal(err)
			}
			kills := crashAtEveryPoint(t, env, point, "--mirror", root, "--state", state, "scan", "metadata", "--jobs", "3")
			for _, m := range pipeline.MetadataManifests {
				if got, want := catState(t, state, m), catState(t, ref, m); got != want {
					t.Errorf("%s after %d kills at %q differs from an uninterrupted reusing scan (%d vs %d bytes)", m, kills, point, len(got), len(want))
				}
			}
		})
	}
}

// TestRunReusesMetadataNightly: run's next check keeps the finished scan's
// metadata, so the next night reads only the documents that changed.
func TestRunReusesMetadataNightly(t *testing.T) {
	t.Parallel()
	root, _ := reuseMirror(t, 60)
	state := t.TempDir() + "/st"
	args := []string{"--mirror", root, "--state", state, "run", "--dry-run", "--grace", "0s", "--max-remove-projects", "100%", "--max-download", "100%"}
	mustBC(t, nil, args...)
	testutil.WriteFiles(t, root, map[string]string{"web/json/proj-010": strings.ReplaceAll(readFixture(t, "json/good.json"), "good_project", "ten")})
	metrics := t.TempDir() + "/bandercheck.prom"
	r := bc(t, nil, append(args, "--fresh", "--metrics-file", metrics)...)
	if r.code != 0 {
		t.Fatal(r.stderr)
	}
	if reused, read, _ := readCount(t, r.stderr); read != 1 || reused != 59 {
		t.Errorf("the next night read %d projects and reused %d, want 1 and 59:\n%s", read, reused, r.stderr)
	}
	if !strings.Contains(r.stdout, "metadata: 59 projects' rows reused") {
		t.Errorf("run's report does not say what scan metadata reused:\n%s", r.stdout)
	}
	prom, err := os.ReadFile(metrics)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`bandercheck_metadata_projects{how="reused"} 59`, `bandercheck_metadata_projects{how="read"} 1`, "bandercheck_metadata_documents_read 1"} {
		if !strings.Contains(string(prom), want) {
			t.Errorf("the metrics file lacks %q", want)
		}
	}
}

// TestScanMetadataReuseOnS3: on S3 a second scan metadata GETs no document
// (the listing's ETags say none changed); an object rewritten with the same
// size (a new ETag) is the one GET of the next, for the JSON documents and
// for the simple pages as the source; the manifests equal those of a scan
// with nothing to reuse.
func TestScanMetadataReuseOnS3(t *testing.T) {
	t.Parallel()
	testutil.NeedVersity(t)
	_, files := reuseMirror(t, 40)
	for i := range 40 {
		name := fmt.Sprintf("proj-%03d", i)
		if _, ok := files["web/json/"+name]; ok {
			files["web/simple/"+name+"/index.v1_json"] = readFixture(t, "simple/good.v1_json")
		}
	}
	srv := testutil.Versity(t)
	c := srv.Bucket(t, "reuse")
	put := func(files map[string]string) {
		objs := map[string]string{}
		for k, v := range files {
			objs["m/"+k] = v
		}
		testutil.Put(t, c, "reuse", objs, nil)
	}
	put(files)
	proxy, err := s3proxy.Start(s3proxy.Options{Target: srv.Endpoint})
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	env := append(srv.Env(), "BANDERCHECK_S3_ENDPOINT="+proxy.URL)
	for _, from := range []string{"json", "simple"} {
		state := t.TempDir() + "/st"
		scan := func(extra ...string) (gets int64) {
			t.Helper()
			proxy.Reset()
			mustBC(t, env, append([]string{"--mirror", "s3://reuse/m", "--state", state, "scan", "metadata", "--jobs", "4", "--from", from}, extra...)...)
			return proxy.Stats().Requests["GET"]
		}
		if gets := scan(); gets < 30 {
			t.Fatalf("from %s: the first scan made %d GETs", from, gets)
		}
		if gets := scan("--fresh"); gets != 0 {
			t.Errorf("from %s: a second scan of an unchanged bucket made %d GETs, want 0", from, gets)
		}
		// rewritten with the same length: only the ETag tells
		key := "web/json/proj-001"
		if from == "simple" {
			key = "web/simple/proj-001/index.v1_json"
		}
		old := files[key]
		files[key] = strings.Replace(old, "{\n \"", "{\n\t\"", 1) // JSON whitespace: the same rows
		if files[key] == old || len(files[key]) != len(old) {
			t.Fatal("the rewrite changed nothing or the length")
		}
		put(map[string]string{key: files[key]})
		if gets := scan("--fresh"); gets != 1 {
			t.Errorf("from %s: after one object was rewritten the scan made %d GETs, want 1", from, gets)
		}
		ref := t.TempDir() + "/ref"
		mustBC(t, env, "--mirror", "s3://reuse/m", "--state", ref, "scan", "metadata", "--from", from)
		for _, m := range pipeline.MetadataManifests {
			if got, want := catState(t, state, m), catState(t, ref, m); got != want {
				t.Errorf("from %s: %s of the reusing scan differs from a scan with nothing to reuse:\n%s\n---\n%s", from, m, got, want)
			}
		}
	}
}
