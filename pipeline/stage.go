package pipeline

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/bandercheck/bandercheck/internal/crashpoint"
	"github.com/bandercheck/bandercheck/internal/safefs"
)

// Stage states recorded in _stage.json.
const (
	StateRunning = "running"
	StateDone    = "done"
)

// StageFileName is the name of a manifest's state file.
const StageFileName = "_stage.json"

// ShardInfo records one committed shard.
type ShardInfo struct {
	File   string `json:"file"`
	Rows   int    `json:"rows"`
	Bytes  int64  `json:"bytes"`
	Commit int    `json:"commit"`
	Cursor string `json:"cursor"`
}

// StageFile is a manifest's state: _stage.json and its shard journal.
type StageFile struct {
	Manifest string   `json:"manifest"`
	Stage    string   `json:"stage"`
	Columns  []string `json:"columns"`
	State    string   `json:"state"`
	// Shards lists the committed shards. ReadStageFile fills it from the
	// shard journal (ShardJournalName); _stage.json itself holds only
	// Journal, the count of the journal's committed entries. (_stage.json
	// written before the journal lists the shards here; they are read as
	// they are and moved to a journal when the stage resumes.)
	Shards   []ShardInfo `json:"shards,omitempty"`
	Journal  int         `json:"journal"`
	Rows     int64       `json:"rows"`
	Cursor   string      `json:"cursor"`
	Commit   int         `json:"commit"`
	Started  time.Time   `json:"started"`
	Updated  time.Time   `json:"updated"`
	Finished *time.Time  `json:"finished,omitempty"`
	// Open and OpenPrev: of a manifest whose shards are cut at its own row
	// count (StageOptions.OwnCuts), the rows of its open shard as of this
	// commit and as of the one before, kept in OpenRowsFile.
	Open     *OpenRows `json:"open,omitempty"`
	OpenPrev *OpenRows `json:"open_prev,omitempty"`
}

// OpenRows counts the first Bytes of OpenRowsFile: Rows rows of CSV.
type OpenRows struct {
	Rows  int   `json:"rows"`
	Bytes int64 `json:"bytes"`
}

// OpenRowsFile holds, as CSV with no header, the committed rows of the open
// shard of a manifest cut at its own row count: appended and synced at each
// commit of the stage; only the first StageFile.Open.Bytes count. A stage
// resumes the open shard from them.
const OpenRowsFile = "_open.csv"

// part is one manifest written by a stage.
type part struct {
	spec     Spec
	dir      string
	file     StageFile
	legacy   bool    // read from a _stage.json that lists its shards inside
	ends     []int64 // where each committed journal entry ends
	header   []byte
	cur      *shardWriter
	unit     []byte // CSV of the rows of the current unit
	unitRows int
	direct   bool // the open shard holds only the current (large) unit
	// own: the shard is cut at this manifest's own row count, and stays
	// open across the stage's commits; since holds its rows added since
	// the last commit, for OpenRowsFile
	own   bool
	since []byte
	open  OpenRows // the committed part of the open shard (OpenRowsFile)
}

// unitSpill is the size of buffered unit rows beyond which a unit is written
// straight into a shard of its own, so memory does not grow with a unit.
const unitSpill = 4 << 20

// Stage writes one or more manifests that are committed together. Rows are
// written in units (a file, a project); a unit is never split across shards
// and the cursor names the last complete unit. A kill at any moment loses at
// most the open shard of each manifest.
type Stage struct {
	state     *State
	name      string
	parts     []*part
	shardRows int
	cursor    string
	commit    int
	done      bool
	now       func() time.Time
	resumable bool // opened to resume: crash points count (a stage opened fresh starts over anyway)
	// beforeCommit makes what a commit's rows stand for durable (StageOptions)
	beforeCommit func() error
	closed       bool // Close ran: nothing more is written
}

// StageOptions tune a Stage; the zero value is the default.
type StageOptions struct {
	ShardRows int              // rows per shard, ShardRows when 0
	Now       func() time.Time // clock, time.Now when nil
	// BeforeCommit, when set, runs before each commit is recorded: what the
	// rows of the commit stand for (files written without a sync of their
	// own) is made durable first.
	BeforeCommit func() error
	// OwnCuts names manifests whose shards are cut at their own ShardRows,
	// not whenever another manifest of the stage fills one: a sparse
	// manifest beside a dense one (projects beside designated) then gets
	// full shards. The committed rows of its open shard are kept in
	// OpenRowsFile at each commit, so a kill still loses at most a shard of
	// the densest manifest's work.
	OwnCuts []string
}

// Stage opens (or resumes) stage name writing the given manifests under
// STATE. Shards not recorded in _stage.json and .tmp files are removed;
// manifests that committed further than the others are cut back so that all
// resume from the same cursor. With fresh, all previous output is removed.
func (st *State) Stage(name string, fresh bool, opt StageOptions, specs ...Spec) (*Stage, error) {
	s := &Stage{state: st, name: name, shardRows: opt.ShardRows, now: opt.Now, resumable: !fresh, beforeCommit: opt.BeforeCommit}
	if s.shardRows <= 0 {
		s.shardRows = ShardRows
	}
	if s.now == nil {
		s.now = time.Now
	}
	for _, spec := range specs {
		p := &part{spec: spec, dir: st.path(spec.Name), own: slices.Contains(opt.OwnCuts, spec.Name)}
		st.forget(spec.Name)
		if fresh {
			if err := os.RemoveAll(p.dir); err != nil {
				return nil, fmt.Errorf("stage %s: start over: %w", name, err)
			}
		}
		if err := os.MkdirAll(p.dir, 0o700); err != nil {
			return nil, fmt.Errorf("stage %s: %w", name, err)
		}
		d, err := readStage(p.dir, spec.Name)
		switch {
		case errors.Is(err, os.ErrNotExist):
			d = &stageOnDisk{}
		case err != nil:
			return nil, fmt.Errorf("stage %s: %w", name, err)
		case !slices.Equal(d.file.Columns, spec.Columns):
			return nil, &UsageError{Msg: fmt.Sprintf("stage %s: %s has columns %v, expected %v: it was written by another version; start over with --fresh",
				name, p.dir, d.file.Columns, spec.Columns)}
		}
		p.file, p.legacy, p.ends = d.file, d.legacy, d.ends
		p.header = appendCSVRecord(nil, spec.Columns)
		s.parts = append(s.parts, p)
	}
	if err := s.reconcile(); err != nil {
		return nil, err
	}
	return s, nil
}

// reconcile brings all parts to the same commit and removes unrecorded files.
func (s *Stage) reconcile() error {
	minCommit, maxCommit, anyDone := -1, 0, false
	cursor := ""
	for _, p := range s.parts {
		if minCommit < 0 || p.file.Commit < minCommit {
			minCommit, cursor = p.file.Commit, p.file.Cursor
		}
		maxCommit = max(maxCommit, p.file.Commit)
		anyDone = anyDone || p.file.State == StateDone
	}
	s.commit, s.cursor = minCommit, cursor
	s.done = anyDone && minCommit == maxCommit
	now := s.now().UTC()
	for _, p := range s.parts {
		// the open shard's committed rows as of minCommit: a part is at
		// most one commit ahead of the others ("partial")
		var open OpenRows
		switch {
		case p.file.Commit == minCommit && p.file.Open != nil:
			open = *p.file.Open
		case p.file.Commit == minCommit+1 && p.file.OpenPrev != nil:
			open = *p.file.OpenPrev
		}
		p.file.Open, p.file.OpenPrev = nil, nil
		if p.own {
			p.file.Open = &open
		}
		kept := p.file.Shards[:0]
		var rows int64
		for _, sh := range p.file.Shards {
			if sh.Commit <= minCommit {
				kept = append(kept, sh)
				rows += int64(sh.Rows)
			}
		}
		p.file.Shards, p.file.Rows = kept, rows
		p.file.Commit, p.file.Cursor = minCommit, cursor
		p.file.Manifest, p.file.Stage, p.file.Columns = p.spec.Name, s.name, p.spec.Columns
		if p.file.Started.IsZero() {
			p.file.Started = now
		}
		if s.done {
			p.file.State = StateDone
			if p.file.Finished == nil {
				p.file.Finished = &now
			}
		} else {
			p.file.State, p.file.Finished = StateRunning, nil
		}
		p.file.Updated = now
		err := p.record()
		s.state.forget(p.spec.Name)
		if err != nil {
			return fmt.Errorf("stage %s: %w", s.name, err)
		}
		if err := removeUnrecorded(p.dir, p.file.Shards); err != nil {
			return fmt.Errorf("stage %s: %w", s.name, err)
		}
		if err := s.reopen(p, open); err != nil {
			return fmt.Errorf("stage %s: %w", s.name, err)
		}
	}
	return nil
}

// reopen resumes the open shard of a manifest cut at its own row count from
// the committed rows of OpenRowsFile, and cuts the file to them.
func (s *Stage) reopen(p *part, open OpenRows) error {
	if !p.own {
		return nil
	}
	path := filepath.Join(p.dir, OpenRowsFile)
	if s.done {
		return nil
	}
	var rows []byte
	if open.Bytes > 0 {
		f, err := safefs.OpenRegularNoFollow(path)
		if err != nil {
			return fmt.Errorf("%s records %d rows of the open shard in %s: %w (the state is damaged: %s)", StageFileName, open.Rows, OpenRowsFile, err, RerunAdvice(p.spec.Name))
		}
		// the size recorded is checked against the file before it is
		// allocated: a damaged record must not ask for more than is there
		if fi, err := f.Stat(); err != nil || fi.Size() < open.Bytes {
			f.Close()
			return fmt.Errorf("%s records %d bytes of the open shard, more than %s holds (the state is damaged: %s)", StageFileName, open.Bytes, OpenRowsFile, RerunAdvice(p.spec.Name))
		}
		rows = make([]byte, open.Bytes)
		_, err = io.ReadFull(f, rows)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s records %d bytes of the open shard in %s: %w (the state is damaged: %s)", StageFileName, open.Bytes, OpenRowsFile, err, RerunAdvice(p.spec.Name))
		}
	}
	if err := cutFile(path, open.Bytes); err != nil {
		return err
	}
	p.open, p.since = open, p.since[:0]
	if open.Rows == 0 {
		return nil
	}
	w, err := createShard(p.dir, len(p.file.Shards)+1, p.header)
	if err != nil {
		return err
	}
	if err := w.write(rows, open.Rows); err != nil {
		return errors.Join(err, w.abort())
	}
	p.cur = w
	return nil
}

// record writes the part's state as reconciled: _stage.json first, then the
// journal cut to its committed entries (so a kill between leaves entries
// beyond the count, which are ignored). A state that listed its shards in
// _stage.json gets a journal first.
func (p *part) record() error {
	if p.legacy {
		if err := writeStageFull(p.dir, &p.file); err != nil {
			return err
		}
		p.legacy = false
		return nil
	}
	if err := writeStageSummary(p.dir, &p.file); err != nil {
		return err
	}
	var end int64
	if n := len(p.file.Shards); n > 0 {
		end = p.ends[n-1]
	}
	p.ends = nil // not needed once the journal is cut
	return cutJournal(p.dir, end)
}

// removeUnrecorded deletes shard files and .tmp files that shards does not name.
func removeUnrecorded(dir string, shards []ShardInfo) error {
	keep := make(map[string]bool, len(shards))
	for _, sh := range shards {
		keep[sh.File] = true
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || keep[n] || !(strings.HasSuffix(n, ".csv.zst") || strings.HasSuffix(n, ".tmp")) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, n)); err != nil {
			return fmt.Errorf("discard unrecorded %s: %w", n, err)
		}
	}
	return nil
}

// Cursor is the last complete unit recorded; empty when starting from scratch.
func (s *Stage) Cursor() string { return s.cursor }

// Done reports whether the stage finished in an earlier run.
func (s *Stage) Done() bool { return s.done }

// Rows is the number of committed rows in manifest i: those of its closed
// shards and, of a manifest cut at its own row count, the committed rows of
// its open shard (a resumed scan counts its progress from here).
func (s *Stage) Rows(i int) int64 {
	p := s.parts[i]
	return p.file.Rows + int64(p.open.Rows)
}

// Write adds a row to manifest i (the index in OpenStage's specs) within the current unit.
func (s *Stage) Write(i int, row ...string) error {
	if s.closed {
		return s.errClosed()
	}
	p := s.parts[i]
	if len(row) != len(p.spec.Columns) {
		return fmt.Errorf("stage %s: %s row has %d fields, want %d", s.name, p.spec.Name, len(row), len(p.spec.Columns))
	}
	p.unit = appendCSVRecord(p.unit, row)
	p.unitRows++
	if len(p.unit) > unitSpill {
		return s.spillUnit(p)
	}
	return nil
}

// spillUnit moves a large unit's buffered rows into a shard of its own.
func (s *Stage) spillUnit(p *part) error {
	if s.closed {
		return s.errClosed()
	}
	if !p.direct {
		open := false
		for _, q := range s.parts {
			open = open || (q.cur != nil && !q.direct)
		}
		if open {
			if err := s.commitShards(s.cursor, p, false); err != nil {
				return err
			}
		}
		w, err := createShard(p.dir, len(p.file.Shards)+1, p.header)
		if err != nil {
			return fmt.Errorf("stage %s: %w", s.name, err)
		}
		p.cur, p.direct = w, true
	}
	if err := p.cur.write(p.unit, p.unitRows); err != nil {
		return fmt.Errorf("stage %s: %w", s.name, err)
	}
	p.unit = p.unit[:0]
	p.unitRows = 0
	return nil
}

// DiscardUnit drops every row written since the last EndUnit.
func (s *Stage) DiscardUnit() error {
	var errs []error
	for _, p := range s.parts {
		p.unit = p.unit[:0]
		p.unitRows = 0
		if p.direct {
			errs = append(errs, p.cur.abort())
			p.cur, p.direct = nil, false
		}
	}
	return errors.Join(errs...)
}

// EndUnit marks the rows written since the last EndUnit as one complete unit
// named by cursor, and commits shards when they are full.
func (s *Stage) EndUnit(cursor string) error {
	if s.closed {
		return s.errClosed()
	}
	full := false
	for _, p := range s.parts {
		if p.cur != nil && !p.direct && p.cur.rows+p.unitRows > s.shardRows {
			full = true
		}
	}
	if full {
		if err := s.commitShards(s.cursor, nil, false); err != nil {
			return err
		}
	}
	for _, p := range s.parts {
		if p.unitRows == 0 {
			continue
		}
		if p.cur == nil {
			w, err := createShard(p.dir, len(p.file.Shards)+1, p.header)
			if err != nil {
				return fmt.Errorf("stage %s: %w", s.name, err)
			}
			p.cur = w
		}
		if err := p.cur.write(p.unit, p.unitRows); err != nil {
			return fmt.Errorf("stage %s: %w", s.name, err)
		}
		if p.own {
			p.since = append(p.since, p.unit...)
		}
		p.unit = p.unit[:0]
		p.unitRows = 0
	}
	s.cursor = cursor
	for _, p := range s.parts {
		if p.cur != nil && (p.direct || p.cur.rows >= s.shardRows) {
			return s.commitShards(cursor, nil, false)
		}
	}
	return nil
}

// commitShards closes every open shard and records the commit: an entry
// appended to each manifest's shard journal, then each _stage.json (of a
// constant size) rewritten with the journal's new count. The open shard of a
// manifest cut at its own row count stays open unless it is full, it is
// closing's, or the stage is finishing (final): its rows since the last
// commit are appended to its OpenRowsFile instead.
func (s *Stage) commitShards(cursor string, closing *part, final bool) error {
	if s.beforeCommit != nil {
		if err := s.beforeCommit(); err != nil {
			return fmt.Errorf("stage %s: %w", s.name, err)
		}
	}
	s.commit++
	now := s.now().UTC()
	fresh := make([]bool, len(s.parts)) // parts that got a new shard
	carried := make([]bool, len(s.parts))
	for i, p := range s.parts {
		if p.cur != nil && p.own && !final && p != closing && !p.direct && p.cur.rows < s.shardRows && p.cur.rows+p.unitRows <= s.shardRows {
			carried[i] = true
			continue
		}
		if p.cur != nil {
			fresh[i] = true
			size, err := p.cur.commit()
			if err != nil {
				p.cur = nil
				return fmt.Errorf("stage %s: %w", s.name, err)
			}
			// p.file.Shards grows by one entry a commit (a few dozen bytes,
			// 2,000 or so at the index's full size); only the entry is written
			p.file.Shards = append(p.file.Shards, ShardInfo{
				// a copy of the name alone: Base's substring kept the
				// shard's whole path for as long as the stage lives
				File: strings.Clone(filepath.Base(p.cur.final)), Rows: p.cur.rows, Bytes: size, Commit: s.commit, Cursor: cursor,
			})
			p.file.Rows += int64(p.cur.rows)
			p.cur, p.direct = nil, false
			if err := syncDir(p.dir); err != nil {
				return fmt.Errorf("stage %s: %w", s.name, err)
			}
		}
	}
	if s.resumable && slices.Contains(fresh, true) {
		// once a commit, not once a shard: a stage of several manifests
		// renames several shards in one commit, and "renamed:2" must land
		// on the next commit so that each run records one
		crashpoint.Hit("renamed") // shards in place that _stage.json does not record yet
	}
	for i, p := range s.parts {
		if fresh[i] {
			if err := appendJournal(p.dir, p.file.Shards[len(p.file.Shards)-1]); err != nil {
				return fmt.Errorf("stage %s: %w", s.name, err)
			}
		}
	}
	if s.resumable && slices.Contains(fresh, true) {
		crashpoint.Hit("journaled") // journal entries past what _stage.json counts
	}
	for i, p := range s.parts {
		if !p.own {
			continue
		}
		prev := p.open
		switch {
		case carried[i] && len(p.since) > 0:
			if err := appendFile(filepath.Join(p.dir, OpenRowsFile), p.since); err != nil {
				return fmt.Errorf("stage %s: %w", s.name, err)
			}
			p.open = OpenRows{Rows: p.cur.rows, Bytes: p.open.Bytes + int64(len(p.since))}
		case !carried[i]:
			p.open = OpenRows{} // closed (or none open)
		}
		p.since = p.since[:0]
		open := p.open
		p.file.Open, p.file.OpenPrev = &open, &prev
	}
	for i, p := range s.parts {
		p.file.Commit, p.file.Cursor, p.file.Updated = s.commit, cursor, now
		err := writeStageSummary(p.dir, &p.file)
		s.state.forget(p.spec.Name)
		if err != nil {
			return fmt.Errorf("stage %s: %w", s.name, err)
		}
		if s.resumable && i == 0 && len(s.parts) > 1 && slices.Contains(fresh, true) {
			crashpoint.Hit("partial") // one manifest a commit ahead of the others
		}
	}
	for i, p := range s.parts {
		// a closed shard's rows are no longer needed: every manifest
		// recorded the commit that closed it
		if p.own && !carried[i] && p.file.OpenPrev.Bytes > 0 {
			if err := cutFile(filepath.Join(p.dir, OpenRowsFile), 0); err != nil {
				return fmt.Errorf("stage %s: %w", s.name, err)
			}
		}
	}
	if s.resumable && slices.Contains(fresh, true) {
		crashpoint.Hit("shard")
	}
	return nil
}

// Finish commits what is left and marks every manifest of the stage done.
// Rows written after the last EndUnit are dropped.
func (s *Stage) Finish() error {
	if s.closed {
		return s.errClosed()
	}
	if err := s.DiscardUnit(); err != nil {
		return err
	}
	if err := s.commitShards(s.cursor, nil, true); err != nil {
		return err
	}
	now := s.now().UTC()
	for _, p := range s.parts {
		p.file.State, p.file.Finished, p.file.Updated = StateDone, &now, now
		p.file.Open, p.file.OpenPrev = nil, nil
		err := writeStageSummary(p.dir, &p.file)
		s.state.forget(p.spec.Name)
		if err != nil {
			return fmt.Errorf("stage %s: %w", s.name, err)
		}
	}
	for _, p := range s.parts {
		if p.own {
			if err := os.Remove(filepath.Join(p.dir, OpenRowsFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("stage %s: %w", s.name, err)
			}
		}
	}
	s.done = true
	return nil
}

// Close abandons open shards (their .tmp files are removed); committed work
// stays. A closed stage keeps no list of its shards: whatever still holds it
// holds a few fields, not an entry (a name and a cursor) for every shard the
// stage wrote (2,000 or so for all of PyPI's storage). Rows, Cursor and Done
// still answer.
func (s *Stage) Close() error {
	errs := []error{s.DiscardUnit()}
	for _, p := range s.parts {
		if p.cur != nil {
			errs = append(errs, p.cur.abort())
			p.cur = nil
		}
		p.file.Shards, p.ends, p.unit, p.since = nil, nil, nil, nil
	}
	s.closed = true
	return errors.Join(errs...)
}

// errClosed refuses a write to a closed stage (its shard list is gone).
func (s *Stage) errClosed() error {
	return fmt.Errorf("stage %s: written after Close (a bug: open the stage again to go on)", s.name)
}
