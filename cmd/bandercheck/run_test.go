package main

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/bandercheck/bandercheck/internal/testutil"
)

func runArgs(mirror, state, url string, extra ...string) []string {
	return append([]string{"--mirror", mirror, "--state", state, "run", "--hash", "--upstream", url, "--download-base", url,
		"--max-remove-projects", "10%"}, extra...)
}

func TestRunEndToEndPOSIX(t *testing.T) {
	t.Parallel()
	m := generate(t, 100, "--hash-index")
	url := m.serve(t, nil)
	state := t.TempDir() + "/st"
	out := mustBC(t, nil, runArgs(m.root, state, url)...)
	for _, want := range []string{"plan:", "applied:", "scan storage", "hashing: 0 digests reused", "peak memory"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	// each stage's own peak resident memory (issue 25: which stage grows)
	for _, stage := range []string{"scan storage", "scan metadata", "plan", "apply"} {
		if !regexp.MustCompile(`(?m)^ *` + stage + ` +[0-9.]+ +[1-9][0-9]* *$`).MatchString(out) {
			t.Errorf("the stage table has no peak memory for %s:\n%s", stage, out)
		}
	}
	m.verify(t, m.root)
	for _, p := range m.truth["removed-project"] {
		if _, err := os.Stat(filepath.Join(m.root, "web/simple", p[:1], p)); err == nil {
			t.Errorf("hash-index simple folder of removed project %s is still there", p)
		}
	}
	// a second, fresh run finds nothing to do
	mustBC(t, nil, runArgs(m.root, state, url, "--fresh", "--dry-run")...)
	for _, plan := range []string{"plan/download", "plan/delete", "plan/remove-projects"} {
		if got := catState(t, state, plan); strings.Count(got, "\n") != 1 {
			t.Errorf("second run plans work in %s:\n%s", plan, got)
		}
	}
}

// TestRunSurvivesKillAnywhere crashes run at every shard commit of every
// stage, then at random downloads, and checks that the manifests, the plan
// and the mirror equal an uninterrupted run's.
func TestRunSurvivesKillAnywhere(t *testing.T) {
	t.Parallel()
	m := generate(t, 100)
	url := m.serve(t, nil)
	env := []string{"BANDERCHECK_SHARD_ROWS=40"}
	refRoot, refState := copyTree(t, m.root), t.TempDir()+"/ref"
	mustBC(t, env, runArgs(refRoot, refState, url, "--jobs", "2")...)

	for _, walk := range []struct {
		name  string
		crash func(t *testing.T, args ...string) int
	}{
		{"every shard", func(t *testing.T, args ...string) int { return crashAtEveryPoint(t, env, "shard", args...) }},
		{"random downloads", func(t *testing.T, args ...string) int { return crashAtRandomPoints(t, env, "download", 5, args...) }},
	} {
		t.Run(walk.name, func(t *testing.T) {
			t.Parallel() // each walk has its own copy of the mirror and its own state
			root, state := copyTree(t, m.root), t.TempDir()+"/st"
			kills := walk.crash(t, runArgs(root, state, url, "--jobs", "2")...)
			t.Logf("%d crashes", kills)
			m.verify(t, root)
			for _, name := range []string{"storage", "projects", "designated", "problems/metadata", "upstream", "plan/download", "plan/delete", "plan/remove-projects"} {
				want := catState(t, refState, name)
				got := catState(t, state, name)
				if name == "storage" { // hashed_at, inode and ctime are each copy's and each run's own
					want, got = columnsOf(t, want, "path", "size", "modified", "sha256"), columnsOf(t, got, "path", "size", "modified", "sha256")
				}
				if name == "projects" { // documents holds each copy's inodes and ctimes
					cols := []string{"project", "normalized", "metadata_path", "serial", "files"}
					want, got = columnsOf(t, want, cols...), columnsOf(t, got, cols...)
				}
				if got != want {
					t.Errorf("%s after %d crashes differs from an uninterrupted run (%d vs %d lines)", name, kills, strings.Count(got, "\n"), strings.Count(want, "\n"))
				}
			}
			for _, a := range []string{"applied/download", "applied/delete", "applied/remove-projects"} {
				want := firstColumn(catState(t, refState, a))
				if got := firstColumn(catState(t, state, a)); !slices.Equal(got, want) {
					t.Errorf("%s after crashes: %d rows, uninterrupted %d", a, len(got), len(want))
				}
			}
		})
	}
}

func firstColumn(csv string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(csv), "\n")[1:] {
		p, _, _ := strings.Cut(l, ",")
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// TestRunSyncDuringVerify adds a project between the storage and metadata
// scans, as a sync would: its files are neither deleted nor fetched again.
func TestRunSyncDuringVerify(t *testing.T) {
	t.Parallel()
	m := generate(t, 100)
	// the newcomer is generated apart, then half copied in: its files and JSON arrive after scan storage
	late := generate(t, 110)
	var mu sync.Mutex
	fetched := map[string]int{}
	url := m.serve(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			fetched[r.URL.Path]++
			mu.Unlock()
			h.ServeHTTP(w, r)
		})
	})
	state := t.TempDir() + "/st"
	g := []string{"--mirror", m.root, "--state", state}
	mustBC(t, nil, append(g, "scan", "storage", "--hash")...)

	// the sync: one project of the other mirror, files and metadata, lands now
	docs, _ := filepath.Glob(filepath.Join(late.root, "web/json/*"))
	var newDoc string
	for _, d := range docs {
		if _, err := os.Stat(filepath.Join(m.root, "web/json", filepath.Base(d))); err != nil {
			newDoc = d
			break
		}
	}
	if newDoc == "" {
		t.Fatal("no new project to sync")
	}
	name := filepath.Base(newDoc)
	data, _ := os.ReadFile(newDoc)
	testutil.WriteFiles(t, m.root, map[string]string{"web/json/" + name: string(data)})
	newFiles := packagesOf(t, late, string(data))
	for _, key := range newFiles {
		content, err := os.ReadFile(filepath.Join(late.upstream, strings.TrimPrefix(key, "web/")))
		if err != nil {
			t.Fatal(err)
		}
		testutil.WriteFiles(t, m.root, map[string]string{key: string(content)})
		testutil.WriteFiles(t, m.upstream, map[string]string{strings.TrimPrefix(key, "web/"): string(content)})
	}
	// upstream lists the newcomer too
	idx, _ := os.ReadFile(filepath.Join(m.upstream, "simple/index.html"))
	os.WriteFile(filepath.Join(m.upstream, "simple/index.html"), []byte(strings.Replace(string(idx), "<body>\n", "<body>\n    <a href=\"x/\">"+name+"</a><br/>\n", 1)), 0o644)
	os.Remove(filepath.Join(m.upstream, "simple/index.v1_json"))

	mustBC(t, nil, append(g, "scan", "metadata")...)
	mustBC(t, nil, append(g, "scan", "upstream", "--upstream", url)...)
	mustBC(t, nil, append(g, "plan", "--max-remove-projects", "10%")...)
	mustBC(t, nil, append(g, "apply", "--download-base", url)...)
	applied := catState(t, state, "applied/download")
	for _, key := range newFiles {
		if _, err := os.Stat(filepath.Join(m.root, key)); err != nil {
			t.Errorf("a file the sync added was deleted: %s", key)
		}
		if fetched["/"+strings.TrimPrefix(key, "web/")] > 0 {
			t.Errorf("a file the sync added was fetched again: %s", key)
		}
		if l := lineOf(applied, key); l != "" && !strings.Contains(l, ",present,") {
			t.Errorf("applied row for a synced file: %s", l)
		}
	}
}

// packagesOf lists the mirror keys a JSON document designates.
func packagesOf(t *testing.T, m *genMirror, doc string) []string {
	var keys []string
	for _, part := range strings.Split(doc, `"url":"https://files.example.invalid/`)[1:] {
		rel, _, _ := strings.Cut(part, `"`)
		keys = append(keys, "web/"+rel)
		if _, err := os.Stat(filepath.Join(m.upstream, rel+".metadata")); err == nil {
			keys = append(keys, "web/"+rel+".metadata")
		}
	}
	return keys
}

func TestRunRefusedPlanIsNotAppliedOnRerun(t *testing.T) {
	t.Parallel()
	m := generate(t, 100)
	url := m.serve(t, nil)
	state := t.TempDir() + "/st"
	args := []string{"--mirror", m.root, "--state", state, "run", "--upstream", url, "--download-base", url, "--max-remove-projects", "0"}
	for attempt := range 2 {
		if r := bc(t, nil, args...); r.code != 3 || !strings.Contains(r.stderr, "--max-remove-projects") {
			t.Fatalf("run %d: exit %d: %s", attempt+1, r.code, r.stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(state, "applied")); err == nil {
		t.Errorf("a plan refused by a guard was applied on the rerun")
	}
}
