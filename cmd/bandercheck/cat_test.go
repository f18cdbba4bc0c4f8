package main

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/bandercheck/bandercheck/pipeline"
)

// zstdRows decodes every shard file of a manifest folder, as zstdcat would,
// and returns the data rows without the per-shard headers.
func zstdRows(t *testing.T, dir string) [][]string {
	t.Helper()
	shards, _ := filepath.Glob(filepath.Join(dir, "*.csv.zst"))
	slices.Sort(shards)
	var rows [][]string
	for _, s := range shards {
		f, err := os.Open(s)
		if err != nil {
			t.Fatal(err)
		}
		zr, err := zstd.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(zr).ReadAll()
		zr.Close()
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, recs[1:]...)
	}
	return rows
}

func TestCatEqualsConcatenatedShards(t *testing.T) {
	t.Parallel()
	state := t.TempDir() + "/st"
	pipeline.NewState(state).OpenRun("/m")
	st, err := pipeline.NewState(state).Stage("test", false, pipeline.StageOptions{ShardRows: 4}, pipeline.MustSpec("designated"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 11 {
		p := "web/packages/x/" + strings.Repeat("é,\"\n", i%3) + string(rune('a'+i))
		st.Write(0, p, "proj", "1", "", "u", "", "")
		st.EndUnit(p)
	}
	// while the stage runs, cat shows the committed shards only
	running := parseCSV(t, mustBC(t, nil, "--state", state, "cat", "designated"))
	if len(running) != 8 {
		t.Errorf("cat of a running stage: %d rows, want the 8 committed", len(running))
	}
	st.Finish()
	got := parseCSV(t, mustBC(t, nil, "--state", state, "cat", "designated"))
	if want := zstdRows(t, filepath.Join(state, "designated")); !slices.EqualFunc(got, want, slices.Equal) || len(got) != 11 {
		t.Errorf("cat gave %d rows, the shards hold %d", len(got), len(want))
	}
	if r := bc(t, nil, "--state", state, "cat", "nonsense"); r.code != 2 || !strings.Contains(r.stderr, "known manifests") {
		t.Errorf("cat of an unknown manifest: exit %d: %s", r.code, r.stderr)
	}
	status := mustBC(t, nil, "--state", state, "status", "--json")
	if !strings.Contains(status, `"manifest": "designated"`) || !strings.Contains(status, `"rows": 11`) {
		t.Errorf("status --json:\n%s", status)
	}
}

func TestScanMetadataEmptyWebJSON(t *testing.T) {
	t.Parallel()
	files, _ := metadataMirror(t, false)
	for k := range files {
		if strings.HasPrefix(k, "web/json/") {
			delete(files, k)
		}
	}
	root := writeMirror(t, files, nil)
	os.MkdirAll(filepath.Join(root, "web/json"), 0o755)
	state := t.TempDir() + "/st"
	mustBC(t, nil, "--mirror", root, "--state", state, "scan", "metadata")
	problems := parseCSV(t, mustBC(t, nil, "--state", state, "cat", "problems/metadata"))
	fellBack := 0
	for _, p := range problems {
		if strings.Contains(p[2], "no JSON document") && p[3] == "simple" {
			fellBack++
		}
	}
	if fellBack != 4 { // good-project, truncated-proj, only-simple, dangling; not-object's page is broken too
		t.Errorf("%d projects fell back to their simple page, want every readable one:\n%v", fellBack, problems)
	}
	designated := parseCSV(t, mustBC(t, nil, "--state", state, "cat", "designated"))
	if len(designated) == 0 {
		t.Fatal("nothing designated although simple pages exist")
	}
}
