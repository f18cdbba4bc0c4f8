package pipeline

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// StateLockName is the file in a state directory that one bandercheck
// process at a time holds an flock on.
const StateLockName = ".lock"

// lockState takes an exclusive flock on STATE/.lock, creating the directory
// when it is new, so two processes never work on one state directory. A state
// path that is a file, or a directory that holds files but no run.json (not
// bandercheck's), is a *UsageError and is left untouched; a lock another
// process holds is a *RefusedError.
func lockState(stateDir string) (unlock func() error, err error) {
	fi, err := os.Stat(stateDir)
	switch {
	case err == nil && !fi.IsDir():
		return nil, &UsageError{Msg: fmt.Sprintf("state path %s is a file, not a folder: choose a folder for --state", stateDir)}
	case errors.Is(err, os.ErrNotExist):
		if err := os.MkdirAll(stateDir, 0o700); err != nil {
			return nil, &UsageError{Msg: fmt.Sprintf("create state directory %s: %v", stateDir, err)}
		}
	case err != nil:
		return nil, fmt.Errorf("state directory %s: %w", stateDir, err)
	}
	// The lock comes before anything in the folder is read: another process
	// may be resetting it (run --fresh), and what it holds meanwhile proves
	// nothing. Only a folder without the lock file is checked before one is
	// made in it, so a folder that is not bandercheck's gets no file.
	path := filepath.Join(stateDir, StateLockName)
	f, err := os.OpenFile(path, os.O_RDWR|syscall.O_NOFOLLOW, 0)
	if errors.Is(err, os.ErrNotExist) {
		if err := checkOwnState(stateDir); err != nil {
			return nil, err
		}
		f, err = os.OpenFile(path, os.O_CREATE|os.O_RDWR|syscall.O_NOFOLLOW, 0o600)
	}
	if err != nil {
		return nil, fmt.Errorf("lock the state directory: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &RefusedError{Guards: []string{"state-lock"}, Msg: fmt.Sprintf("another bandercheck is working on state directory %s (%s is held): wait for it to finish, or use another --state", stateDir, path)}
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	unlock = func() error { return errors.Join(syscall.Flock(int(f.Fd()), syscall.LOCK_UN), f.Close()) }
	if err := checkOwnState(stateDir); err != nil {
		return nil, errors.Join(err, unlock())
	}
	if err := CheckNoLinks(stateDir); err != nil {
		return nil, errors.Join(err, unlock())
	}
	return unlock, nil
}

// checkOwnState refuses a directory that holds files but no run.json.
func checkOwnState(stateDir string) error {
	if _, err := os.Stat(filepath.Join(stateDir, RunFileName)); err == nil {
		return nil
	}
	entries, err := os.ReadDir(stateDir)
	if err != nil {
		return fmt.Errorf("state directory %s: %w", stateDir, err)
	}
	for _, e := range entries {
		if e.Name() == PreviousDir && previousMirror(stateDir) != "" || e.Name() == HistoryFileName {
			continue // what a new check keeps
		}
		if e.Name() != StateLockName {
			return &UsageError{Msg: fmt.Sprintf("state directory %s holds files but no %s: it is not bandercheck's and is left untouched; choose an empty or new --state", stateDir, RunFileName)}
		}
	}
	return nil
}

// Discard removes everything in a bandercheck state directory except
// the lock its caller holds, STATE/previous and STATE/history.csv; a directory that is not
// bandercheck's is refused.
func (s *State) Discard() error {
	defer s.Forget()
	stateDir := s.dir
	if err := checkOwnState(stateDir); err != nil {
		var ue *UsageError
		if errors.As(err, &ue) {
			return &UsageError{Msg: "--fresh: " + ue.Msg}
		}
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	entries, err := os.ReadDir(stateDir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Name() == StateLockName || e.Name() == PreviousDir || e.Name() == HistoryFileName {
			continue
		}
		if err := os.RemoveAll(filepath.Join(stateDir, e.Name())); err != nil {
			return fmt.Errorf("--fresh: %w", err)
		}
	}
	return nil
}

// PreviousDir is STATE/previous: the last finished storage manifest, kept
// by --fresh so that a new scan can reuse its digests.
const PreviousDir = "previous"

// KeepPrevious moves a finished storage manifest to STATE/previous/storage,
// replacing the one kept before (and everything kept of another mirror),
// with the mirror it describes. An
// unfinished one is left for --fresh to discard.
func (s *State) KeepPrevious(mirror string) error {
	if !s.Done("storage") {
		return nil
	}
	defer s.Forget()
	stateDir := s.dir
	prev := filepath.Join(stateDir, PreviousDir)
	drop := filepath.Join(prev, "storage")
	if previousMirror(stateDir) != mirror {
		drop = prev // what is kept describes another mirror
	}
	if err := os.RemoveAll(drop); err != nil {
		return fmt.Errorf("keep the storage manifest: %w", err)
	}
	if err := os.MkdirAll(prev, 0o700); err != nil {
		return fmt.Errorf("keep the storage manifest: %w", err)
	}
	if err := os.WriteFile(filepath.Join(prev, "mirror"), []byte(mirror), 0o600); err != nil {
		return fmt.Errorf("keep the storage manifest: %w", err)
	}
	if err := os.Rename(filepath.Join(stateDir, "storage"), filepath.Join(prev, "storage")); err != nil {
		return fmt.Errorf("keep the storage manifest: %w", err)
	}
	return nil
}

// PreviousMirror is the mirror STATE/previous describes, or "".
func (s *State) PreviousMirror() string { return previousMirror(s.dir) }

func previousMirror(stateDir string) string {
	b, err := os.ReadFile(filepath.Join(stateDir, PreviousDir, "mirror"))
	if err != nil {
		return ""
	}
	return string(b)
}

// KeepApplied moves STATE/applied (what the last check's apply did) to
// STATE/previous/applied, replacing the one kept before, so that starting a
// new check never discards the evidence of the last one. Without applied
// results it does nothing.
func (s *State) KeepApplied(mirror string) error {
	stateDir := s.dir
	src := filepath.Join(stateDir, "applied")
	if _, err := os.Stat(src); err != nil {
		return nil
	}
	defer s.Forget()
	prev := filepath.Join(stateDir, PreviousDir)
	dst := filepath.Join(prev, "applied")
	if err := os.RemoveAll(dst); err != nil {
		return fmt.Errorf("keep the applied results: %w", err)
	}
	if err := os.MkdirAll(prev, 0o700); err != nil {
		return fmt.Errorf("keep the applied results: %w", err)
	}
	if previousMirror(stateDir) == "" {
		if err := os.WriteFile(filepath.Join(prev, "mirror"), []byte(mirror), 0o600); err != nil {
			return fmt.Errorf("keep the applied results: %w", err)
		}
	}
	if err := os.Rename(src, dst); err != nil {
		return fmt.Errorf("keep the applied results: %w", err)
	}
	return nil
}
