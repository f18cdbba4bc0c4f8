package stages

import (
	"context"
	"fmt"
	"strings"

	"github.com/bandercheck/bandercheck/internal/crashpoint"
	"github.com/bandercheck/bandercheck/pipeline"
	"github.com/bandercheck/bandercheck/sinks/mirrorfiles"
	"github.com/bandercheck/bandercheck/sources"
)

// syncFinish ends a sync as bandersnatch's finalize_sync does: projects gone
// upstream are removed first when asked (--remove-deleted), then the root
// index pages are rewritten (unless an incremental sync found nothing to
// do), then, when no project failed and the sync was not for named
// projects, status (the target serial) and web/last-modified, and
// bandersnatch's todo file goes. It can run again after a kill: each step
// writes whole files from what the mirror holds.
func syncFinish(ctx context.Context, se *syncEnv, failed bool) (int64, error) {
	crashpoint.Hit("sync-finish")
	named := len(se.run.Projects) > 0
	var removed int64
	var err error
	if se.o.RemoveDeleted {
		if removed, err = removeGone(ctx, se); err != nil {
			return removed, err
		}
	}
	if named || se.run.Status == 0 || se.run.Changed > 0 || se.run.Todo > 0 || removed > 0 {
		dirs, err := simpleDirs(ctx, se.store, se.conf.HashIndex)
		if err != nil {
			return removed, err
		}
		write, remove := mirrorfiles.RootIndexFiles(dirs, se.run.Status, se.opts)
		for _, o := range write {
			if err := writeOutput(ctx, se.store, o); err != nil {
				return removed, err
			}
		}
		if err := removeKeys(ctx, se.store, remove); err != nil {
			return removed, err
		}
	}
	crashpoint.Hit("sync-index")
	if !failed && !named {
		if st := mirrorfiles.StatusFile(se.run.Target); !sameContent(ctx, se.store, st.Path, st.Data) {
			if err := writeOutput(ctx, se.store, st); err != nil {
				return removed, err
			}
		}
		if err := writeOutput(ctx, se.store, mirrorfiles.LastModifiedFile(se.run.Started)); err != nil {
			return removed, err
		}
		if err := removeKeys(ctx, se.store, []string{"todo"}); err != nil {
			return removed, err
		}
	}
	se.run.Finished = true
	return removed, saveSyncRun(se.g.State, se.run)
}

// removeKeys removes files; one that is already gone is fine.
func removeKeys(ctx context.Context, store Backend, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	errs, err := store.Remove(ctx, keys)
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
func removeGone(ctx context.Context, se *syncEnv) (int64, error) {
	dirs, err := simpleDirs(ctx, se.store, se.conf.HashIndex)
	if err != nil {
		return 0, err
	}
	local := int64(len(dirs))
	limit := se.o.MaxRemoveProjects.Of(local)
	var gone []string // at most limit+1: the guard below refuses more
	err = pipeline.EachRow(se.g.State, "sync/todo", func(row []string) error {
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
		return 0, err
	}
	if int64(len(gone)) > limit {
		return 0, &pipeline.RefusedError{Guards: []string{"max-remove-projects"}, Msg: fmt.Sprintf(
			"sync --remove-deleted: more than %d of the mirror's %d projects are gone upstream (--max-remove-projects %s): nothing was removed; check upstream, or raise the limit", limit, local, se.o.MaxRemoveProjects)}
	}
	var n int64
	for _, p := range gone {
		if err := removeProject(ctx, se, p); err != nil {
			return n, err
		}
		n++
		crashpoint.Hit("sync-remove")
	}
	return n, nil
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
