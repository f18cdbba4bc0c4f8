package stages

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/bandercheck/bandercheck/pipeline"
)

// ShowPlan prints, reading STATE only, the plan (its summary table) and what
// apply did with it, and what the last check's apply did (STATE/previous):
// the read-only view of plan --show and status.
func ShowPlan(w io.Writer, state *pipeline.State) error {
	sum, err := state.PlanSummary()
	switch {
	case errors.Is(err, os.ErrNotExist):
		fmt.Fprintf(w, "plan: none in %s yet\n", state.Dir())
	case err != nil:
		return err
	default:
		fmt.Fprintf(w, "plan %s, made %s (%s ago):\n", sum.PlanID, sum.Created.UTC().Format(time.RFC3339), time.Since(sum.Created).Round(time.Minute))
		if err := printPlanSummary(w, sum); err != nil {
			return err
		}
	}
	if err := printApplied(w, state, "applied (this plan):"); err != nil {
		return err
	}
	return printApplied(w, state.Previous(), "applied (the last check's plan, kept in STATE/previous):")
}

// printApplied prints the result counts of each applied manifest in state,
// under title, when there are any.
func printApplied(w io.Writer, state *pipeline.State, title string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	printed := false
	for _, a := range []string{"download", "delete", "remove-projects"} {
		counts, err := appliedCounts(state, a)
		if err != nil {
			continue
		}
		if !printed {
			fmt.Fprintln(w, title)
			fmt.Fprintln(tw, "action\tok\tpresent\tskipped\tfailed\t")
			printed = true
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t\n", a, counts[resultOK], counts[resultPresent], counts[resultSkipped], counts[resultFailed])
	}
	return tw.Flush()
}

// KeepApplied is what plan does with the applied results of the plan it
// replaces: when that apply went through to its end they are kept in
// STATE/previous/applied; when it stopped halfway, a new plan is refused
// without --force (finish it with apply, or read it with plan --show).
func KeepApplied(g *Env, force bool) error {
	applied := filepath.Join(g.State, "applied")
	if _, err := os.Stat(applied); err != nil {
		return nil
	}
	run, err := g.StateDir().Run()
	if err != nil {
		return err
	}
	sum, serr := g.StateDir().PlanSummary()
	finished := serr == nil && run.Option(applyFinished) == sum.PlanID
	if !finished && !force {
		return &pipeline.RefusedError{Guards: []string{"applied"}, Msg: fmt.Sprintf("the plan in %s is partly applied: a new plan would replace it before apply has finished. "+
			"Finish it (bandercheck apply), or read the plan and what was applied (bandercheck plan --show), or plan anew with --force (the applied results are kept in %s)",
			g.State, filepath.Join(g.State, pipeline.PreviousDir, "applied"))}
	}
	if err := g.StateDir().KeepApplied(run.Mirror); err != nil {
		return err
	}
	logf(g, "plan: a new plan replaces the old one; what apply did with it is kept in %s", filepath.Join(g.State, pipeline.PreviousDir, "applied"))
	return nil
}
