package stages

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/bandercheck/bandercheck/pipeline"
)

// RunAll runs every stage in order, resuming where STATE left off. It takes
// plan's options and apply's shared ones as they are; the flags it has for
// the scans are named apart (--list-jobs) where the scans' names collide.
type RunOptions struct {
	// Hash, RehashAfter: scan storage's.
	Hash        HashMode
	RehashAfter Days
	// From: scan metadata's.
	From string
	// Upstream is the upstream index's base URL; scan upstream runs when
	// this or the config's [mirror] master is given.
	Upstream string
	// ListJobs is scan storage's Jobs.
	ListJobs int
	// Jobs is scan metadata's and apply's Jobs.
	Jobs int
	Plan PlanOptions
	ApplyShared
	// DryRun stops after plan.
	DryRun bool
	// Fresh starts a new check even when the one in STATE is unfinished
	// (the last finished storage manifest and applied results are kept in
	// STATE/previous); ResumeOnly never starts a new one. At most one.
	Fresh      bool
	ResumeOnly bool

	now func() time.Time // scan storage's and run's clock, for tests
}

// DefaultRunOptions are run's defaults: each stage's own.
func DefaultRunOptions() RunOptions {
	s, m := DefaultScanStorageOptions(), DefaultScanMetadataOptions()
	return RunOptions{RehashAfter: s.RehashAfter, From: m.From, ListJobs: s.Jobs, Jobs: m.Jobs, Plan: DefaultPlanOptions(), ApplyShared: DefaultApplyShared()}
}

type stageTime struct {
	name string
	took time.Duration
	peak float64 // MiB resident at most during the stage; 0 when unknown
	skip bool
}

// Validate refuses options no run can go with.
func (c RunOptions) Validate() error {
	switch {
	case c.ListJobs < 1 || c.ListJobs > MaxJobs:
		return usage("--list-jobs %d: give 1 to %d", c.ListJobs, MaxJobs)
	case c.Fresh && c.ResumeOnly:
		return usage("--fresh and --resume-only can't be used together")
	}
	if err := c.Hash.Validate(); err != nil {
		return err
	}
	if err := checkFrom(c.From); err != nil {
		return err
	}
	if err := c.Plan.Validate(); err != nil {
		return err
	}
	return validateApply(c.Jobs, c.Rate, DefaultApplyOptions().Timeout, c.MaxPlanAge, c.DownloadBase, c.Upstream)
}

// Run implements the command.
func (c *RunOptions) Run(ctx context.Context, g *Env) error {
	if err := c.Validate(); err != nil {
		return err
	}
	part := !g.Partition.Whole()
	if part && !c.DryRun {
		return &pipeline.UsageError{Msg: fmt.Sprintf("run --partition %s scans one part of the mirror, and nothing can be planned or applied from one part: add --dry-run, then plan --partitions with every part's state, then apply", g.Partition)}
	}
	now := time.Now
	if c.now != nil {
		now = c.now
	}
	if fresh, why := c.nextCheck(g, now()); fresh {
		if why != "--fresh" {
			logf(g, "run: starting a new check: %s", why)
		}
		if err := startOver(g); err != nil {
			return err
		}
	}
	var times []stageTime
	step := func(name string, skip bool, fn func() error) error {
		if skip {
			times = append(times, stageTime{name: name, skip: true})
			return nil
		}
		start := time.Now()
		// what the stages before freed goes back to the system before this
		// one allocates its own (else the garbage of scan storage and the
		// new heap of scan metadata add up in the peak RSS of run); once,
		// here, not also after the last stage: each is a full collection
		// and a scavenge on this goroutine, up to 0.1 s
		own := resetPeakMemory()
		if g.StageStarting != nil {
			g.StageStarting(name)
		}
		err := fn()
		t := stageTime{name: name, took: time.Since(start)}
		if own {
			t.peak = peakMemoryMiB()
		}
		times = append(times, t)
		g.StageFinished(name, time.Since(start))
		if err != nil && !strings.HasPrefix(err.Error(), name+":") {
			return fmt.Errorf("%s: %w", name, err)
		}
		return err
	}
	upstream := c.Upstream
	if upstream == "" {
		if conf, err := g.config(); err == nil {
			upstream = conf.Master
		}
	}
	var res runResults
	err := step("scan storage", false, func() error {
		var err error
		res.storage, err = (&ScanStorageOptions{Jobs: c.ListJobs, Hash: c.Hash, RehashAfter: c.RehashAfter, now: c.now}).Run(ctx, g)
		return err
	})
	if err == nil {
		err = step("scan metadata", false, func() error {
			var err error
			res.metadata, err = (&ScanMetadataOptions{From: c.From, Jobs: c.Jobs, Memory: c.Plan.Memory}).Run(ctx, g)
			g.RecordMetadata(res.metadata)
			return err
		})
	}
	if err == nil {
		err = step("scan upstream", part || upstream == "" || g.StateDir().Done("upstream"), func() error {
			return (&ScanUpstreamOptions{Upstream: upstream, Timeout: DefaultScanUpstreamOptions().Timeout, Attempts: DefaultScanUpstreamOptions().Attempts}).Run(ctx, g)
		})
	}
	var planErr error
	if err == nil {
		err = step("plan", part || planCurrent(g.StateDir()), func() error {
			// run carries its check to the end: results of an apply it
			// started are kept in STATE/previous, not refused
			if err := KeepApplied(g, true); err != nil {
				return err
			}
			_, perr := c.Plan.plan(ctx, g)
			return perr
		})
		var re *pipeline.RefusedError
		if errors.As(err, &re) {
			planErr, err = err, nil
			c.DryRun = true // the plan is incomplete: nothing is applied
		}
	}
	if err == nil {
		err = step("apply", c.DryRun, func() error {
			return (&ApplyOptions{Jobs: c.Jobs, ApplyShared: c.ApplyShared, Upstream: upstream, Timeout: DefaultApplyOptions().Timeout}).Run(ctx, g)
		})
	}
	if part && err == nil {
		fmt.Fprintf(g.stdout(), "partition %s scanned into %s; once every part is, plan them with: bandercheck --state PLAN-STATE plan --partitions STATE-0,...,STATE-%d\n", g.Partition, g.State, g.Partition.N-1)
	}
	var ue *pipeline.UsageError
	if errors.As(err, &ue) {
		return err // nothing ran: no tables (of an earlier check) before the error
	}
	if !part {
		if herr := appendHistory(g.StateDir(), now()); herr != nil && err == nil {
			err = herr
		}
	}
	if rerr := c.report(g.stdout(), g, times, res); rerr != nil && err == nil {
		err = rerr
	}
	return errors.Join(err, planErr)
}

func stageDone(state *pipeline.State, manifest string) bool {
	sf, err := state.StageFile(manifest)
	return err == nil && sf.State == pipeline.StateDone
}

// planCurrent tells whether a finished plan is newer than its inputs. A plan
// whose removals a guard refused is never current: a rerun of run must meet
// the same refusal, not apply the incomplete plan.
func planCurrent(state *pipeline.State) bool {
	sum, err := state.PlanSummary()
	if err != nil || sum.RemovalsRefused || sum.DownloadsRefused || !state.Done("plan/download") {
		return false
	}
	for _, m := range []string{"storage", "designated", "upstream"} {
		if sf, err := state.StageFile(m); err == nil && sf.Finished != nil && sf.Finished.After(sum.Created) {
			return false
		}
	}
	return true
}

// runResults are what run's stages returned, for its report.
type runResults struct {
	storage  ScanStorageResult
	metadata ScanMetadataResult
}

// report prints the plan, what was applied, time per stage and peak memory.
func (c *RunOptions) report(w io.Writer, g *Env, times []stageTime, res runResults) error {
	if sum, err := g.StateDir().PlanSummary(); err == nil {
		fmt.Fprintln(w, "plan:")
		if err := printPlanSummary(w, sum); err != nil {
			return err
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	printed := false
	for _, a := range []string{"download", "delete", "remove-projects"} {
		counts, err := appliedCounts(g.StateDir(), a)
		if err != nil {
			continue
		}
		if !printed {
			fmt.Fprintln(w, "applied:")
			fmt.Fprintln(tw, "action\tok\tpresent\tskipped\tfailed\t")
			printed = true
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t\n", a, counts[resultOK], counts[resultPresent], counts[resultSkipped], counts[resultFailed])
	}
	fmt.Fprintln(tw, "stage\tseconds\tpeak MiB\t\t\t")
	peak := peakRSSMiB()
	for _, t := range times {
		if t.skip {
			fmt.Fprintf(tw, "%s\tskipped\t\t\t\t\n", t.name)
			continue
		}
		mem := "-"
		if t.peak > 0 {
			mem = fmt.Sprintf("%.0f", t.peak)
			peak = max(peak, t.peak)
		}
		fmt.Fprintf(tw, "%s\t%.1f\t%s\t\t\t\n", t.name, t.took.Seconds(), mem)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if res.storage.Hashing != nil {
		fmt.Fprintf(w, "hashing: %s\n", res.storage.Hashing)
	}
	if res.metadata.Scanned {
		fmt.Fprintf(w, "metadata: %s\n", res.metadata)
	}
	fmt.Fprintf(w, "peak memory: %.0f MiB\n", peak)
	return nil
}

func appliedCounts(state *pipeline.State, action string) (map[string]int64, error) {
	out := map[string]int64{}
	err := state.EachRow("applied/"+action, func(row []string) error {
		out[row[pipeline.AppliedResult]]++
		return nil
	})
	return out, err
}
