package main

import (
	"context"
	"time"

	"github.com/bandercheck/bandercheck/internal/stages"
)

// ApplySharedFlags are apply's options that run takes as they are.
type ApplySharedFlags struct {
	Rate          float64       `help:"Download requests per second at most (0: no limit)." default:"${rate}"`
	DownloadBase  string        `help:"Download every file from this base URL instead, before the file URL's path (a closer mirror, a test server)." placeholder:"URL" env:"BANDERCHECK_DOWNLOAD_BASE"`
	MaxDelete     stages.Limit  `help:"Refuse deletes when the plan has more than this: a count, or a percentage of the stored files." default:"${max_delete}"`
	MaxPlanAge    time.Duration `help:"Refuse a plan older than this: the mirror has changed since." default:"${max_plan_age}"`
	AllowProblems bool          `help:"Delete even though some project's metadata could not be read by any source."`
}

func (f *ApplySharedFlags) options() stages.ApplyShared {
	return stages.ApplyShared{Rate: f.Rate, DownloadBase: f.DownloadBase, MaxDelete: f.MaxDelete, MaxPlanAge: f.MaxPlanAge, AllowProblems: f.AllowProblems}
}

// ApplyCmd is apply: it changes the mirror and writes STATE/applied.
type ApplyCmd struct {
	Jobs             int `help:"${apply_jobs_help}" default:"${apply_jobs}"`
	ApplySharedFlags `embed:""`
	Upstream         string        `help:"${upstream_help} Files that simple pages link by path only come from it, unless --download-base is given." env:"BANDERCHECK_UPSTREAM" placeholder:"URL"`
	Timeout          time.Duration `help:"Time limit of one download attempt." default:"${download_timeout}"`
	DryRun           bool          `help:"${apply_dry_run_help}"`
	Only             string        `help:"Carry out one action only." enum:",download,delete,remove-projects" default:""`
	Fresh            bool          `help:"Forget what earlier runs of apply recorded and carry out the whole plan again."`
}

func (c *ApplyCmd) options() stages.ApplyOptions {
	return stages.ApplyOptions{Jobs: c.Jobs, ApplyShared: c.ApplySharedFlags.options(), Upstream: c.Upstream, Timeout: c.Timeout, DryRun: c.DryRun, Only: c.Only, Fresh: c.Fresh}
}

// Validate implements kong's hook: bad values are refused before anything runs.
func (c *ApplyCmd) Validate() error { return c.options().Validate() }

// WritesState implements stateWriter.
func (c *ApplyCmd) WritesState() bool { return true }

// Run implements the command.
func (c *ApplyCmd) Run(ctx context.Context, g *stages.Env) error {
	o := c.options()
	return o.Run(ctx, g)
}
