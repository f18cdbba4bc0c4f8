package pipeline

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// While one process resets a state directory (run --fresh: run.json gone,
// other files not yet), another must meet the lock, not take the folder for
// someone else's.
func TestStateLockComesBeforeTheFolderIsJudged(t *testing.T) {
	dir := t.TempDir()
	unlock, err := NewState(dir).Lock()
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if err := os.MkdirAll(filepath.Join(dir, "storage"), 0o755); err != nil {
		t.Fatal(err)
	}
	// no run.json: the holder is between DiscardState and OpenRun
	_, err = NewState(dir).Lock()
	var re *RefusedError
	if !errors.As(err, &re) {
		t.Fatalf("a second LockState during a reset: %v; want a *RefusedError (another bandercheck is working)", err)
	}
	unlock()

	// once free, the same folder is judged: files but no run.json is not ours
	_, err = NewState(dir).Lock()
	var ue *UsageError
	if !errors.As(err, &ue) {
		t.Fatalf("LockState of a folder with files but no run.json: %v; want a *UsageError", err)
	}
	// and a folder that is not bandercheck's gets no lock file
	foreign := t.TempDir()
	if err := os.WriteFile(filepath.Join(foreign, "notes.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := NewState(foreign).Lock(); !errors.As(err, &ue) {
		t.Fatalf("a foreign folder: %v", err)
	}
	if _, err := os.Stat(filepath.Join(foreign, StateLockName)); err == nil {
		t.Error("a lock file was made in a folder that is not bandercheck's")
	}
}
