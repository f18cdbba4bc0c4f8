package stages

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/bandercheck/bandercheck/internal/crashpoint"
	"github.com/bandercheck/bandercheck/internal/store"
	"github.com/bandercheck/bandercheck/internal/work"
	"github.com/bandercheck/bandercheck/pipeline"
	"github.com/bandercheck/bandercheck/sinks"
	"github.com/bandercheck/bandercheck/sinks/mirrorfiles"
	"github.com/bandercheck/bandercheck/sources"
)

// Results of a project in sync/projects.
const (
	syncedOK       = "synced"    // written: documents, files and pages
	syncedCurrent  = "current"   // its own page is as new as upstream's serial: not fetched
	syncedNotFound = "not-found" // upstream answered 404: skipped, as bandersnatch does
	syncedFiltered = "filtered"  // a metadata filter excludes it: nothing written
	syncedFailed   = "failed"    // a problem row says why; status is not advanced
)

// Columns of sync/todo.
const (
	todoProject, todoName, todoSerial, todoReason = 0, 1, 2, 3
)

// fetchTally counts what the fetch stage did in this process and before.
type fetchTally struct{ synced, failed, downloaded int64 }

// syncOutcome is what one project's sync produced, committed as one unit.
type syncOutcome struct {
	project  string
	serial   string
	result   string
	err      string
	files    [][]string // sync/files rows
	written  []string   // sync/written: the documents and pages written, as the diff file lists them
	problems [][]string // problems/sync rows
	reached  bool       // upstream answered (anything but a dropped connection or a 5xx)
}

// syncFetch fetches every project of sync/todo after the stage's cursor,
// `workers` at once, and commits each project's rows in todo order: a kill
// loses at most the uncommitted projects, which the next sync redoes
// (their files already in place are not fetched again).
func syncFetch(ctx context.Context, se *syncEnv) (fetchTally, error) {
	var t fetchTally
	specs := []pipeline.Spec{pipeline.MustSpec("sync/projects"), pipeline.MustSpec("sync/files"), pipeline.MustSpec("problems/sync"), pipeline.MustSpec("sync/written")}
	opt := se.g.stageOptions()
	if f, ok := se.store.(store.Flusher); ok {
		// pages and documents are written Deferred: one flush a commit
		// makes them durable before their rows are recorded
		opt.BeforeCommit = func() error { return f.Flush(ctx) }
	}
	st, err := se.g.StateDir().Stage("sync fetch", false, opt, specs...)
	if err != nil {
		return t, err
	}
	defer st.Close()
	if err := tallyProjects(se.g.StateDir(), &t); err != nil {
		return t, err
	}
	if st.Done() {
		return t, nil
	}
	todo, err := se.g.StateDir().Manifest("sync/todo")
	if err != nil {
		return t, err
	}
	defer todo.Close()
	workers := se.conf.Sync.Workers
	if se.o.Workers > 0 {
		workers = se.o.Workers
	}
	workers = max(workers, 1)
	p := newProjectSyncer(se, workers)
	rep := se.g.reporter("sync fetch", "projects")
	defer rep.Finish()
	cursor := st.Cursor()
	var failedRun, answered int64 // consecutive projects upstream did not answer; projects it did
	var lastFail string
	err = work.OrderedMap(ctx, workers, func(ctx context.Context, emit func([]string) error) error {
		for {
			row, err := nextRow(todo)
			if err != nil || row == nil {
				return err
			}
			if row[todoProject] <= cursor || row[todoReason] == todoGone {
				continue
			}
			if err := emit(row); err != nil {
				return err
			}
		}
	}, p.sync, func(o syncOutcome) error {
		if err := st.Write(0, o.project, o.serial, o.result, strconv.Itoa(len(o.files)), o.err); err != nil {
			return err
		}
		for _, f := range o.files {
			if f[6] == "downloaded" {
				t.downloaded++
			}
			if err := st.Write(1, f...); err != nil {
				return err
			}
		}
		for _, pr := range o.problems {
			if err := st.Write(2, pr...); err != nil {
				return err
			}
		}
		for _, w := range o.written {
			if err := st.Write(3, w, o.project); err != nil {
				return err
			}
		}
		if err := st.EndUnit(o.project); err != nil {
			return err
		}
		crashpoint.Hit("sync-project")
		rep.Add(1, 0)
		if o.result == syncedFailed {
			t.failed++
			logf(se.g, "sync: %s: %s", o.project, o.err)
		} else {
			t.synced++
		}
		if o.reached {
			answered, failedRun = answered+1, 0
		} else {
			failedRun++
			lastFail = o.err
		}
		if answered == 0 && failedRun >= int64(max(10, 2*workers)) {
			return fmt.Errorf("sync: upstream %s answered none of the first %d projects (last: %s): is it down? nothing was written; run sync again later", se.base, failedRun, lastFail)
		}
		if o.result == syncedFailed && se.conf.Sync.StopOnError {
			return fmt.Errorf("sync: stop-on-error: %s: %s", o.project, o.err)
		}
		return nil
	})
	if err != nil {
		return t, err
	}
	return t, st.Finish()
}

// tallyProjects counts the projects an earlier run of the stage committed.
func tallyProjects(state *pipeline.State, t *fetchTally) error {
	sf, err := state.StageFile("sync/projects")
	if err != nil || sf.Rows == 0 {
		return nil
	}
	if err := state.EachRow("sync/projects", func(row []string) error {
		if row[2] == syncedFailed {
			t.failed++
		} else {
			t.synced++
		}
		return nil
	}); err != nil {
		return err
	}
	return state.EachRow("sync/files", func(row []string) error {
		if row[6] == "downloaded" {
			t.downloaded++
		}
		return nil
	})
}

// projectSyncer syncs one project as bandersnatch's process_package does.
type projectSyncer struct {
	se       *syncEnv
	upstream *sources.Upstream
	fetch    *sinks.Fetcher
	requests atomic.Int64
}

func newProjectSyncer(se *syncEnv, workers int) *projectSyncer {
	s := se.conf.Sync
	client := sources.NewUpstreamClient(s.Timeout, s.GlobalTimeout, 2*workers, s.Proxy)
	return &projectSyncer{
		se:       se,
		upstream: &sources.Upstream{Base: se.base, Client: client, Attempts: se.o.Attempts, StaleWait: se.o.StaleWait, IdleTimeout: s.Timeout},
		fetch: &sinks.Fetcher{Client: client, Upstream: se.base, Mirror: se.conf.DownloadMirror, NoFallback: se.conf.DownloadMirrorNoFallback,
			Attempts: 3, Backoff: se.o.StaleWait, Deferred: true}, // flushed before each commit
	}
}

// sync fetches, filters and writes one project. Only a fault of the mirror
// (a full disk) or ctx is an error; anything about the project is a
// problem row and the sync goes on.
func (p *projectSyncer) sync(ctx context.Context, row []string) (syncOutcome, error) {
	name, raw, reason := row[todoProject], row[todoName], row[todoReason]
	serial := max(parseSerial(row[todoSerial]), 0)
	o := syncOutcome{project: name, serial: row[todoSerial], reached: true}
	fail := func(path, msg string) {
		o.result, o.err = syncedFailed, msg
		o.problems = append(o.problems, []string{path, "sync fetch", msg, ""})
	}
	// refused tells a document or page the server refused as altered on
	// the way (*store.CorruptUploadError), which fails the project, as a
	// release file does: nothing was stored at its key, the status serial
	// is not advanced, and the next sync writes it again
	refused := func(err error) bool {
		var ce *store.CorruptUploadError
		if !errors.As(err, &ce) {
			return false
		}
		fail(ce.Key, fmt.Sprintf("%s: %v", name, err))
		return true
	}
	if reason == todoChanged && serial > 0 {
		if have, page := localSerial(ctx, p.se.store, p.se.opts, name); have >= serial && !p.writtenByThisSync(ctx, page) {
			o.result = syncedCurrent
			return o, nil
		}
	}
	doc, err := p.upstream.Project(ctx, name, serial)
	switch {
	case ctx.Err() != nil:
		return o, ctx.Err()
	case errors.Is(err, sources.ErrNotFound):
		o.result = syncedNotFound
		return o, nil
	case err != nil:
		var stale *sources.StaleError
		var re *work.RetryableError
		o.reached = errors.As(err, &stale) || !errors.As(err, &re)
		fail(name, err.Error())
		return o, nil
	}
	proj, perr := mirrorfiles.Prepare(doc, raw, p.se.opts)
	if proj == nil {
		fail(name, perr.Error())
		return o, nil
	}
	if proj.Skip != "" {
		o.result = syncedFiltered
		return o, nil
	}
	if ls, err := proj.LastSerial(); err == nil {
		o.serial = strconv.FormatInt(ls, 10)
	}
	if p.se.conf.S3 {
		if err := putKeeps(ctx, p.se.store, proj.S3Keeps()); err != nil {
			if refused(err) {
				return o, nil
			}
			return o, err
		}
	}
	for i, out := range proj.JSONFiles() {
		if err := writeDeferred(ctx, p.se.store, out); err != nil {
			if refused(err) {
				return o, nil
			}
			return o, err
		}
		if i == 0 { // web/json/<name>; bandersnatch's list leaves out its web/pypi copy
			o.written = append(o.written, out.Path)
		}
	}
	if perr != nil {
		fail(name, perr.Error())
		return o, nil
	}
	failed := 0
	for _, d := range proj.Downloads() {
		result, err := p.download(ctx, d)
		if err != nil {
			var fe *sinks.FetchError
			if !errors.As(err, &fe) {
				return o, fmt.Errorf("sync %s: %w", d.Path, err)
			}
			failed++
			fail(d.Path, fmt.Sprintf("%s: %v", name, err))
			result = "failed"
		}
		size := strconv.FormatInt(d.Size, 10)
		if d.Size < 0 {
			size = ""
		}
		o.files = append(o.files, []string{d.Path, name, size, d.Digest, d.URL, d.UploadTime.UTC().Format(time.RFC3339Nano), result})
	}
	if failed > 0 {
		o.err = fmt.Sprintf("%d of its files could not be downloaded; its pages were not written", failed)
		return o, nil
	}
	if o.written, err = p.writePages(ctx, proj, serial, o.written); err != nil {
		if refused(err) {
			return o, nil
		}
		return o, err
	}
	if p.se.conf.Sync.Cleanup {
		if err := p.cleanupLegacyDirs(ctx, proj, raw); err != nil {
			return o, err
		}
	}
	o.result = syncedOK
	return o, nil
}

// download fetches d unless the mirror already holds it as bandersnatch's
// compare-method says (hash: the same sha256; stat: the same size and mtime).
func (p *projectSyncer) download(ctx context.Context, d mirrorfiles.Download) (string, error) {
	w := d.Want()
	if p.se.conf.Sync.CompareMethod == "stat" {
		if obj, err := p.se.store.Stat(ctx, d.Path); err == nil && obj.Kind == store.Regular &&
			(d.Size < 0 || obj.Size == d.Size) && obj.Modified.Equal(d.Mtime) {
			return p.presentResult(obj), nil
		}
	}
	if op, ok := p.se.store.(store.ObjectPresenter); ok && !p.se.conf.S3 && !p.se.run.WrittenSince.IsZero() {
		// the file's ctime from the descriptor Present read it through
		obj, ok, err := op.PresentObject(ctx, w.Key, w.Size, w.SHA256)
		if err != nil {
			return "", err
		}
		if ok {
			return p.presentResult(obj), nil
		}
	} else {
		ok, err := p.se.store.Present(ctx, w.Key, w.Size, w.SHA256)
		if err != nil {
			return "", err
		}
		if ok {
			if p.se.conf.S3 || p.se.run.WrittenSince.IsZero() {
				return "present", nil // (an S3 object has no ctime)
			}
			obj, err := p.se.store.Stat(ctx, w.Key)
			if err != nil {
				return "present", nil
			}
			return p.presentResult(obj), nil
		}
	}
	if _, err := p.fetch.Fetch(ctx, p.se.store, w); err != nil {
		return "", err
	}
	crashpoint.Hit("sync-download")
	return "downloaded", nil
}

// writePages writes the project's simple pages, and adds their paths to
// written; with keep_index_versions as bandersnatch does: the oldest
// versions beyond keep-1 are removed first, the new ones written under
// versions/ (named after indexSerial, the serial the index gave the
// project), and index.* become links to them.
func (p *projectSyncer) writePages(ctx context.Context, proj *mirrorfiles.Project, indexSerial int64, written []string) ([]string, error) {
	if p.se.opts.KeepIndexVersions == 0 {
		pages := proj.Pages()
		if fw, ok := p.se.store.(store.FilesWriter); ok { // (POSIX) the project's folder opened once
			files := make([]store.File, len(pages))
			for i, out := range pages {
				files[i] = store.File{Key: out.Path, Data: out.Data, Meta: store.Meta{Mode: out.Mode, Deferred: true}}
			}
			if err := fw.WriteFiles(ctx, files); err != nil {
				return written, err
			}
			for _, out := range pages {
				written = append(written, out.Path)
			}
			return written, nil
		}
		for _, out := range pages {
			if err := writeDeferred(ctx, p.se.store, out); err != nil {
				return written, err
			}
			written = append(written, out.Path)
		}
		return written, nil
	}
	dir := proj.SimpleDir() + "versions/"
	var existing []string
	err := p.se.store.Names(ctx, dir, func(name string, isDir bool) error {
		if !isDir {
			existing = append(existing, name)
		}
		return nil
	})
	if err != nil {
		return written, fmt.Errorf("list %s: %w", dir, err)
	}
	write, links, remove := proj.VersionedPages(existing, indexSerial, time.Now())
	if len(remove) > 0 {
		errs, err := p.se.store.Remove(ctx, remove)
		if err == nil {
			err = errors.Join(errs...)
		}
		if err != nil {
			return written, fmt.Errorf("remove old page versions of %s: %w", proj.Name, err)
		}
	}
	for _, out := range write {
		if err := writeDeferred(ctx, p.se.store, out); err != nil {
			return written, err
		}
		written = append(written, out.Path)
	}
	linker := p.se.store.(store.Linker) // Sync refuses keep_index_versions on a store without links
	for _, l := range links {
		if err := linker.Symlink(ctx, l.Path, p.se.linkRoot+"/"+l.Target); err != nil {
			return written, fmt.Errorf("link %s: %w", l.Path, err)
		}
	}
	return written, nil
}

// presentResult is "present" for a file the mirror held before this sync
// began, and "downloaded" for one a killed run of this sync put in place
// (its ctime is not before the sync began): the summary and the diff file
// then count it as the uninterrupted sync would.
func (p *projectSyncer) presentResult(obj store.Object) string {
	since := p.se.run.WrittenSince
	if !since.IsZero() && !obj.Changed.IsZero() && !obj.Changed.Before(since) {
		return "downloaded"
	}
	return "present"
}

// writtenByThisSync tells whether key was put in place by a killed run of
// this sync (on POSIX, by its ctime): such a project is synced again, with
// nothing to download, so that what the killed run wrote is recorded and
// listed as the uninterrupted sync would have.
func (p *projectSyncer) writtenByThisSync(ctx context.Context, key string) bool {
	if p.se.conf.S3 || p.se.run.WrittenSince.IsZero() {
		return false
	}
	obj, err := p.se.store.Stat(ctx, key)
	return err == nil && p.presentResult(obj) == "downloaded"
}

// unsafeRun is what bandersnatch_safe_name replaces with one '-'.
var unsafeRun = regexp.MustCompile(`[^A-Za-z0-9.]+`)

// cleanupLegacyDirs is cleanup = true: once a project's pages are written,
// the simple folders bandersnatch before 4.0 kept beside the PEP 503 one
// (under the name as upstream spells it, and under its old safe name) are
// removed, as bandersnatch's cleanup_non_pep_503_paths removes them. A
// folder holding folders (which bandersnatch fails on) is left alone, and
// so is one that is the live folder under another spelling (a
// case-insensitive file system), and so is a folder whose name is a
// normalized one, which may be another project's: "foo+bar"'s old safe
// name is "foo-bar", where bandersnatch would remove foo-bar's pages.
// Only ctx ending is an error: a folder that
// cannot be removed is logged, as bandersnatch logs it.
func (p *projectSyncer) cleanupLegacyDirs(ctx context.Context, proj *mirrorfiles.Project, raw string) error {
	live := proj.SimpleDir()
	liveObj, liveErr := p.se.store.Stat(ctx, strings.TrimSuffix(live, "/"))
	for _, name := range []string{raw, strings.ToLower(unsafeRun.ReplaceAllString(raw, "-"))} {
		dir := mirrorfiles.SimpleDir(name, p.se.opts.HashIndex)
		if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\\") || dir == live ||
			sources.Normalize(name) == name {
			continue // (a normalized name may be another project's live folder: never removed)
		}
		dirs, objs, err := p.se.store.Children(ctx, dir)
		if err != nil || len(dirs)+len(objs) == 0 {
			continue // not there
		}
		if obj, err := p.se.store.Stat(ctx, strings.TrimSuffix(dir, "/")); err == nil && liveErr == nil &&
			obj.Inode != 0 && obj.Inode == liveObj.Inode {
			continue
		}
		if len(dirs) > 0 {
			err = fmt.Errorf("it holds folders (%s…)", dirs[0])
		}
		if err == nil {
			err = p.se.store.RemoveTree(ctx, dir)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			logf(p.se.g, "sync: cleanup: %s: the old simple folder %s stays: %v", proj.Name, dir, err)
		}
	}
	return nil
}
