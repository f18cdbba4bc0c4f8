package pipeline

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// RunFileName is the run record's file name under STATE.
const RunFileName = "run.json"

// Run is STATE/run.json: the mirror and the options that change the result.
// A resume with a different value is refused.
type Run struct {
	ID      string            `json:"run_id"`
	Mirror  string            `json:"mirror"`
	Created time.Time         `json:"created"`
	Options map[string]string `json:"options"`
	dir     string
}

// OpenRun opens the run record of STATE, creating the directory and the
// record when they are new. A directory that holds other files but no
// run.json is not bandercheck's and is refused untouched.
func (s *State) OpenRun(mirror string) (*Run, error) {
	stateDir := s.dir
	path := filepath.Join(stateDir, RunFileName)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		if _, derr := os.Stat(stateDir); derr == nil {
			if err := checkOwnState(stateDir); err != nil {
				return nil, err
			}
		} else if !errors.Is(derr, os.ErrNotExist) {
			return nil, fmt.Errorf("state directory %s: %w", stateDir, derr)
		}
		if err := os.MkdirAll(stateDir, 0o700); err != nil {
			return nil, fmt.Errorf("create state directory: %w", err)
		}
		r := &Run{ID: NewID(), Mirror: mirror, Created: time.Now().UTC(), Options: map[string]string{}, dir: stateDir}
		return r, r.save()
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	r := &Run{dir: stateDir}
	if err := json.Unmarshal(data, r); err != nil {
		return nil, &UsageError{Msg: fmt.Sprintf("%s is damaged (%v): start over with run --fresh or choose another --state", path, err)}
	}
	if r.Options == nil {
		r.Options = map[string]string{}
	}
	if mirror != "" && r.Mirror != mirror {
		return nil, &UsageError{Msg: fmt.Sprintf("state directory %s belongs to mirror %s, not %s: use another --state, or start over with run --fresh", stateDir, r.Mirror, mirror)}
	}
	return r, nil
}

// Run reads STATE/run.json without creating anything.
func (s *State) Run() (*Run, error) {
	stateDir := s.dir
	path := filepath.Join(stateDir, RunFileName)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	r := &Run{dir: stateDir}
	if err := json.Unmarshal(data, r); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return r, nil
}

// Require records option key=value, or refuses when an earlier run recorded
// another value. With replace, the new value is recorded (the stage starts over).
func (r *Run) Require(key, value string, replace bool) error {
	old, ok := r.Options[key]
	if ok && old == value {
		return nil
	}
	if ok && !replace {
		return &UsageError{Msg: fmt.Sprintf("option %s was %q when this state was started and is %q now: resuming would mix two results; rerun with %q, or start the stage over with --fresh (or use another --state)", key, old, value, old)}
	}
	r.Options[key] = value
	return r.save()
}

// Option returns a recorded option.
func (r *Run) Option(key string) string { return r.Options[key] }

// Reset forgets every option whose key has the given prefix.
func (r *Run) Reset(prefix string) error {
	for k := range r.Options {
		if strings.HasPrefix(k, prefix) {
			delete(r.Options, k)
		}
	}
	return r.save()
}

func (r *Run) save() error {
	return writeJSONAtomic(filepath.Join(r.dir, RunFileName), r)
}

// NewID makes an identifier that sorts by creation time: a UTC timestamp and
// 16 random hex digits. Runs and plans are named with it.
func NewID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return time.Now().UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}
