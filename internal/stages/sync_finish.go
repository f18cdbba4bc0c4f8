package stages

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/bandercheck/bandercheck/internal/crashpoint"
	"github.com/bandercheck/bandercheck/internal/store"
	"github.com/bandercheck/bandercheck/pipeline"
	"github.com/bandercheck/bandercheck/sinks/mirrorfiles"
	"github.com/bandercheck/bandercheck/sources"
)

// syncFinish ends a sync as bandersnatch's finalize_sync does: projects gone
// upstream are removed first when asked (--remove-deleted), then the root
// index pages are rewritten (unless an incremental sync found nothing to
// do), and the diff file written (diff-file), then, when no project failed and the sync was not for named
// projects, status (the target serial) and web/last-modified, and
// bandersnatch's todo file goes. It can run again after a kill: each step
// writes whole files from what the mirror holds.
func syncFinish(ctx context.Context, se *syncEnv, failed bool) (int64, error) {
	named := len(se.run.Projects) > 0
	if se.o.RemoveDeleted {
		if err := removeGone(ctx, se); err != nil {
			return se.run.Removed, err
		}
	}
	removed := se.run.Removed
	err := se.step("index", func() error {
		if !(named || se.run.Status == 0 || se.run.Changed > 0 || se.run.Todo > 0 || removed > 0) {
			return nil // bandersnatch leaves the index of an incremental sync with nothing to do
		}
		// the folders: the record of the last root index while web/simple
		// is unchanged since (no new project made a folder), else listed
		// and recorded for the next sync
		var (
			dirs      func() (string, error)
			closeDirs func() error
			rec       *folderRecorder
			count     int64
			sum       string
		)
		if fr := se.recordedFolders(); fr != nil {
			dirs, closeDirs, count, sum = fr.next, fr.Close, fr.want, fr.sum
		} else {
			var err error
			if dirs, closeDirs, err = rootIndexDirs(ctx, se); err != nil {
				return err
			}
			if _, ok := se.simpleStamp(); ok {
				if rec, err = se.newFolderRecorder(); err != nil {
					return errors.Join(err, closeDirs())
				}
				dirs = rec.tee(dirs)
			}
		}
		err := writeRootIndex(ctx, se, dirs)
		if err = errors.Join(err, closeDirs()); err == nil {
			_, _, remove := mirrorfiles.RootIndexPages(se.opts)
			se.run.IndexWritten = true
			err = removeKeys(ctx, se.store, remove)
		}
		if err != nil {
			rec.abort()
			return err
		}
		return se.saveFolders(ctx, rec, count, sum)
	})
	if err == nil && se.run.DiffFile != "" {
		err = se.step("diff", func() error { return writeDiffFile(ctx, se) })
	}
	if err != nil {
		return removed, err
	}
	if failed || named { // done, without a serial: the next sync starts over from the status serial
		se.run.Finished = true
		return removed, saveSyncRun(se.g.State, se.run)
	}
	err = se.step("status", func() error {
		if st := mirrorfiles.StatusFile(se.run.Target); !sameContent(ctx, se.store, st.Path, st.Data) {
			return writeOutput(ctx, se.store, st)
		}
		return nil
	})
	if err == nil {
		err = se.step("last-modified", func() error {
			if err := writeOutput(ctx, se.store, mirrorfiles.LastModifiedFile(se.run.Started)); err != nil {
				return err
			}
			return removeKeys(ctx, se.store, []string{"todo"})
		})
	}
	if err != nil {
		return removed, err
	}
	se.run.Finished = true
	return removed, saveSyncRun(se.g.State, se.run)
}

// step runs one step of the end once per sync: it is recorded in
// STATE/sync/run.json when done, and a resumed end skips it.
func (se *syncEnv) step(name string, fn func() error) error {
	if slices.Contains(se.run.Steps, name) {
		return nil
	}
	if err := fn(); err != nil {
		return err
	}
	se.run.Steps = append(se.run.Steps, name)
	if err := saveSyncRun(se.g.State, se.run); err != nil {
		return err
	}
	crashpoint.Hit("sync-" + name)
	return nil
}

// removeKeys removes files; one that is already gone is fine.
func removeKeys(ctx context.Context, ms store.Store, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	errs, err := ms.Remove(ctx, keys)
	if err != nil {
		return err
	}
	for i, e := range errs {
		if e != nil {
			return fmt.Errorf("remove %s: %w", keys[i], e)
		}
	}
	return nil
}

// removeGone removes the projects upstream no longer lists (sync/todo's
// "gone" rows), as a mirror that follows upstream at once does: the files
// their simple page lists, web/json/<name>, web/pypi/<name>/ and the simple
// folder. More than --max-remove-projects of the mirror's projects is
// refused: an upstream that lost that many is taken for a fault.
func removeGone(ctx context.Context, se *syncEnv) error {
	if slices.Contains(se.run.Steps, "remove") {
		return nil
	}
	var n int64
	err := eachSimpleDir(ctx, se.store, se.conf.HashIndex, func(string) error { n++; return nil })
	if err != nil {
		return err
	}
	local := n + se.run.Removed // as many as before the first removal
	limit := se.o.MaxRemoveProjects.Of(local)
	var gone []string // at most limit+1: the guard below refuses more
	err = se.g.StateDir().EachRow("sync/todo", func(row []string) error {
		if row[todoReason] != todoGone {
			return nil
		}
		gone = append(gone, row[todoProject])
		if int64(len(gone)) > limit {
			return errTooMany
		}
		return nil
	})
	if err != nil && err != errTooMany {
		return err
	}
	if int64(len(gone)) > limit {
		return &pipeline.RefusedError{Guards: []string{"max-remove-projects"}, Msg: fmt.Sprintf(
			"sync --remove-deleted: more than %d of the mirror's %d projects are gone upstream (--max-remove-projects %s): nothing was removed; check upstream, or raise the limit", limit, local, se.o.MaxRemoveProjects)}
	}
	for _, p := range gone[se.run.Removed:] {
		if err := removeProject(ctx, se, p); err != nil {
			return err
		}
		se.run.Removed++
		if err := saveSyncRun(se.g.State, se.run); err != nil {
			return err
		}
		crashpoint.Hit("sync-remove")
	}
	return se.step("remove", func() error { return nil })
}

var errTooMany = fmt.Errorf("too many projects gone")

// removeProject removes one project's files and pages.
func removeProject(ctx context.Context, se *syncEnv, project string) error {
	dir := mirrorfiles.SimpleDir(project, se.conf.HashIndex)
	var keys []string
	for _, page := range []string{"index.v1_json", "index.html"} {
		r, err := se.store.Open(ctx, dir+page)
		if err != nil {
			continue
		}
		collect := func(f sources.File) error {
			if strings.HasPrefix(f.Path, "web/packages/") {
				keys = append(keys, f.Path)
				if f.MetadataDigests != nil {
					keys = append(keys, f.Path+".metadata")
				}
			}
			return nil
		}
		if page == "index.v1_json" {
			_, err = sources.ParseSimpleJSON(r, project, collect)
		} else {
			_, err = sources.ParseSimpleHTML(r, project, collect)
		}
		r.Close()
		if err == nil {
			break
		}
		keys = keys[:0]
	}
	keys = append(keys, "web/json/"+project)
	if err := removeKeys(ctx, se.store, keys); err != nil {
		return fmt.Errorf("sync --remove-deleted %s: %w", project, err)
	}
	for _, tree := range []string{"web/pypi/" + project + "/", dir} {
		if err := se.store.RemoveTree(ctx, tree); err != nil {
			return fmt.Errorf("sync --remove-deleted %s: %w", project, err)
		}
	}
	return nil
}

// writeRootIndex streams the root index pages into the store as they are
// made (at all of PyPI, index.html alone is some 50 MB) from the sorted
// folders dirs yields: no page and no list of names is held. Each page
// becomes visible complete, or not at all.
func writeRootIndex(ctx context.Context, se *syncEnv, dirs func() (string, error)) error {
	htmlPaths, jsPaths, _ := mirrorfiles.RootIndexPages(se.opts)
	var ups []store.Upload
	abort := func(err error) error {
		for _, up := range ups {
			err = errors.Join(err, up.Abort())
		}
		return err
	}
	open := func(paths []string) (io.Writer, error) {
		var ws []io.Writer
		for _, p := range paths {
			up, err := se.store.Create(ctx, p, store.Meta{Mode: 0o644})
			if err != nil {
				return nil, fmt.Errorf("write %s: %w", p, err)
			}
			ups = append(ups, up)
			ws = append(ws, up)
		}
		return io.MultiWriter(ws...), nil
	}
	html, err := open(htmlPaths)
	if err != nil {
		return abort(err)
	}
	js, err := open(jsPaths)
	if err != nil {
		return abort(err)
	}
	if err := mirrorfiles.WriteRootIndex(dirs, se.run.Status, se.opts, html, js); err != nil {
		return abort(fmt.Errorf("write the root index: %w", err))
	}
	for i, up := range ups {
		if err := up.Commit(ctx); err != nil {
			for _, rest := range ups[i+1:] {
				_ = rest.Abort()
			}
			return fmt.Errorf("write the root index: %w", err)
		}
	}
	return nil
}
