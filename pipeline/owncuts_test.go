package pipeline

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOwnCutsOpenShardRecordBeyondTheFileIsDamage: a manifest cut at its
// own row count resumes its open shard from OpenRowsFile; a _stage.json
// that records more bytes of it than the file holds (here a petabyte) is
// damage, said in one error, not an allocation of what it claims.
func TestOwnCutsOpenShardRecordBeyondTheFileIsDamage(t *testing.T) {
	dir := t.TempDir()
	specs := []Spec{MustSpec("projects"), MustSpec("designated")}
	opt := StageOptions{ShardRows: 5, OwnCuts: []string{"projects"}}
	st, err := NewState(dir).Stage("scan-metadata", false, opt, specs...)
	if err != nil {
		t.Fatal(err)
	}
	for u := range 7 {
		p := fmt.Sprintf("p%02d", u)
		row := make([]string, len(Columns["projects"]))
		row[0] = p
		if err := st.Write(0, row...); err != nil {
			t.Fatal(err)
		}
		for f := range 3 {
			d := make([]string, len(Columns["designated"]))
			d[0], d[1] = fmt.Sprintf("web/packages/%s-%d", p, f), p
			if err := st.Write(1, d...); err != nil {
				t.Fatal(err)
			}
		}
		if err := st.EndUnit(p); err != nil {
			t.Fatal(err)
		}
	}
	st.Close() // killed before Finish: projects' open shard holds 2 rows
	path := filepath.Join(dir, "projects", StageFileName)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var sf map[string]any
	if err := json.Unmarshal(b, &sf); err != nil {
		t.Fatal(err)
	}
	open, ok := sf["open"].(map[string]any)
	if !ok {
		t.Fatalf("projects' %s records no open shard: %s", StageFileName, b)
	}
	open["bytes"] = 1 << 50
	b, _ = json.Marshal(sf)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	st, err = NewState(dir).Stage("scan-metadata", false, opt, specs...)
	if err == nil {
		st.Close()
		t.Fatal("a resume over an open-shard record larger than its file went on")
	}
	if !strings.Contains(err.Error(), "damaged") {
		t.Errorf("the error does not say the state is damaged: %v", err)
	}
}

// TestOwnCutsRowsCountTheOpenShard: a stage killed while a manifest cut at
// its own row count has rows in its open shard resumes with those rows
// counted (scan metadata's progress starts from Rows: it was short by the
// open shard's rows until that shard closed).
func TestOwnCutsRowsCountTheOpenShard(t *testing.T) {
	dir := t.TempDir()
	specs := []Spec{MustSpec("projects"), MustSpec("designated")}
	opt := StageOptions{ShardRows: 5, OwnCuts: []string{"projects"}}
	open := func() *Stage {
		st, err := NewState(dir).Stage("scan-metadata", false, opt, specs...)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	st := open()
	for u := range 7 {
		p := fmt.Sprintf("p%02d", u)
		row := make([]string, len(Columns["projects"]))
		row[0] = p
		if err := st.Write(0, row...); err != nil {
			t.Fatal(err)
		}
		for f := range 3 {
			d := make([]string, len(Columns["designated"]))
			d[0], d[1] = fmt.Sprintf("web/packages/%s-%d", p, f), p
			if err := st.Write(1, d...); err != nil {
				t.Fatal(err)
			}
		}
		if err := st.EndUnit(p); err != nil {
			t.Fatal(err)
		}
	}
	st.Close() // killed before Finish
	st = open()
	defer st.Close()
	// a commit comes when designated closes a shard: the projects up to
	// the cursor are committed, 5 in a closed shard and the rest open
	var want int64
	if _, err := fmt.Sscanf(st.Cursor(), "p%d", &want); err != nil {
		t.Fatal(err)
	}
	want++
	if want <= 5 {
		t.Fatalf("committed up to %q: no committed row in projects' open shard", st.Cursor())
	}
	if got := st.Rows(0); got != want {
		t.Errorf("resumed after %s: projects counts %d rows, want %d (5 in a closed shard, %d in the open one)", st.Cursor(), got, want, want-5)
	}
}
