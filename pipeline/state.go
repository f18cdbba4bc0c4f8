package pipeline

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
)

// State is a handle on one state directory: its run record, its manifests
// and their stage files, the plan summary, the history and what
// STATE/previous keeps. Every stage and command works on STATE through one.
//
// NewState opens nothing. While this process holds the directory's lock
// (Lock), no other process writes it, so what the handle reads of it (each
// manifest's _stage.json and shard journal, the plan summary) is kept until
// this process writes it again through the handle: a command that asks
// about a manifest several times reads it once. A caller that moves or
// removes files under STATE by other means calls Forget. Without the lock
// nothing is kept: every question reads the files.
type State struct {
	dir string

	mu      sync.Mutex
	locked  bool
	gen     uint64               // bumped by every forget: a read that began before one keeps nothing
	files   map[string]keptStage // manifest name -> its stage file as last read, while locked
	summary []byte               // STATE/plan/summary.json as last read, while locked
}

// NewState is a handle on the state directory dir. Nothing is read or
// created until a method needs it.
func NewState(dir string) *State { return &State{dir: dir} }

// Dir is the state directory's path.
func (s *State) Dir() string { return s.dir }

// path is the folder of manifest name (e.g. "plan/delete") or of any other
// slash-separated name under STATE.
func (s *State) path(name string) string { return filepath.Join(s.dir, filepath.FromSlash(name)) }

// Previous is a handle on STATE/previous: the manifests a new check keeps
// of the last one, to read.
func (s *State) Previous() *State { return NewState(filepath.Join(s.dir, PreviousDir)) }

// Lock takes an exclusive flock on STATE/.lock for this process (see
// LockState's rules) and keeps what the handle reads until unlock.
func (s *State) Lock() (unlock func() error, err error) {
	release, err := lockState(s.dir)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.locked, s.files, s.summary = true, map[string]keptStage{}, nil
	s.gen++
	s.mu.Unlock()
	if err := s.removeSortLeftovers(); err != nil {
		return nil, errors.Join(err, release())
	}
	return func() error {
		s.mu.Lock()
		s.locked, s.files, s.summary = false, nil, nil
		s.gen++
		s.mu.Unlock()
		return release()
	}, nil
}

// removeSortLeftovers removes the run folders (STATE/tmp/sort-*) a killed
// process's sorts left behind: under the lock no other sort can be using
// them (report, which takes no lock, sorts in a folder of its own). At full
// size a killed plan leaves some GB there, and nothing else removes them
// but --fresh.
func (s *State) removeSortLeftovers() error {
	dirs, err := filepath.Glob(filepath.Join(s.dir, "tmp", sortDirPrefix+"*"))
	if err != nil {
		return err
	}
	for _, d := range dirs {
		if err := os.RemoveAll(d); err != nil {
			return fmt.Errorf("remove a killed sort's runs %s: %w", d, err)
		}
	}
	return nil
}

// Forget drops what the handle keeps of STATE: for a caller that moved,
// replaced or removed files under it by other means than the handle's.
func (s *State) Forget() {
	s.mu.Lock()
	s.gen++
	clear(s.files)
	s.summary = nil
	s.mu.Unlock()
}

// forget drops what the handle keeps of manifest name (it is being written).
func (s *State) forget(name string) {
	s.mu.Lock()
	s.gen++
	delete(s.files, name)
	s.mu.Unlock()
}

// keptStage is a manifest's stage file as read, or that it has none.
type keptStage struct {
	file StageFile
	err  error // wraps os.ErrNotExist: the manifest was never started
}

// stageFileReads counts the _stage.json files read, for tests.
var stageFileReads atomic.Int64

// StageFile reads STATE/<manifest>/_stage.json and the committed entries of
// its shard journal into one StageFile (Shards filled, whichever format wrote
// it); it returns os.ErrNotExist (wrapped) when the manifest was never
// started. The caller may change what it gets.
func (s *State) StageFile(manifest string) (*StageFile, error) {
	s.mu.Lock()
	if k, ok := s.files[manifest]; ok {
		s.mu.Unlock()
		if k.err != nil {
			return nil, k.err
		}
		return k.file.clone(), nil
	}
	gen, keep := s.gen, s.locked
	s.mu.Unlock()
	d, err := readStage(s.path(manifest), manifest)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err // damage is reported every time it is met
	}
	if keep {
		k := keptStage{err: err}
		if err == nil {
			k.file = *d.file.clone()
		}
		s.mu.Lock()
		if s.locked && s.gen == gen {
			s.files[manifest] = k
		}
		s.mu.Unlock()
	}
	if err != nil {
		return nil, err
	}
	return &d.file, nil
}

// Done tells whether manifest's stage has finished.
func (s *State) Done(manifest string) bool {
	sf, err := s.StageFile(manifest)
	return err == nil && sf.State == StateDone
}

// clone is a copy of sf that shares nothing with it.
func (sf *StageFile) clone() *StageFile {
	c := *sf
	c.Columns, c.Shards = slices.Clone(sf.Columns), slices.Clone(sf.Shards)
	if sf.Finished != nil {
		f := *sf.Finished
		c.Finished = &f
	}
	return &c
}

// PlanSummary reads STATE/plan/summary.json.
func (s *State) PlanSummary() (*PlanSummary, error) {
	path := filepath.Join(s.dir, "plan", SummaryFileName)
	s.mu.Lock()
	data, gen, keep := s.summary, s.gen, s.locked
	s.mu.Unlock()
	if data == nil {
		var err error
		if data, err = os.ReadFile(path); err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
	}
	var sum PlanSummary
	if err := json.Unmarshal(data, &sum); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if keep {
		s.mu.Lock()
		if s.locked && s.gen == gen {
			s.summary = data
		}
		s.mu.Unlock()
	}
	return &sum, nil
}
