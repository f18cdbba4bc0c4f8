package stages

import (
	"fmt"
	"time"

	"github.com/bandercheck/bandercheck/pipeline"
)

// nextCheck decides whether run resumes the check in STATE or starts a new
// one, and says why when it starts over. A timer runs the same command every
// day, so run must re-check the mirror once the last check has finished:
//
//   - --fresh always starts over; --resume-only never does;
//   - a part's scans (--partition) that finished start over: the plan is made
//     from every part's state elsewhere, so a finished part has nothing left;
//   - a check whose apply ran to its end starts over;
//   - a plan that a guard refused starts over (rerun plan with the guard
//     raised, then apply, to act on it without scanning again);
//   - a finished plan older than --max-plan-age (a dry run nobody applied, or
//     an apply that stopped long ago) starts over: apply would refuse it;
//   - anything else resumes: an unfinished scan, plan or apply, and a fresh
//     dry run, which run then applies.
func (c *RunOptions) nextCheck(g *Env, now time.Time) (fresh bool, why string) {
	switch {
	case c.Fresh:
		return true, "--fresh"
	case c.ResumeOnly:
		return false, ""
	}
	run, err := g.StateDir().Run()
	if err != nil {
		return false, "" // nothing to resume: the scans start anyway
	}
	if !g.Partition.Whole() {
		if g.StateDir().Done("storage") && g.StateDir().Done("designated") {
			return true, "this part's scans finished (the plan is made from every part's state)"
		}
		return false, ""
	}
	sum, err := g.StateDir().PlanSummary()
	if err != nil || !g.StateDir().Done("plan/download") {
		return false, ""
	}
	if run.Option(applyFinished) == sum.PlanID {
		return true, "the last check's plan was applied"
	}
	if sum.DownloadsRefused || sum.RemovalsRefused {
		return true, "a guard refused the last check's plan (to act on it without scanning again: bandercheck plan with the guard raised, then bandercheck apply)"
	}
	if age := now.Sub(sum.Created); age > c.MaxPlanAge {
		return true, fmt.Sprintf("the last check's plan is %s old, older than --max-plan-age %s", age.Round(time.Minute), c.MaxPlanAge)
	}
	return false, ""
}

// startOver keeps what the next check reuses or an operator may look for
// (the finished storage manifest for its digests, the finished metadata
// manifests for the rows of unchanged projects, the applied results as
// evidence) in STATE/previous and discards the rest.
func startOver(g *Env) error {
	if old, err := g.StateDir().Run(); err == nil {
		if err := g.StateDir().KeepPrevious(old.Mirror); err != nil {
			return err
		}
		if err := g.StateDir().KeepPreviousMetadata(old.Mirror); err != nil {
			return err
		}
		if err := g.StateDir().KeepApplied(old.Mirror); err != nil {
			return err
		}
	}
	return g.StateDir().Discard()
}

// appendHistory adds this run's line to STATE/history.csv: what the plan in
// STATE found and what apply did with it (nothing without a plan).
func appendHistory(state *pipeline.State, now time.Time) error {
	sum, err := state.PlanSummary()
	if err != nil || sum.Join == nil {
		return nil
	}
	files := func(m map[string]*pipeline.Tally, reasons ...string) (n int64) {
		for _, r := range reasons {
			if t := m[r]; t != nil {
				n += t.Files
			}
		}
		return n
	}
	e := pipeline.HistoryEntry{Time: now, PlanID: sum.PlanID,
		Missing: files(sum.Join.Download, "missing"), Corrupt: files(sum.Join.Download, "size-mismatch", "hash-mismatch"),
		Unowned: files(sum.Join.Delete, "unowned"), ProjectRemoved: files(sum.Join.Delete, "project-removed")}
	for _, a := range []string{"download", "delete", "remove-projects"} {
		counts, err := appliedCounts(state, a)
		if err != nil {
			continue
		}
		switch a {
		case "download":
			e.Repaired += counts[resultOK]
		case "delete":
			e.Deleted += counts[resultOK]
		}
		e.Failed += counts[resultFailed]
	}
	return state.AppendHistory(e)
}
