package stages

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/bandercheck/bandercheck/internal/store"
	"github.com/bandercheck/bandercheck/pipeline"
)

// Plan merge-joins storage against designated files into plans.
type PlanOptions struct {
	// Grace: files modified after the storage scan began, less Grace, are
	// never planned for deletion.
	Grace time.Duration
	// MaxRemoveProjects refuses project removals when more local projects
	// than this are missing upstream.
	MaxRemoveProjects Limit
	// Memory is the whole stage's budget (sort runs spill to STATE/tmp beyond it).
	Memory ByteSize
	// RemoveFiltered also removes the local projects that the config's
	// project filters exclude, within MaxRemoveProjects.
	RemoveFiltered bool
	// MaxDownload refuses a plan that downloads more than this (its zero
	// value: no limit).
	MaxDownload DownloadLimit
}

// DefaultPlanOptions are plan's defaults.
func DefaultPlanOptions() PlanOptions {
	return PlanOptions{
		Grace:             time.Hour,
		MaxRemoveProjects: Limit{Percent: 1, IsPct: true},
		Memory:            256 << 20,
		MaxDownload:       DownloadLimit{Files: Limit{Percent: 10, IsPct: true}, set: true},
	}
}

// AssembleParts puts the scans of the partitions' state directories (or of
// every state directory in one folder) end to end into STATE, so that plan
// then gives the plan one scan of the whole mirror would.
func AssembleParts(g *Env, partitions []string) error {
	if err := g.wholeMirror("plan"); err != nil {
		return err
	}
	dirs, err := pipeline.PartitionDirs(partitions)
	if err != nil {
		return err
	}
	if err := g.StateDir().AssembleParts(dirs); err != nil {
		return err
	}
	logf(g, "plan: the scans of %d partitions are put together in %s", len(dirs), g.State)
	return nil
}

// Validate refuses options no plan can be made with.
func (c PlanOptions) Validate() error {
	if c.Grace < 0 {
		return usage("--grace %v: give a duration of 0s or more", c.Grace)
	}
	return nil
}

// Run implements the command.
func (c *PlanOptions) Run(ctx context.Context, g *Env) error {
	sum, err := c.plan(ctx, g)
	if sum != nil {
		if perr := printPlanSummary(g.stdout(), sum); perr != nil {
			return perr
		}
	}
	return err
}

// joinInto opens the plan stage in newDir and merge-joins into it. When an
// input is not in the order its stage promises, it closes that attempt,
// sorts the input instead and starts over, at most twice. The caller closes
// the stage it returns.
func joinInto(ctx context.Context, g *Env, newDir string, opts joinOptions) (*pipeline.Stage, *pipeline.JoinSummary, error) {
	for tries := 0; ; tries++ {
		st, err := pipeline.NewState(newDir).Stage("plan", true, g.stageOptions(),
			pipeline.MustSpec("plan/download"), pipeline.MustSpec("plan/delete"), pipeline.MustSpec("plan/remove-projects"))
		if err != nil {
			return nil, nil, err
		}
		join, err := runJoin(ctx, opts, st)
		if err == nil {
			return st, join, nil
		}
		st.Close() // this attempt's shards are discarded: the next starts afresh
		var oe *pipeline.OrderError
		if !errors.As(err, &oe) || tries == 2 {
			return nil, nil, fmt.Errorf("plan: %w", err)
		}
		switch oe.Stream {
		case "storage":
			opts.sortStorage = true
		case pipeline.DesignatedStream:
			opts.sortDesignated = true
		default:
			return nil, nil, err
		}
		logf(g, "plan: %v; sorting %s instead", err, oe.Stream)
	}
}

// planInputs checks that the stages plan reads are done.
func planInputs(state *pipeline.State) (storage *pipeline.StageFile, upstream bool, err error) {
	for _, need := range []struct{ manifest, cmd string }{{"storage", "scan storage"}, {"designated", "scan metadata"}} {
		sf, err := state.StageFile(need.manifest)
		if errors.Is(err, os.ErrNotExist) || err == nil && sf.State != pipeline.StateDone {
			return nil, false, &pipeline.UsageError{Msg: fmt.Sprintf("plan needs a finished %s: run bandercheck %s first", need.manifest, need.cmd)}
		}
		if err != nil {
			return nil, false, err
		}
		if need.manifest == "storage" {
			storage = sf
		}
	}
	if sf, err := state.StageFile("upstream"); err == nil && sf.State == pipeline.StateDone {
		upstream = true
	}
	return storage, upstream, nil
}

func (c *PlanOptions) plan(ctx context.Context, g *Env) (*pipeline.PlanSummary, error) {
	if err := g.wholeMirror("plan"); err != nil {
		return nil, err
	}
	run, err := g.StateDir().Run()
	if err != nil {
		return nil, &pipeline.UsageError{Msg: fmt.Sprintf("%v: run the scans first", err)}
	}
	storageStage, haveUpstream, err := planInputs(g.StateDir())
	if err != nil {
		return nil, err
	}
	defer holdHeap(planHeap(c.Memory))()
	// the sort arenas are large, pointer-free and live: a low GOGC keeps the
	// heap goal (and so the peak) close to them, and costs little, as the
	// collector does not scan them (40: 213 MiB at 10% of the index, 20:
	// 188 MiB, for the same CPU)
	defer lowerGCPercent(planGCPercent)()
	tmp := filepath.Join(g.State, "tmp")
	newDir := filepath.Join(tmp, "plan-new")
	if err := os.RemoveAll(newDir); err != nil {
		return nil, err
	}
	sum := &pipeline.PlanSummary{
		PlanID: pipeline.NewID(), RunID: run.ID, Created: time.Now().UTC(), Upstream: haveUpstream,
		StorageStarted: storageStage.Started, GraceCutoff: storageStage.Started.Add(-c.Grace).UTC(),
	}
	hashIndex := run.Option("metadata.hash-index") == "true"

	from := removalSources{upstream: haveUpstream, filtered: c.RemoveFiltered}
	removals := from.any()
	if removals {
		local, removed, excluded, err := countRemoved(g.StateDir(), from)
		if err != nil {
			return nil, err
		}
		sum.LocalProjects, sum.RemovedProjects, sum.FilteredProjects = local, removed, excluded
		sum.MaxRemoveProjects = c.MaxRemoveProjects.Of(local)
		if removed > sum.MaxRemoveProjects {
			removals, sum.RemovalsRefused = false, true
		}
	} else if sum.LocalProjects, err = countRows(g.StateDir(), "projects"); err != nil {
		return nil, err
	}
	if sum.ProblemsWithoutFallback, err = countProblems(g.StateDir()); err != nil {
		return nil, err
	}

	st, join, err := joinInto(ctx, g, newDir, joinOptions{g: g, runMirror: run.Mirror, state: g.StateDir(), tmp: tmp, memory: int64(c.Memory), removals: removals, from: from, cutoff: sum.GraceCutoff})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	sum.Join = join
	if removals {
		if sum.RemoveProjectsRows, err = writeRemovals(g.StateDir(), from, st, hashIndex); err != nil {
			return nil, err
		}
	}
	if err := st.Finish(); err != nil {
		return nil, err
	}
	dl := pipeline.Total(sum.Join.Download)
	sum.MaxDownload = c.MaxDownload.String()
	sum.DownloadsRefused = c.MaxDownload.Exceeded(dl.Files, dl.Bytes, sum.Join.Designated.Files)
	if err := pipeline.WritePlanSummary(filepath.Join(newDir, "plan"), sum); err != nil {
		return nil, err
	}
	if err := swapPlan(g, newDir); err != nil {
		return nil, err
	}
	if err := run.Reset("apply."); err != nil {
		return nil, err
	}
	if sum.DownloadsRefused {
		return sum, &pipeline.RefusedError{Guards: []string{"max-download"}, Msg: fmt.Sprintf("plan: %d downloads (%d bytes) of %d designated files is more than --max-download %s allows, so apply will refuse this plan: "+
			"a misread filter or config must not pull terabytes (see bandercheck cat plan/download). If the mirror really lacks them, rerun plan with a higher --max-download (e.g. 100%%)",
			dl.Files, dl.Bytes, sum.Join.Designated.Files, c.MaxDownload)}
	}
	if sum.RemovalsRefused {
		return sum, &pipeline.RefusedError{Guards: []string{"max-remove-projects"}, Msg: fmt.Sprintf("plan: %d of %d local projects are missing upstream or excluded by the filters (%d), more than --max-remove-projects allows (%d); their removal was left out of the plan. If they really are to go, rerun plan with a higher --max-remove-projects",
			sum.RemovedProjects, sum.LocalProjects, sum.FilteredProjects, sum.MaxRemoveProjects)}
	}
	return sum, nil
}

// swapPlan puts the new plan in place of the old, and retires the old plan's
// applied records, which describe another plan.
func swapPlan(g *Env, newDir string) error {
	defer g.StateDir().Forget() // the plan is replaced under the handle
	planDir := filepath.Join(g.State, "plan")
	old := filepath.Join(g.State, "tmp", "plan-old")
	if err := os.RemoveAll(old); err != nil {
		return err
	}
	if err := os.Rename(planDir, old); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("plan: %w", err)
	}
	if err := os.Rename(filepath.Join(newDir, "plan"), planDir); err != nil {
		return fmt.Errorf("plan: %w", err)
	}
	return errors.Join(os.RemoveAll(filepath.Join(g.State, "tmp", "retry")), os.RemoveAll(old), os.RemoveAll(newDir))
}

// planHeap is plan's soft limit (holdHeap): its sort of the designated
// files (five sixteenths of --memory) and 24 MiB for the sort's indexes,
// the decoders, the join and what run's earlier stages left fragmented;
// 104 MiB at the default, which 1% of PyPI reaches already. Without it the
// peak followed the mirror (127 / 139 / 149 MiB in run at 1% / 10% / 100%
// of PyPI): the sort's chunks are held from 1% on, but the indexes, the
// merge's readers and run's carry-over grew, and the collector's headroom
// over them. plan alone at 10% of PyPI: 125 MiB without, 118-119 at 104
// (and 115-116 at 100, for 15-20% more CPU; 123-124 at 112).
func planHeap(memory ByteSize) int64 {
	return int64(memory)*5/16 + 24<<20
}

// planFanIn is the most runs plan's sort of the designated files reads in
// its final merge: all of upstream's 175 or so, with room.
const planFanIn = 224

// planGCPercent is plan's GOGC.
const planGCPercent = 20

type joinOptions struct {
	state          *pipeline.State
	tmp            string
	memory         int64
	removals       bool
	from           removalSources
	cutoff         time.Time
	sortStorage    bool
	sortDesignated bool
	g              *Env   // opens the store to confirm ETag mismatches
	runMirror      string // the mirror of run.json, when no --mirror is given
}

// runJoin sorts designated by path (tagging files of removed projects on the
// way) and merge-joins it with storage into the plan stage.
func runJoin(ctx context.Context, o joinOptions, st *pipeline.Stage) (*pipeline.JoinSummary, error) {
	storage, err := openStorage(ctx, o)
	if err != nil {
		return nil, err
	}
	defer storage.Close()
	designated, err := sortedDesignated(ctx, o)
	if err != nil {
		return nil, err
	}
	defer designated.Close()
	w := &planWriter{ctx: ctx, st: st, g: o.g, runMirror: o.runMirror}
	defer w.closeStore()
	return pipeline.Join(storage, designated, o.cutoff, w)
}

func openStorage(ctx context.Context, o joinOptions) (pipeline.RowReader, error) {
	m, err := o.state.Manifest("storage")
	if err != nil {
		return nil, err
	}
	r := pipeline.Prefetch(m)
	if !o.sortStorage {
		return r, nil
	}
	s := pipeline.NewSorter(o.tmp, o.memory/3, len(pipeline.Columns["storage"]), 0).WithPrefix(pathPrefix)
	return drainInto(ctx, r, s)
}

// cancellable wraps add so that it returns ctx's error once ctx is done
// (checked every 4,096 rows): a signal stops a long sort within moments.
func cancellable(ctx context.Context, add func([]string) error) func([]string) error {
	n := 0
	return func(row []string) error {
		if n++; n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		return add(row)
	}
}

// drainInto adds every row of r to s and returns the sorted rows.
func drainInto(ctx context.Context, r pipeline.RowReader, s *pipeline.Sorter) (pipeline.RowReader, error) {
	defer r.Close()
	add := cancellable(ctx, s.Add)
	for {
		row, err := r.Next()
		if err == io.EOF {
			return s.Sort()
		}
		if err == nil {
			err = add(row)
		}
		if err != nil {
			return nil, errors.Join(err, s.Close())
		}
	}
}

func sortedDesignated(ctx context.Context, o joinOptions) (pipeline.RowReader, error) {
	m, err := o.state.Manifest("designated")
	if err != nil {
		return nil, err
	}
	d := pipeline.Prefetch(m)
	if o.sortDesignated {
		ps := pipeline.NewSorter(o.tmp, o.memory/2, len(pipeline.Columns["designated"]), 1)
		if d, err = drainInto(ctx, d, ps); err != nil {
			return nil, err
		}
	}
	defer d.Close()
	removed := func() (string, error) { return "", io.EOF }
	if o.removals {
		it, err := openRemoved(o.state, o.from)
		if err != nil {
			return nil, err
		}
		defer it.Close()
		removed = func() (string, error) {
			row, err := it.Next()
			if err != nil {
				return "", err
			}
			return row[0], nil
		}
	}
	// five sixteenths of --memory: runs of 48 MiB at the default, in a pool
	// of 60 MiB that 1% of the index fills already (its rows take 66 MiB of
	// chunks), so plan holds as much at 1% as at 100%; all of PyPI spills
	// about 175 runs, all read by one final merge (120 KiB a run open: 21
	// MiB, once the pool is let go); with a fan-in of 128 the first 48 were
	// merged once more first, 17 s of CPU at full size. Three eighths (a pool
	// of 72 MiB) was just more than 1% fills: plan alone peaked at 130 MiB
	// at 1% and 138 at 10% (with 5/16: 122 and 129).
	s := pipeline.NewSorter(o.tmp, o.memory*5/16, pipeline.DColumns, pipeline.DPath).WithPrefix(pathPrefix).WithFanIn(planFanIn)
	if err := pipeline.TagRemoved(d, removed, cancellable(ctx, s.Add)); err != nil {
		return nil, errors.Join(err, s.Close())
	}
	return s.Sort()
}

// pathPrefix is the sort prefix of a path (the sorters order paths by their
// bytes): almost every planned path starts with web/packages/, so the
// prefix is 1 then the next 7 bytes, and the sorter's integer compare sees
// the hash folders; the few temp files of metadata folders take 0 (those in
// web/json/, before every package) or all ones (web/pypi/, web/simple/,
// after), and compare by their bytes.
func pathPrefix(p string) uint64 {
	rest, ok := strings.CutPrefix(p, "web/packages/")
	switch {
	case ok:
		var b [8]byte
		b[0] = 1
		copy(b[1:], rest)
		return binary.BigEndian.Uint64(b[:])
	case p < "web/packages/":
		return 0
	}
	return math.MaxUint64
}

// planWriter writes Join's decisions into the plan stage.
type planWriter struct {
	ctx context.Context
	st  *pipeline.Stage
	n   int
	g   *Env // to open the store on the first ETag mismatch
	// ms is the store, once opened; Join confirms mismatches concurrently,
	// so opening it holds msMu
	msMu sync.Mutex
	ms   store.Store
	// runMirror is the mirror the state was scanned from (run.json), for a
	// plan run without --mirror
	runMirror string
}

// ConfirmMismatch implements pipeline.Confirmer: it reads the stored file
// and tells whether its sha256 differs from the designated one. A file gone
// since the scan is a mismatch (downloading it again is right).
func (w *planWriter) ConfirmMismatch(path, sha256 string) (bool, error) {
	if w.g == nil {
		return true, nil
	}
	ms, err := w.store()
	if err != nil {
		return false, err
	}
	_, sum, err := store.HashObject(w.ctx, ms, path, -1)
	if errors.Is(err, os.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("plan: read %s to confirm its ETag mismatch: %w", path, err)
	}
	return sum != sha256, nil
}

// store opens the mirror on the first call.
func (w *planWriter) store() (store.Store, error) {
	w.msMu.Lock()
	defer w.msMu.Unlock()
	if w.ms == nil {
		if _, err := w.g.mirror(); err != nil && w.runMirror != "" {
			// a plan run without --mirror (of assembled partitions): the
			// mirror the state was scanned from
			if loc, perr := ParseLocation(w.runMirror); perr == nil {
				w.g.Mirror = loc
			}
		}
		ms, _, err := w.g.openStore(w.ctx)
		if err != nil {
			return nil, fmt.Errorf("plan: open the mirror to confirm an ETag mismatch: %w", err)
		}
		w.ms = ms
	}
	return w.ms, nil
}

// closeStore closes the store when ConfirmMismatch opened one.
func (w *planWriter) closeStore() {
	if c, ok := w.ms.(io.Closer); ok {
		c.Close()
	}
}

func (w *planWriter) Download(d pipeline.Download) error {
	if err := w.st.Write(0, d.Row()...); err != nil {
		return err
	}
	return w.end(d.Path)
}

func (w *planWriter) Delete(path, size, reason string) error {
	if err := w.st.Write(1, path, size, reason); err != nil {
		return err
	}
	return w.end(path)
}

func (w *planWriter) end(path string) error {
	w.n++
	if w.n%4096 == 0 {
		if err := w.ctx.Err(); err != nil {
			return err
		}
	}
	return w.st.EndUnit(path)
}
