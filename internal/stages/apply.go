package stages

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/time/rate"

	"github.com/bandercheck/bandercheck/internal/store"
	"github.com/bandercheck/bandercheck/pipeline"
	"github.com/bandercheck/bandercheck/sinks"
)

// Apply carries out the plan.
type ApplyOptions struct {
	// Jobs is how many downloads run at once.
	Jobs int
	ApplyShared
	// Upstream is the base URL for files that simple pages link by path
	// only; "": the config's [mirror] master.
	Upstream string
	// Timeout limits one download attempt.
	Timeout time.Duration
	// DryRun prints what would be done and changes nothing.
	DryRun bool
	// Only carries out one action: "download", "delete" or
	// "remove-projects" ("": all).
	Only string
	// Fresh forgets what earlier runs of apply recorded and carries out the
	// whole plan again.
	Fresh bool
}

// ApplyShared are the options of apply that run takes as they are.
type ApplyShared struct {
	// Rate is the most download requests a second (0: no limit).
	Rate float64
	// DownloadBase, when set, is where every file is downloaded from,
	// before the file URL's path (a closer mirror, a test server).
	DownloadBase string
	// MaxDelete refuses deletes beyond this many of the stored files.
	MaxDelete Limit
	// MaxPlanAge refuses a plan older than this: the mirror has changed since.
	MaxPlanAge time.Duration
	// AllowProblems deletes even though some project's metadata could not
	// be read by any source.
	AllowProblems bool
}

// DefaultApplyShared are the defaults of the options run shares with apply.
func DefaultApplyShared() ApplyShared {
	return ApplyShared{MaxDelete: Limit{Percent: 10, IsPct: true}, MaxPlanAge: 24 * time.Hour}
}

// DefaultApplyOptions are apply's defaults.
func DefaultApplyOptions() ApplyOptions {
	return ApplyOptions{Jobs: 8, ApplyShared: DefaultApplyShared(), Timeout: 10 * time.Minute}
}

// Validate refuses options no apply can run with.
func (c ApplyOptions) Validate() error {
	switch c.Only {
	case "", "download", "delete", "remove-projects":
	default:
		return usage("--only %q: give download, delete or remove-projects", c.Only)
	}
	return validateApply(c.Jobs, c.Rate, c.Timeout, c.MaxPlanAge, c.DownloadBase, c.Upstream)
}

func validateApply(jobs int, rateLimit float64, timeout, maxPlanAge time.Duration, urls ...string) error {
	switch {
	case jobs < 1 || jobs > MaxJobs:
		return usage("--jobs %d: give 1 to %d", jobs, MaxJobs)
	case math.IsNaN(rateLimit) || math.IsInf(rateLimit, 0) || rateLimit < 0:
		return usage("--rate %v: give a number of requests per second, 0 for no limit", rateLimit)
	case timeout <= 0:
		return usage("--timeout %v: give a positive duration such as 10m", timeout)
	case maxPlanAge <= 0:
		return usage("--max-plan-age %v: give a positive duration such as 24h", maxPlanAge)
	}
	for _, u := range urls {
		if err := checkHTTPURL(u); err != nil {
			return err
		}
	}
	return nil
}

// checkHTTPURL accepts "" or an absolute http(s) URL with a host.
func checkHTTPURL(s string) error {
	if s == "" {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usage("%q is not an http:// or https:// URL with a host", s)
	}
	return nil
}

// Run implements the command.
func (c *ApplyOptions) Run(ctx context.Context, g *Env) error {
	if err := c.Validate(); err != nil {
		return err
	}
	if err := g.wholeMirror("apply"); err != nil {
		return err
	}
	run, _, err := g.openRun()
	if err != nil {
		return err
	}
	sum, err := g.StateDir().PlanSummary()
	if errors.Is(err, os.ErrNotExist) {
		return &pipeline.UsageError{Msg: "there is no plan in " + g.State + ": run bandercheck plan first"}
	}
	if err != nil {
		return err
	}
	if sum.RunID != run.ID {
		return &pipeline.UsageError{Msg: fmt.Sprintf("the plan in %s was made for run %s, not this state's run %s: run bandercheck plan again", g.State, sum.RunID, run.ID)}
	}
	if age := time.Since(sum.Created); age > c.MaxPlanAge {
		return &pipeline.RefusedError{Guards: []string{"max-plan-age"}, Msg: fmt.Sprintf("the plan is %s old, older than --max-plan-age %s: the mirror has changed since; scan again (bandercheck run --fresh) or raise --max-plan-age", age.Round(time.Minute), c.MaxPlanAge)}
	}
	if sum.DownloadsRefused {
		return &pipeline.RefusedError{Guards: []string{"max-download"}, Msg: fmt.Sprintf("the plan downloads more than --max-download %s allowed when it was made: look at it (bandercheck cat plan/download), then rerun plan with a higher --max-download", sum.MaxDownload)}
	}
	if c.DryRun {
		return c.dryRun(g, sum)
	}
	ms, _, err := g.openStore(ctx)
	if err != nil {
		return err
	}
	defer closeStore(ms)
	mirror := store.Writer(ms)
	unlock, err := mirror.Lock(ctx)
	if err != nil {
		return lockRefusal(err)
	}
	err = c.applyLocked(ctx, g, run, sum, ms, mirror)
	return errors.Join(err, unlock())
}

func (c *ApplyOptions) applyLocked(ctx context.Context, g *Env, run *pipeline.Run, sum *pipeline.PlanSummary, ms store.Reader, mirror store.Writer) error {
	if err := run.Require("apply.plan-id", sum.PlanID, c.Fresh); err != nil {
		return err
	}
	refusals, guards := c.deleteRefusals(sum)
	var failures []string
	downloadsRan := false
	rc := &recheck{g: g, store: ms, allowProblems: c.AllowProblems}
	for _, a := range c.actions(ctx, g, ms, mirror, rc) {
		if c.Only != "" && a.name != c.Only {
			continue
		}
		if a.name != "download" && len(refusals) > 0 {
			continue
		}
		if a.name != "download" {
			// under the lock, before anything is deleted: what a sync made owned since the scan stays
			if err := rc.load(ctx); err != nil {
				return err
			}
		}
		if err := c.apply(ctx, g, a); err != nil {
			return err
		}
		downloadsRan = downloadsRan || a.name == "download"
		// counted over the whole manifest: shards applied before a kill count too
		counts, err := appliedCounts(g.StateDir(), a.name)
		if err != nil {
			return err
		}
		if failed := counts[resultFailed]; failed > 0 {
			failures = append(failures, fmt.Sprintf("%d %s rows failed (bandercheck cat applied/%s | grep ,failed,; a rerun of apply retries them)", failed, a.name, a.name))
		}
	}
	if c.Only == "" {
		// every action had its turn: the check this plan belongs to is over
		// (run starts a new one next time), whatever failed or was refused
		if err := run.Require(applyFinished, sum.PlanID, true); err != nil {
			return err
		}
	}
	if len(refusals) > 0 {
		what := "apply refused deletes and project removals"
		if downloadsRan {
			what += " (downloads ran)"
		}
		return &pipeline.RefusedError{Guards: guards, Msg: what + ": " + strings.Join(refusals, "; ")}
	}
	if len(failures) > 0 {
		return fmt.Errorf("apply finished with failures: %s", strings.Join(failures, "; "))
	}
	return nil
}

// applyFinished is the run.json option that names the plan an apply went
// through to its end.
const applyFinished = "apply.finished"

// deleteRefusals returns why deletes must not run, each naming its override.
func (c *ApplyOptions) deleteRefusals(sum *pipeline.PlanSummary) (out, guards []string) {
	if c.Only == "download" {
		return nil, nil // nothing is deleted
	}
	if sum.ProblemsWithoutFallback > 0 && !c.AllowProblems {
		guards = append(guards, "allow-problems")
		out = append(out, fmt.Sprintf("%d projects' metadata could not be read by any source, so their files cannot be told from orphans (see bandercheck cat problems/metadata; --allow-problems overrides)", sum.ProblemsWithoutFallback))
	}
	deletes := pipeline.Total(sum.Join.Delete).Files
	if limit := c.MaxDelete.Of(sum.Join.Stored.Files); deletes > limit && c.Only != "remove-projects" {
		guards = append(guards, "max-delete")
		out = append(out, fmt.Sprintf("the plan deletes %d of %d stored files, more than --max-delete %s (%d) allows", deletes, sum.Join.Stored.Files, c.MaxDelete, limit))
	}
	return out, guards
}

func (c *ApplyOptions) actions(ctx context.Context, g *Env, ms store.Reader, mirror store.Writer, rc *recheck) []applyAction {
	upstream := c.Upstream
	if upstream == "" {
		if conf, err := g.config(); err == nil {
			upstream = conf.Master
		}
	}
	f := &sinks.Fetcher{Client: sinks.NewHTTPClient(c.Timeout), Base: c.DownloadBase, Upstream: upstream}
	if conf, err := g.config(); err == nil {
		f.Mirror, f.NoFallback = conf.DownloadMirror, conf.DownloadMirrorNoFallback
	}
	if c.Rate > 0 {
		f.Limiter = rate.NewLimiter(rate.Limit(c.Rate), 1)
	}
	d := &downloader{mirror: mirror, fetch: f, jobs: c.Jobs}
	var sp *spellings // listed before the first removal
	return []applyAction{
		{name: "download", check: checkDownloadRow, do: d.shard},
		{name: "delete", check: checkDeleteRow, do: func(ctx context.Context, rows [][]string) ([]appliedRow, error) {
			return deleteShard(ctx, mirror, rc, rows)
		}},
		{name: "remove-projects", check: checkRemovalRow,
			do: func(ctx context.Context, rows [][]string) ([]appliedRow, error) {
				if sp == nil {
					var err error
					if sp, err = listSpellings(ctx, ms, g.StateDir()); err != nil {
						return nil, err
					}
				}
				return removeProjectsShard(ctx, mirror, rc, sp, rows)
			},
			finish: func(ctx context.Context) error {
				removed, err := removedProjects(g.StateDir(), rc)
				if err != nil {
					return err
				}
				return sinks.RewriteRootIndex(ctx, ms, mirror, removed)
			}},
	}
}

// apply carries out one action shard by shard; each plan shard's results
// become one unit of applied/<action>, so a rerun skips recorded shards and
// redoes the current one. Every row is checked before it is acted on. A rerun
// of a finished action that has failed rows retries those rows only.
func (c *ApplyOptions) apply(ctx context.Context, g *Env, a applyAction) error {
	planName, appliedName := "plan/"+a.name, "applied/"+a.name
	plan, err := g.StateDir().Manifest(planName)
	if err != nil {
		return err
	}
	defer plan.Close()
	retryState := filepath.Join(g.State, "tmp", "retry")
	if c.Fresh {
		if err := os.RemoveAll(filepath.Join(retryState, filepath.FromSlash(appliedName))); err != nil {
			return err
		}
	}
	st, err := g.StateDir().Stage("apply "+a.name, c.Fresh, g.stageOptions(), pipeline.MustSpec(appliedName))
	if err != nil {
		return err
	}
	defer st.Close()
	if st.Done() {
		counts, err := appliedCounts(g.StateDir(), a.name)
		if err != nil || counts[resultFailed] == 0 {
			return err
		}
		// keep the finished results aside and apply again, retrying only the failed rows
		st.Close()
		if st, err = c.retryStage(g, appliedName, retryState); err != nil {
			return err
		}
		defer st.Close()
	}
	prev, err := openPrevious(pipeline.NewState(retryState), appliedName)
	if err != nil {
		return err
	}
	if prev != nil {
		defer prev.Close()
	}
	start := 0
	if cur := st.Cursor(); cur != "" {
		if start, err = strconv.Atoi(cur); err != nil || start < 0 || start > len(plan.Shards()) {
			return fmt.Errorf("apply %s: the cursor %q in %s is not a plan shard number: start over with bandercheck apply --fresh", a.name, cur, filepath.Join(g.State, appliedName, pipeline.StageFileName))
		}
	}
	shards := plan.Shards()
	var total int64
	for _, sh := range shards {
		total += int64(sh.Rows)
	}
	rep := g.reporter("apply "+a.name, "files")
	defer rep.Finish()
	rep.SetTotal(total)
	for _, sh := range shards[:start] {
		rep.Add(int64(sh.Rows), 0)
		if prev != nil {
			if _, err := prev.take(sh.Rows); err != nil {
				return err
			}
		}
	}
	for i := start; i < len(shards); i++ {
		rows, err := plan.ReadShard(i)
		if err != nil {
			return err
		}
		var before []appliedRow
		if prev != nil {
			if before, err = prev.take(len(rows)); err != nil {
				return err
			}
		}
		results, err := a.run(ctx, rows, before)
		if err != nil {
			return fmt.Errorf("apply %s: %w", a.name, err)
		}
		for _, r := range results {
			if r.Result == resultFailed {
				rep.Fail()
			}
			if err := st.Write(0, r.Path, a.verb(), r.Result, r.Err); err != nil {
				return err
			}
			rep.Add(1, r.Bytes)
		}
		if err := st.EndUnit(strconv.Itoa(i + 1)); err != nil {
			return err
		}
	}
	if a.finish != nil {
		if err := a.finish(ctx); err != nil {
			return fmt.Errorf("apply %s: %w", a.name, err)
		}
	}
	if err := st.Finish(); err != nil {
		return err
	}
	return os.RemoveAll(filepath.Join(retryState, filepath.FromSlash(appliedName)))
}

// retryStage moves a finished applied manifest aside (as the previous
// results to carry over) and opens the action's stage anew.
func (c *ApplyOptions) retryStage(g *Env, appliedName, retryState string) (*pipeline.Stage, error) {
	aside := filepath.Join(retryState, filepath.FromSlash(appliedName))
	if err := os.RemoveAll(aside); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(aside), 0o700); err != nil {
		return nil, err
	}
	err := os.Rename(filepath.Join(g.State, filepath.FromSlash(appliedName)), aside)
	g.StateDir().Forget() // the applied manifest moved from under the handle
	if err != nil {
		return nil, fmt.Errorf("keep the results of %s aside for a retry: %w", appliedName, err)
	}
	return g.StateDir().Stage("apply "+strings.TrimPrefix(appliedName, "applied/"), false, g.stageOptions(), pipeline.MustSpec(appliedName))
}

// dryRun prints what apply would do.
func (c *ApplyOptions) dryRun(g *Env, sum *pipeline.PlanSummary) error {
	tw := tabwriter.NewWriter(g.stdout(), 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "would\tfiles\tbytes\t")
	dl, del := pipeline.Total(sum.Join.Download), pipeline.Total(sum.Join.Delete)
	refusals, _ := c.deleteRefusals(sum)
	if c.Only == "" || c.Only == "download" {
		fmt.Fprintf(tw, "download\t%d\t%d\t\n", dl.Files, dl.Bytes)
	}
	if len(refusals) == 0 && (c.Only == "" || c.Only == "delete") {
		fmt.Fprintf(tw, "delete\t%d\t%d\t\n", del.Files, del.Bytes)
	}
	if len(refusals) == 0 && (c.Only == "" || c.Only == "remove-projects") {
		fmt.Fprintf(tw, "remove project paths\t%d\t\t\n", sum.RemoveProjectsRows)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range refusals {
		fmt.Println("would refuse deletes:", r)
	}
	return nil
}

// lockRefusal makes the store's LockedError a guard refusal (exit 3).
func lockRefusal(err error) error {
	var le *store.LockedError
	if errors.As(err, &le) {
		return &pipeline.RefusedError{Guards: []string{"mirror-lock"}, Msg: le.Msg}
	}
	return err
}
