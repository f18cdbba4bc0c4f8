package pipeline

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// scanPart writes the five scan manifests of part k of n into a new state:
// storage rows are the paths given, one designated row each.
func scanPart(t *testing.T, k, n int, paths ...string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), fmt.Sprintf("part-%d", k))
	run, err := NewState(dir).OpenRun("/mirror")
	if err != nil {
		t.Fatal(err)
	}
	if err := run.Require(partitionOption, fmt.Sprintf("%d/%d", k, n), false); err != nil {
		t.Fatal(err)
	}
	for _, stage := range []struct {
		name  string
		specs []Spec
	}{
		{"scan storage", []Spec{MustSpec("storage"), MustSpec("problems/storage")}},
		{"scan metadata", []Spec{MustSpec("projects"), MustSpec("designated"), MustSpec("problems/metadata")}},
	} {
		st, err := NewState(dir).Stage(stage.name, true, StageOptions{ShardRows: 2}, stage.specs...)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range paths {
			row := make([]string, len(stage.specs[0].Columns))
			row[0] = p
			if err := st.Write(0, row...); err != nil {
				t.Fatal(err)
			}
			if stage.name == "scan metadata" {
				d := make([]string, len(Columns["designated"]))
				d[0] = p
				if err := st.Write(1, d...); err != nil {
					t.Fatal(err)
				}
			}
			if err := st.EndUnit(p); err != nil {
				t.Fatal(err)
			}
		}
		if err := st.Finish(); err != nil {
			t.Fatal(err)
		}
		st.Close()
	}
	return dir
}

func firstColumn(t *testing.T, state, manifest string) []string {
	t.Helper()
	var out []string
	if err := NewState(state).EachRow(manifest, func(row []string) error { out = append(out, row[0]); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// The parts' manifests are put end to end in part order, whatever order
// they are named in; a set that is not every part once, or a part whose
// state names a shard outside its folder, is refused and changes nothing.
func TestAssemblePartsPutsPartsEndToEnd(t *testing.T) {
	p0 := scanPart(t, 0, 3, "a", "b", "c")
	p1 := scanPart(t, 1, 3, "d")
	p2 := scanPart(t, 2, 3, "e", "f", "g", "h", "i")
	dest := filepath.Join(t.TempDir(), "plan")
	if err := NewState(dest).AssembleParts([]string{p2, p0, p1}); err != nil {
		t.Fatal(err)
	}
	want := strings.Split("a b c d e f g h i", " ")
	for _, m := range []string{"storage", "projects", "designated"} {
		if got := firstColumn(t, dest, m); !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", m, got, want)
		}
		sf, err := NewState(dest).StageFile(m)
		if err != nil || sf.State != StateDone || sf.Rows != 9 || sf.Cursor != "i" {
			t.Errorf("%s: stage file %+v, %v", m, sf, err)
		}
	}
	r, err := NewState(dest).Run()
	if err != nil || r.Option(partitionOption) != "" || r.Option("partitions") != "3" {
		t.Errorf("run.json of the planning state: %+v, %v", r, err)
	}

	var ue *UsageError
	for name, parts := range map[string][]string{
		"a part missing": {p0, p2},
		"a part twice":   {p0, p0, p2},
		"dest as a part": {p0, p1, dest},
	} {
		if err := NewState(dest).AssembleParts(parts); !errors.As(err, &ue) {
			t.Errorf("%s: %v, want a usage error", name, err)
		}
	}
	// a damaged part names a shard outside its folder: refused, nothing read
	sfPath := filepath.Join(p1, "designated", StageFileName)
	sf, err := NewState(p1).StageFile("designated")
	if err != nil {
		t.Fatal(err)
	}
	sf.Shards[0].File = "../../part-0/storage/000001.csv.zst"
	b, _ := json.Marshal(sf)
	if err := os.WriteFile(sfPath, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := NewState(dest).AssembleParts([]string{p0, p1, p2}); !errors.As(err, &ue) || !strings.Contains(err.Error(), "not a shard file name") {
		t.Errorf("a shard outside its folder: %v", err)
	}
	if _, err := NewState(dest).StageFile("storage"); err == nil {
		t.Error("a refused assembly left a finished storage manifest: plan would run on a mix")
	}
}
