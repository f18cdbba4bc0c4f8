package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/time/rate"

	"github.com/bandercheck/bandercheck/pipeline"
	"github.com/bandercheck/bandercheck/sinks"
	"github.com/bandercheck/bandercheck/sources"
)

// ApplyCmd carries out the plan.
type ApplyCmd struct {
	Jobs          int           `help:"Downloads at once." default:"8"`
	Rate          float64       `help:"Download requests per second at most (0: no limit)." default:"0"`
	DownloadBase  string        `help:"Replace the scheme and host of file URLs (a closer mirror, a test server)." placeholder:"URL" env:"BANDERCHECK_DOWNLOAD_BASE"`
	Timeout       time.Duration `help:"Time limit of one download attempt." default:"10m"`
	MaxDelete     Limit         `help:"Refuse deletes when the plan has more than this: a count, or a percentage of the stored files." default:"10%"`
	AllowProblems bool          `help:"Delete even though some project's metadata could not be read by any source."`
	DryRun        bool          `help:"Print what would be done and change nothing."`
	Only          string        `help:"Carry out one action only." enum:",download,delete,remove-projects" default:""`
	Fresh         bool          `help:"Forget what earlier runs of apply recorded and carry out the whole plan again."`
}

// applyAction is one kind of planned work.
type applyAction struct {
	name   string // download, delete, remove-projects
	do     func(ctx context.Context, rows [][]string) ([][]string, error)
	finish func(ctx context.Context) error // after the last shard, before the stage is done
}

// Run implements the command.
func (c *ApplyCmd) Run(ctx context.Context, g *Globals) error {
	run, _, err := g.openRun()
	if err != nil {
		return err
	}
	sum, err := pipeline.ReadPlanSummary(g.State)
	if errors.Is(err, os.ErrNotExist) {
		return &pipeline.UsageError{Msg: "there is no plan in " + g.State + ": run bandercheck plan first"}
	}
	if err != nil {
		return err
	}
	if sum.RunID != run.ID {
		return &pipeline.UsageError{Msg: fmt.Sprintf("the plan in %s was made for run %s, not this state's run %s: run bandercheck plan again", g.State, sum.RunID, run.ID)}
	}
	if c.DryRun {
		return c.dryRun(sum)
	}
	store, loc, err := g.openStore(ctx)
	if err != nil {
		return err
	}
	var mirror sinks.Mirror
	if loc.IsS3() {
		mirror = sinks.NewS3Mirror(store.(*sources.S3Store), filepath.Join(g.State, "tmp", "uploads"))
	} else {
		mirror = sinks.NewDirMirror(loc.Path)
	}
	unlock, err := mirror.Lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	if err := run.Require("apply.plan-id", sum.PlanID, c.Fresh); err != nil {
		return err
	}

	refusals := c.deleteRefusals(sum)
	var failures []string
	for _, a := range c.actions(g.State, store, mirror) {
		if c.Only != "" && a.name != c.Only {
			continue
		}
		if a.name != "download" && len(refusals) > 0 {
			continue
		}
		if err := c.apply(ctx, g, a); err != nil {
			return err
		}
		// counted over the whole manifest: shards applied before a kill count too
		counts, err := appliedCounts(g.State, a.name)
		if err != nil {
			return err
		}
		if failed := counts["failed"]; failed > 0 {
			failures = append(failures, fmt.Sprintf("%d %s rows failed (bandercheck cat applied/%s | grep ,failed,)", failed, a.name, a.name))
		}
	}
	if len(refusals) > 0 {
		return &pipeline.RefusedError{Msg: "apply refused deletes and project removals (downloads ran): " + strings.Join(refusals, "; ")}
	}
	if len(failures) > 0 {
		return fmt.Errorf("apply finished with failures: %s", strings.Join(failures, "; "))
	}
	return nil
}

// deleteRefusals returns why deletes must not run, each naming its override.
func (c *ApplyCmd) deleteRefusals(sum *pipeline.PlanSummary) []string {
	if c.Only == "download" {
		return nil // nothing is deleted
	}
	var out []string
	if sum.ProblemsWithoutFallback > 0 && !c.AllowProblems {
		out = append(out, fmt.Sprintf("%d projects' metadata could not be read by any source, so their files cannot be told from orphans (see bandercheck cat problems/metadata; --allow-problems overrides)", sum.ProblemsWithoutFallback))
	}
	deletes := pipeline.Total(sum.Join.Delete).Files
	if limit := c.MaxDelete.Of(sum.Join.Stored.Files); deletes > limit && c.Only != "remove-projects" {
		out = append(out, fmt.Sprintf("the plan deletes %d of %d stored files, more than --max-delete %s (%d) allows", deletes, sum.Join.Stored.Files, c.MaxDelete, limit))
	}
	return out
}

func (c *ApplyCmd) actions(state string, store sources.Store, mirror sinks.Mirror) []applyAction {
	f := &sinks.Fetcher{Client: &http.Client{Timeout: c.Timeout}, Base: c.DownloadBase}
	if c.Rate > 0 {
		f.Limiter = rate.NewLimiter(rate.Limit(c.Rate), 1)
	}
	d := &downloader{store: store, mirror: mirror, fetch: f, jobs: c.Jobs}
	return []applyAction{
		{name: "download", do: d.shard},
		{name: "delete", do: func(ctx context.Context, rows [][]string) ([][]string, error) { return deleteShard(ctx, mirror, rows) }},
		{name: "remove-projects",
			do: func(ctx context.Context, rows [][]string) ([][]string, error) {
				return removeProjectsShard(ctx, mirror, rows)
			},
			finish: func(ctx context.Context) error {
				removed, err := removedProjects(state)
				if err != nil {
					return err
				}
				return sinks.RewriteRootIndex(ctx, store, mirror, removed)
			}},
	}
}

// apply carries out one action shard by shard; each plan shard's results
// become one unit of applied/<action>, so a rerun skips recorded shards and
// redoes the current one.
func (c *ApplyCmd) apply(ctx context.Context, g *Globals, a applyAction) error {
	planName, appliedName := "plan/"+a.name, "applied/"+a.name
	plan, err := pipeline.OpenManifest(g.State, planName)
	if err != nil {
		return err
	}
	defer plan.Close()
	st, err := pipeline.OpenStage(g.State, "apply "+a.name, c.Fresh, g.stageOptions(), pipeline.MustSpec(appliedName))
	if err != nil {
		return err
	}
	defer st.Close()
	if st.Done() {
		return nil
	}
	start := 0
	if cur := st.Cursor(); cur != "" {
		if start, err = strconv.Atoi(cur); err != nil {
			return fmt.Errorf("apply %s: cursor %q: %w (start over with --fresh)", a.name, cur, err)
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
	}
	for i := start; i < len(shards); i++ {
		rows, err := plan.ReadShard(i)
		if err != nil {
			return err
		}
		results, err := a.do(ctx, rows)
		if err != nil {
			return fmt.Errorf("apply %s: %w", a.name, err)
		}
		for _, r := range results {
			if r[2] == "failed" {
				rep.Fail()
			}
			if err := st.Write(0, r[:4]...); err != nil {
				return err
			}
			size, _ := strconv.ParseInt(r[4], 10, 64)
			rep.Add(1, size)
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
	return st.Finish()
}

// dryRun prints what apply would do.
func (c *ApplyCmd) dryRun(sum *pipeline.PlanSummary) error {
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "would\tfiles\tbytes\t")
	dl, del := pipeline.Total(sum.Join.Download), pipeline.Total(sum.Join.Delete)
	refusals := c.deleteRefusals(sum)
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
