package stages

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/bandercheck/bandercheck/internal/store"
	"github.com/bandercheck/bandercheck/pipeline"
	"github.com/bandercheck/bandercheck/sinks/mirrorfiles"
	"github.com/bandercheck/bandercheck/sources"
)

// SyncOptions say what a sync does; cmd/bandercheck fills them from flags,
// the rest comes from the config file ([mirror] master, workers, timeout,
// global-timeout, stop-on-error and what the mirror holds).
type SyncOptions struct {
	Projects      []string // sync these only, as `bandersnatch sync NAME...` (no status update)
	DryRun        bool     // fetch the index, print what would be fetched, write nothing
	RemoveDeleted bool     // remove projects upstream no longer lists, within MaxRemoveProjects
	// MaxRemoveProjects bounds RemoveDeleted (a count or a percentage of the
	// mirror's projects); an upstream that lost more is taken for a fault.
	MaxRemoveProjects Limit
	Upstream          string        // overrides [mirror] master
	Workers           int           // overrides [mirror] workers when > 0
	StaleWait         time.Duration // first wait after a stale answer (bandersnatch: 1s)
	Attempts          int           // attempts per project document (bandersnatch: 3)
}

// DefaultSyncOptions are bandersnatch's.
func DefaultSyncOptions() SyncOptions {
	return SyncOptions{StaleWait: time.Second, Attempts: 3, MaxRemoveProjects: Limit{Percent: 1, IsPct: true}}
}

// Validate refuses options that cannot work.
func (o SyncOptions) Validate() error {
	switch {
	case o.Workers < 0 || o.Workers > 10:
		return &pipeline.UsageError{Msg: fmt.Sprintf("--workers %d: give 1 to 10, as bandersnatch allows", o.Workers)}
	case o.Attempts < 1:
		return &pipeline.UsageError{Msg: "sync: attempts must be at least 1"}
	case o.RemoveDeleted && len(o.Projects) > 0:
		return &pipeline.UsageError{Msg: "sync --remove-deleted works on the whole mirror: drop the project names, or --remove-deleted"}
	}
	if err := checkHTTPURL(o.Upstream); err != nil {
		return &pipeline.UsageError{Msg: "--upstream: " + err.Error()}
	}
	return nil
}

// SyncResult tells what a sync did.
type SyncResult struct {
	Serial     int64 // the status serial at the end
	Todo       int64 // projects to fetch
	Synced     int64 // projects written
	Failed     int64 // projects with a problem
	Downloaded int64 // files downloaded
	Removed    int64 // projects removed (--remove-deleted)
}

// syncRun is STATE/sync/run.json: what the sync in progress set out to do,
// so a resumed sync continues it instead of asking upstream again.
type syncRun struct {
	Mirror   string   `json:"mirror"`
	Config   string   `json:"config"`   // what the mirror holds (Config.Designation)
	Projects []string `json:"projects"` // sync NAME...
	Status   int64    `json:"status"`   // the mirror's status serial when the sync began
	Target   int64    `json:"target"`   // the serial reached when every project is synced
	Changed  int64    `json:"changed"`  // projects upstream changed since Status, before the filters
	Todo     int64    `json:"todo"`     // projects to fetch (sync/todo without the gone ones)
	Removed  int64    `json:"removed"`  // gone projects removed so far (--remove-deleted)
	Steps    []string `json:"steps"`    // the end's steps done: a resumed end skips them
	// DiffFile is where the end writes the list of files the sync wrote
	// (diff-file, resolved when the sync began); "" for none.
	DiffFile string `json:"diff_file,omitempty"`
	// IndexWritten: the end rewrote the root index pages (the diff file
	// lists them then).
	IndexWritten bool `json:"index_written,omitempty"`
	// WrittenSince is the mtime run.json got when the sync began, by the
	// clock the file system stamps with: a release file found in place
	// whose ctime is not before it was put there by this sync (a run of it
	// that was killed before recording it), so it counts as downloaded.
	WrittenSince time.Time `json:"written_since,omitempty"`
	Started      time.Time `json:"started"`
	Finished     bool      `json:"finished"`
}

// syncEnv is what a sync's stages share.
type syncEnv struct {
	g     *Env
	o     SyncOptions
	conf  *sources.Config
	opts  mirrorfiles.Options
	store store.Store
	run   *syncRun
	base  string // upstream
	// linkRoot is the mirror's absolute folder (POSIX), which
	// keep_index_versions links and the diff file's lines name paths under
	linkRoot string
	// lastUpstream is the row count of the last sync's upstream manifest
	// (0 when none), read before a new sync removes it: it sizes the sort
	lastUpstream int64
}

const syncRunFile = "sync/run.json"

// Sync mirrors upstream into the mirror as `bandersnatch mirror` does (or
// `bandersnatch sync NAME...` with o.Projects), as resumable stages:
// sync upstream → sync todo → sync fetch → sync finish.
func Sync(ctx context.Context, g *Env, o SyncOptions) (SyncResult, error) {
	var res SyncResult
	if err := o.Validate(); err != nil {
		return res, err
	}
	if err := g.wholeMirror("sync"); err != nil {
		return res, err
	}
	defer heapFloor(syncHeapFloor)()
	conf, err := g.config()
	if err != nil {
		return res, err
	}
	if !conf.Given {
		return res, &pipeline.UsageError{Msg: "sync needs --config: the bandersnatch.conf that says what to mirror"}
	}
	se := &syncEnv{g: g, o: o, conf: conf, opts: mirrorfiles.OptionsFromConfig(conf)}
	if err := se.opts.Validate(); err != nil {
		return res, &pipeline.UsageError{Msg: fmt.Sprintf("%s: %v", g.Config, err)}
	}
	if conf.Sync.DiffFile != "" && conf.S3 {
		return res, &pipeline.UsageError{Msg: fmt.Sprintf("%s: [mirror] diff-file = %s: sync writes the diff file only beside a POSIX mirror; remove the key for an S3 mirror (sync/files and sync/written in STATE list what the sync wrote)", g.Config, conf.Sync.DiffFile)}
	}
	if conf.KeepIndexVersions > 0 && conf.S3 {
		return res, &pipeline.UsageError{Msg: fmt.Sprintf("%s: [mirror] keep_index_versions = %d: its index pages are symbolic links, which S3 cannot hold (bandersnatch fails on them there too); set it to 0 for an S3 mirror", g.Config, conf.KeepIndexVersions)}
	}
	if se.base = firstOf(o.Upstream, conf.Master); se.base == "" {
		return res, &pipeline.UsageError{Msg: "sync needs an upstream: [mirror] master in the config, or --upstream URL"}
	}
	if strings.HasPrefix(se.base, "http://") && !conf.Sync.AllowNonHTTPS && o.Upstream == "" {
		return res, &pipeline.UsageError{Msg: fmt.Sprintf("%s: [mirror] master %s is not https: set allow-non-https = true to use it, as bandersnatch asks", g.Config, se.base)}
	}
	if _, _, err := g.openRun(); err != nil { // STATE is bandercheck's, and this mirror's
		return res, err
	}
	if o.DryRun {
		return dryRunSync(ctx, se)
	}
	if loc, err := g.mirror(); err == nil && !loc.IsS3() {
		if err := os.MkdirAll(filepath.Join(loc.Path, "web", "packages"), 0o755); err != nil { // bandersnatch makes its directory
			return res, fmt.Errorf("sync: make the mirror's folder: %w", err)
		}
	}
	ms, loc, err := g.openStore(ctx)
	if err != nil {
		return res, err
	}
	if _, ok := ms.(store.Linker); se.opts.KeepIndexVersions > 0 && (!ok || loc.IsS3()) {
		return res, &pipeline.UsageError{Msg: fmt.Sprintf("%s: [mirror] keep_index_versions needs a mirror on a POSIX disk, which holds symbolic links; %s is not one", g.Config, loc)}
	}
	if !loc.IsS3() {
		if se.linkRoot, err = filepath.Abs(loc.Path); err != nil {
			return res, fmt.Errorf("sync: the mirror's folder: %w", err)
		}
	}
	se.store = ms
	unlock, err := syncLock(ctx, se)
	if err != nil {
		return res, err
	}
	defer func() { err = errors.Join(err, unlock()) }()
	if se.run, err = openSyncRun(ctx, se, loc.String()); err != nil {
		return res, err
	}
	res, err = syncStages(ctx, se)
	return res, err
}

// syncStages runs (or resumes) the stages of the sync in se.run.
func syncStages(ctx context.Context, se *syncEnv) (SyncResult, error) {
	res := SyncResult{Serial: se.run.Status}
	if len(se.run.Projects) == 0 {
		if err := syncUpstream(ctx, se); err != nil {
			return res, err
		}
	}
	todo, err := syncTodo(ctx, se)
	if err != nil {
		return res, err
	}
	res.Todo = todo
	f, err := syncFetch(ctx, se)
	res.Synced, res.Failed, res.Downloaded = f.synced, f.failed, f.downloaded
	if err != nil {
		return res, err
	}
	removed, err := syncFinish(ctx, se, res.Failed > 0)
	res.Removed = removed
	if err != nil {
		return res, err
	}
	if res.Failed == 0 && len(se.run.Projects) == 0 {
		res.Serial = se.run.Target
	}
	return res, nil
}

// openSyncRun continues the sync STATE records when it was for the same
// mirror, config and names, and starts a new one otherwise.
func openSyncRun(ctx context.Context, se *syncEnv, mirror string) (*syncRun, error) {
	path := filepath.Join(se.g.State, syncRunFile)
	se.lastUpstream = lastRows(se.g, "sync/upstream")
	var prev syncRun
	if b, err := os.ReadFile(path); err == nil {
		if json.Unmarshal(b, &prev) == nil && !prev.Finished && prev.Mirror == mirror &&
			prev.Config == se.conf.Designation() && slices.Equal(prev.Projects, syncNames(se.o.Projects)) {
			logf(se.g, "sync: continuing the sync begun %s (status %d, target %d)", prev.Started.Format(time.RFC3339), prev.Status, prev.Target)
			return &prev, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	status, err := readStatus(ctx, se.store, false)
	if err != nil {
		return nil, err
	}
	r := &syncRun{Mirror: mirror, Config: se.conf.Designation(), Projects: syncNames(se.o.Projects), Status: status, Target: status, Started: time.Now().UTC()}
	for _, m := range syncManifests {
		if err := os.RemoveAll(filepath.Join(se.g.State, m)); err != nil {
			return nil, fmt.Errorf("start a new sync: %w", err)
		}
	}
	se.g.StateDir().Forget()
	if se.conf.Sync.DiffFileNote != "" {
		logf(se.g, "sync: %s", se.conf.Sync.DiffFileNote)
	}
	if r.DiffFile, err = setupDiffFile(se.conf.Sync.DiffFile, se.conf.Sync.DiffAppendEpoch, r.Started); err != nil {
		return nil, err
	}
	if err := saveSyncRun(se.g.State, r); err != nil {
		return nil, err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("start a new sync: %w", err)
	}
	r.WrittenSince = fi.ModTime()
	return r, saveSyncRun(se.g.State, r)
}

// syncManifests are the manifests a sync writes, removed when a new one starts.
var syncManifests = []string{"sync/upstream", "sync/todo", "sync/projects", "sync/files", "sync/written", "problems/sync"}

func saveSyncRun(state string, r *syncRun) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(state, "sync"), 0o755); err != nil {
		return err
	}
	return pipeline.WriteFileAtomic(filepath.Join(state, syncRunFile), append(b, '\n'))
}

// syncNames are the names of `sync NAME...` as bandersnatch keeps them
// (bandersnatch_safe_name), sorted and without repeats.
func syncNames(names []string) []string {
	var out []string
	for _, n := range names {
		out = append(out, safeName(n))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// safeName is bandersnatch's bandersnatch_safe_name: runs of anything but
// letters, digits and '.' become '-', lower case.
func safeName(n string) string {
	var b strings.Builder
	dash := false
	for _, r := range n {
		if r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.') {
			b.WriteRune(r)
			dash = false
			continue
		}
		if !dash {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.ToLower(b.String())
}

// dryRunSync reads upstream's index and the mirror, and prints the projects
// a sync would fetch (project,serial,reason) without writing to the mirror
// or to the sync in progress in STATE.
func dryRunSync(ctx context.Context, se *syncEnv) (SyncResult, error) {
	var res SyncResult
	tmp, err := os.MkdirTemp(se.g.State, "sync-dry-run-")
	if err != nil {
		return res, fmt.Errorf("sync --dry-run: %w", err)
	}
	defer os.RemoveAll(tmp)
	g := *se.g
	g.State = tmp
	se.g = &g
	if loc, err := g.mirror(); err == nil && !loc.IsS3() {
		if _, err := os.Stat(loc.Path); errors.Is(err, os.ErrNotExist) {
			// a mirror not made yet reads as an empty one
			empty := filepath.Join(tmp, "empty-mirror")
			if err := os.MkdirAll(empty, 0o755); err != nil {
				return res, err
			}
			g.Mirror = Location{Path: empty}
		}
	}
	ms, _, err := g.openStore(ctx)
	if err != nil {
		return res, err
	}
	se.store = ms
	status, err := readStatus(ctx, ms, true)
	if err != nil {
		return res, err
	}
	se.run = &syncRun{Projects: syncNames(se.o.Projects), Status: status, Target: status}
	if len(se.run.Projects) == 0 {
		if err := syncUpstream(ctx, se); err != nil {
			return res, err
		}
	}
	if res.Todo, err = syncTodo(ctx, se); err != nil {
		return res, err
	}
	w := csv.NewWriter(g.stdout())
	_ = w.Write([]string{"project", "serial", "reason"})
	err = g.StateDir().EachRow("sync/todo", func(row []string) error {
		if row[todoReason] == todoGone && !se.o.RemoveDeleted {
			return nil
		}
		return w.Write([]string{row[todoProject], row[todoSerial], row[todoReason]})
	})
	w.Flush()
	res.Serial = status
	logf(se.g, "sync --dry-run: %d projects to fetch (status %d, upstream at %d); nothing was written", res.Todo, status, se.run.Target)
	return res, errors.Join(err, w.Error())
}
