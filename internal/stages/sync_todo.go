package stages

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/bandercheck/bandercheck/internal/crashpoint"
	"github.com/bandercheck/bandercheck/internal/store"
	"github.com/bandercheck/bandercheck/internal/work"
	"github.com/bandercheck/bandercheck/pipeline"
	"github.com/bandercheck/bandercheck/sinks/mirrorfiles"
	"github.com/bandercheck/bandercheck/sources"
)

// Reasons a project is in sync/todo.
const (
	todoNew     = "new"     // the mirror lacks it
	todoChanged = "changed" // upstream's serial is above the mirror's status serial
	todoNamed   = "named"   // sync NAME...
	todoGone    = "gone"    // on the mirror, no longer upstream (removed with --remove-deleted only)
)

// syncUpstream reads upstream's index into sync/upstream once per sync (a
// resumed sync keeps the list and target serial it began with).
func syncUpstream(ctx context.Context, se *syncEnv) error {
	if se.g.StateDir().Done("sync/upstream") {
		return nil
	}
	client := sources.NewUpstreamClient(se.conf.Sync.Timeout, se.conf.Sync.GlobalTimeout, 2, se.conf.Sync.Proxy)
	tmp := filepath.Join(se.g.State, "tmp")
	err := work.Retry(ctx, se.o.Attempts, se.o.StaleWait, nil, func() error {
		_, err := writeUpstream(ctx, se.g, client, se.base, tmp, "sync upstream", pipeline.MustSpec("sync/upstream"), se.lastUpstream)
		return err
	})
	if err != nil {
		return fmt.Errorf("sync: upstream's index: %w", err)
	}
	crashpoint.Hit("sync-upstream")
	return nil
}

// syncTodo writes sync/todo: the projects to fetch, in normal-name order. A
// project is fetched when upstream's serial for it is above the mirror's
// status serial (bandersnatch's rule) or when the mirror has no simple page
// for it; the fetch stage still skips a changed project whose own page is
// as new as upstream's serial (a mirror bandersnatch left half done).
// Project filters are applied to the names first. Projects on the mirror
// that upstream no longer lists are written as "gone".
func syncTodo(ctx context.Context, se *syncEnv) (int64, error) {
	if se.g.StateDir().Done("sync/todo") {
		return se.run.Todo, nil
	}
	st, err := se.g.StateDir().Stage("sync todo", true, se.g.stageOptions(), pipeline.MustSpec("sync/todo"))
	if err != nil {
		return 0, err
	}
	defer st.Close()
	var n int64
	write := func(row ...string) error {
		if row[3] != todoGone {
			n++
		}
		if err := st.Write(0, row...); err != nil {
			return err
		}
		return st.EndUnit(row[0])
	}
	if len(se.run.Projects) > 0 {
		for _, name := range se.run.Projects {
			if by := se.conf.Filters.ExcludesName(name); by != "" {
				logf(se.g, "sync: %s is excluded by %s", name, by)
				continue
			}
			if err := write(sources.Normalize(name), name, "0", todoNamed); err != nil {
				return 0, err
			}
		}
		se.run.Todo = n
		if err := saveSyncRun(se.g.State, se.run); err != nil {
			return 0, err
		}
		return n, finishTodo(st)
	}
	var (
		local pipeline.RowReader
		rec   *folderRecorder // the names listed, for the end (sync/folders)
		stamp folderStamp
	)
	if fr := se.recordedFolders(); fr != nil {
		local = fr // web/simple unchanged since the last record: its names, unlisted
	} else {
		// web/simple's stamp before it is listed: the record of the names
		// holds while web/simple keeps it, so the end takes them from there
		// unless this sync (a new project) or another hand changed it
		var stamped bool
		stamp, stamped = se.simpleStamp()
		if local, err = localProjects(ctx, se); err != nil {
			return 0, err
		}
		if stamped {
			if rec, err = se.newFolderRecorder(); err != nil {
				return 0, errors.Join(err, local.Close())
			}
			local = rec.teeRows(local)
		}
	}
	defer local.Close()
	defer func() { rec.abort() }() // a recording not saved (nil once it is)
	up, err := se.g.StateDir().Manifest("sync/upstream")
	if err != nil {
		return 0, err
	}
	defer up.Close()
	changed := int64(0)
	se.run.Target = se.run.Status
	err = mergeNames(up, local, func(urow []string, onMirror bool) error {
		if urow == nil {
			return nil // gone rows come from the second pass below
		}
		serial := parseSerial(urow[2])
		se.run.Target = max(se.run.Target, serial)
		if serial > se.run.Status {
			changed++
		}
		if by := se.conf.Filters.ExcludesName(urow[1]); by != "" {
			return nil
		}
		switch {
		case !onMirror:
			return write(urow[0], urow[1], urow[2], todoNew)
		case serial > se.run.Status:
			return write(urow[0], urow[1], urow[2], todoChanged)
		}
		return nil
	}, func(project string) error { return write(project, project, "", todoGone) })
	if err == nil && rec != nil {
		err = se.saveFoldersListed(ctx, rec, stamp)
		rec = nil
	}
	if err != nil {
		return 0, err
	}
	se.run.Changed, se.run.Todo = changed, n
	if err := saveSyncRun(se.g.State, se.run); err != nil {
		return 0, err
	}
	return n, finishTodo(st)
}

func finishTodo(st *pipeline.Stage) error {
	err := st.Finish()
	if err == nil {
		crashpoint.Hit("sync-todo")
	}
	return err
}

// mergeNames walks upstream's rows and the mirror's sorted project names
// together: each upstream row with whether the mirror has it, then gone for
// each mirror project upstream lacks, in order. The rows fn is handed are
// valid during the call only (they are not copied: each reader's row stays
// valid while the other one is read).
func mergeNames(up pipeline.RowReader, local pipeline.RowReader, fn func(urow []string, onMirror bool) error, gone func(string) error) error {
	u, err := peekRow(up)
	if err != nil {
		return err
	}
	l, err := peekRow(local)
	if err != nil {
		return err
	}
	for u != nil || l != nil {
		switch {
		case l == nil || u != nil && u[0] < l[0]:
			if err := fn(u, false); err != nil {
				return err
			}
			u, err = peekRow(up)
		case u == nil || l[0] < u[0]:
			if err := gone(l[0]); err != nil {
				return err
			}
			l, err = peekRow(local)
		default:
			if err := fn(u, true); err != nil {
				return err
			}
			if u, err = peekRow(up); err == nil {
				l, err = peekRow(local)
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// peekRow returns r's next row, valid until r's next call, or nil at the end.
func peekRow(r pipeline.RowReader) ([]string, error) {
	row, err := r.Next()
	if err == io.EOF {
		return nil, nil
	}
	return row, err
}

// nextRow returns a copy of the next row, or nil at the end.
func nextRow(r pipeline.RowReader) ([]string, error) {
	row, err := r.Next()
	if err == io.EOF {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return append([]string(nil), row...), nil
}

// localProjects lists the project folders under web/simple (one level, or
// two with hash-index), sorted and without repeats.
func localProjects(ctx context.Context, se *syncEnv) (pipeline.RowReader, error) {
	s := pipeline.NewSorter(filepath.Join(se.g.State, "tmp"), 32<<20, 1, 0)
	err := eachSimpleDir(ctx, se.store, se.conf.HashIndex, func(d string) error {
		return s.Add([]string{d[strings.LastIndexByte(d, '/')+1:]})
	})
	if err != nil {
		s.Close()
		return nil, err
	}
	sorted, err := s.Sort()
	if err != nil {
		s.Close()
		return nil, err
	}
	return &dedupRows{r: sorted, close: s.Close}, nil
}

// rootIndexMemory is what rootIndexDirs' sort may hold: all of PyPI's
// folders take some 35 MB as sort records, so a few runs are merged.
var rootIndexMemory int64 = 8 << 20

// rootIndexDirs lists web/simple's project folders relative to it
// ("beta", or "b/beta" with hash-index), skipping names that begin with '.',
// in the root index's order (mirrorfiles.RootIndexKey) and once each. The
// names go through an external sort, so memory holds a bounded part of
// them whatever the mirror's size. next returns io.EOF after the last.
func rootIndexDirs(ctx context.Context, se *syncEnv) (next func() (string, error), closeFn func() error, err error) {
	s := pipeline.NewSorter(filepath.Join(se.g.State, "tmp"), rootIndexMemory, 2, 0)
	err = eachSimpleDir(ctx, se.store, se.conf.HashIndex, func(d string) error {
		if k, ok := mirrorfiles.RootIndexKey(d, se.conf.HashIndex); ok {
			return s.Add([]string{k, d})
		}
		return nil
	})
	if err != nil {
		return nil, nil, errors.Join(err, s.Close())
	}
	sorted, err := s.Sort()
	if err != nil {
		return nil, nil, errors.Join(err, s.Close())
	}
	prev, seen := "", false
	next = func() (string, error) {
		for {
			row, err := sorted.Next()
			if err != nil {
				return "", err
			}
			if seen && row[0] == prev {
				continue
			}
			prev, seen = row[0], true
			return row[1], nil
		}
	}
	return next, s.Close, nil
}

// eachSimpleDir calls fn with each of web/simple's project folders, as
// rootIndexDirs names them (in the store's order, repeats possible),
// holding none but the hash folders' names.
func eachSimpleDir(ctx context.Context, ms store.Reader, hashIndex bool, fn func(d string) error) error {
	simpleListings.Add(1)
	var shards []string // the hash folders: one character each
	err := ms.Names(ctx, "web/simple/", func(n string, dir bool) error {
		switch {
		case !dir || strings.HasPrefix(n, "."):
		case hashIndex:
			shards = append(shards, n)
		default:
			return fn(n)
		}
		return nil
	})
	for _, c := range shards {
		if err != nil {
			break
		}
		err = ms.Names(ctx, "web/simple/"+c+"/", func(n string, dir bool) error {
			if dir && !strings.HasPrefix(n, ".") {
				return fn(c + "/" + n)
			}
			return nil
		})
	}
	return err
}

// dedupRows drops repeated rows of a sorted reader.
type dedupRows struct {
	r     pipeline.RowReader
	prev  string
	seen  bool
	close func() error
}

func (d *dedupRows) Next() ([]string, error) {
	for {
		row, err := d.r.Next()
		if err != nil {
			return nil, err
		}
		if d.seen && row[0] == d.prev {
			continue
		}
		d.prev, d.seen = row[0], true
		return row, nil
	}
}

func (d *dedupRows) Close() error { return errors.Join(d.r.Close(), d.close()) }
