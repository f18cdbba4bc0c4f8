package main

import (
	"context"
	"os"
	"time"

	"github.com/bandercheck/bandercheck/internal/stages"
)

// PlanFlags are plan's options, which run takes as they are.
type PlanFlags struct {
	Grace             time.Duration        `help:"Files modified after the storage scan began, less this, are never planned for deletion." default:"${grace}"`
	MaxRemoveProjects stages.Limit         `help:"Refuse project removals when more local projects than this (a count or a percentage) are missing upstream." default:"${max_remove_projects}"`
	Memory            stages.ByteSize      `help:"Memory budget of the whole stage (sort runs spill to STATE/tmp beyond it)." default:"${memory}"`
	RemoveFiltered    bool                 `name:"remove-filtered-projects" help:"Also remove the local projects that the config's project filters exclude (scan metadata reports them in problems/metadata), within --max-remove-projects."`
	MaxDownload       stages.DownloadLimit `help:"Refuse a plan that downloads more than this: a count, a percentage of the designated files, or a size such as 2TiB (a misread filter or config must not pull terabytes)." default:"${max_download}"`
}

func (f *PlanFlags) options() stages.PlanOptions {
	return stages.PlanOptions{Grace: f.Grace, MaxRemoveProjects: f.MaxRemoveProjects, Memory: f.Memory, RemoveFiltered: f.RemoveFiltered, MaxDownload: f.MaxDownload}
}

// PlanCmd is plan: it writes STATE/plan; with --partitions it first puts the
// parts of one mirror that several machines scanned (--partition K/N) together.
type PlanCmd struct {
	PlanFlags  `embed:""`
	Show       bool     `help:"Print the plan in STATE and what apply did with it, reading STATE only (no new plan)."`
	Force      bool     `help:"Plan anew even over a plan that apply has started and not finished (its applied results are kept in STATE/previous/applied)."`
	Partitions []string `help:"Put the scans of these partitions' state directories (or of every state directory in one folder) end to end into STATE first, then plan: the plan one scan of the whole mirror would give. STATE keeps its own scan upstream." sep:"," placeholder:"STATE,...|DIR"`
}

// Validate implements kong's hook: bad values are refused before anything runs.
func (c *PlanCmd) Validate() error { return c.options().Validate() }

// WritesState implements stateWriter: plan --show only reads.
func (c *PlanCmd) WritesState() bool { return !c.Show }

// Run implements the command.
func (c *PlanCmd) Run(ctx context.Context, g *stages.Env) error {
	if c.Show {
		return stages.ShowPlan(os.Stdout, g.StateDir())
	}
	o := c.options()
	if err := o.Validate(); err != nil {
		return err
	}
	if err := stages.KeepApplied(g, c.Force); err != nil {
		return err
	}
	if len(c.Partitions) > 0 {
		if err := stages.AssembleParts(g, c.Partitions); err != nil {
			return err
		}
	}
	return o.Run(ctx, g)
}
