package pipeline

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestLockedStateReadsStageFileOnce: while the handle holds the lock, asking
// about a manifest again reads nothing; what this process commits through
// the handle, and what Forget announces, is read anew. Unlocked, every
// question reads the file (as every command did before the handle).
func TestLockedStateReadsStageFileOnce(t *testing.T) {
	dir := t.TempDir()
	st := NewState(dir)
	if _, err := st.OpenRun("/m"); err != nil {
		t.Fatal(err)
	}
	w, err := st.Stage("test", true, StageOptions{ShardRows: 1}, MustSpec("upstream"))
	if err != nil {
		t.Fatal(err)
	}
	row := make([]string, len(MustSpec("upstream").Columns))
	if err := w.Write(0, row...); err != nil {
		t.Fatal(err)
	}
	if err := w.EndUnit("a"); err != nil {
		t.Fatal(err)
	}
	reads := func(fn func()) int64 {
		before := stageFileReads.Load()
		fn()
		return stageFileReads.Load() - before
	}
	ask := func() *StageFile {
		sf, err := st.StageFile("upstream")
		if err != nil {
			t.Fatal(err)
		}
		return sf
	}
	if n := reads(func() { ask(); ask(); st.Done("upstream") }); n != 3 {
		t.Fatalf("unlocked: %d reads of _stage.json for 3 questions, want 3", n)
	}
	unlock, err := st.Lock()
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if n := reads(func() { ask(); ask(); st.Done("upstream"); st.EachRow("upstream", func([]string) error { return nil }) }); n != 1 {
		t.Fatalf("locked: %d reads of _stage.json for 4 questions, want 1", n)
	}
	sf := ask()
	sf.Shards = nil // the caller's copy: the kept one is untouched
	if got := ask(); len(got.Shards) != 1 || got.Rows != 1 {
		t.Fatalf("kept stage file: %d shards, %d rows; want 1, 1", len(got.Shards), got.Rows)
	}
	if err := w.Finish(); err != nil {
		t.Fatal(err)
	}
	if got := ask(); got.State != StateDone {
		t.Fatalf("after Finish through the handle: state %q, want done", got.State)
	}
	if err := WriteFileAtomic(dir+"/upstream/"+StageFileName, []byte(`{"state":"running","journal":0}`)); err != nil {
		t.Fatal(err)
	}
	st.Forget()
	if got := ask(); got.State != StateRunning {
		t.Fatalf("after Forget: state %q, want what the file now says (running)", got.State)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	if n := reads(func() { ask(); ask() }); n != 2 {
		t.Fatalf("after unlock: %d reads for 2 questions, want 2", n)
	}
}

// TestLockRemovesAKilledSortsRuns: the run folders a sort leaves when its
// process is killed (it never reaches Close) are removed when the next
// process takes the lock; a sort in a folder of its own (report's, which
// takes no lock) and anything else in STATE/tmp are left alone. Before,
// only --fresh removed them.
func TestLockRemovesAKilledSortsRuns(t *testing.T) {
	dir := t.TempDir()
	if _, err := NewState(dir).OpenRun("/m"); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(dir, "tmp")
	spill := func(in string) {
		s := NewSorter(in, 1<<16, 2, 0)
		for i := range 20000 {
			if err := s.Add([]string{fmt.Sprintf("key-%06d", 20000-i), "a value of some length"}); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.wait(); err != nil { // the runs written; never closed
			t.Fatal(err)
		}
		if len(s.runs) == 0 {
			t.Fatal("the sort spilled no run: the test proves nothing")
		}
	}
	spill(tmp)
	report := filepath.Join(tmp, "report-1")
	spill(report)
	if err := os.MkdirAll(filepath.Join(tmp, "plan-new"), 0o700); err != nil {
		t.Fatal(err)
	}
	if m, _ := filepath.Glob(filepath.Join(tmp, "sort-*", "run-*")); len(m) == 0 {
		t.Fatal("no runs left behind")
	}
	unlock, err := NewState(dir).Lock()
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if m, _ := filepath.Glob(filepath.Join(tmp, "sort-*")); len(m) != 0 {
		t.Errorf("a killed sort's runs are still there after Lock: %v", m)
	}
	if m, _ := filepath.Glob(filepath.Join(report, "sort-*", "run-*")); len(m) == 0 {
		t.Error("the runs of a sort in report's own folder were removed")
	}
	if _, err := os.Stat(filepath.Join(tmp, "plan-new")); err != nil {
		t.Errorf("other folders in STATE/tmp: %v", err)
	}
}
