package main

import (
	"context"

	"github.com/bandercheck/bandercheck/internal/stages"
)

// RunCmd is run: every stage in order, resuming where STATE left off. It
// takes plan's flags and apply's shared ones as they are; the flags it has
// for the scans are named apart (--list-jobs) where the scans' names collide.
type RunCmd struct {
	Hash             hashFlag    `help:"Fill storage sha256 (see scan storage --hash)." placeholder:"content|metadata|etag|etag+content|full"`
	RehashAfter      stages.Days `help:"See scan storage --rehash-after." default:"${rehash_after}"`
	From             string      `help:"Metadata source: json or simple (see scan metadata --from)." enum:",json,simple" default:"${metadata_from}"`
	Upstream         string      `help:"${upstream_help} scan upstream runs when either is given; apply fetches from it what simple pages link by path only." env:"BANDERCHECK_UPSTREAM" placeholder:"URL"`
	ListJobs         int         `help:"scan storage --jobs: ${storage_jobs_help}" default:"${storage_jobs}"`
	Jobs             int         `help:"scan metadata --jobs and apply --jobs (both ${metadata_jobs} by default; see their help)." default:"${metadata_jobs}"`
	PlanFlags        `embed:""`
	ApplySharedFlags `embed:""`
	DryRun           bool `help:"${run_dry_run_help}"`
	Fresh            bool `help:"Start a new check even when the one in STATE is unfinished (the last finished storage manifest and applied results are kept in STATE/previous)." xor:"start"`
	ResumeOnly       bool `help:"Only resume the check in STATE: never start a new one when it has finished (by default run starts a new check once the last was applied, its plan refused, or its plan is older than --max-plan-age)." xor:"start"`
}

func (c *RunCmd) options() stages.RunOptions {
	return stages.RunOptions{
		Hash: stages.HashMode(c.Hash), RehashAfter: c.RehashAfter, From: c.From, Upstream: c.Upstream,
		ListJobs: c.ListJobs, Jobs: c.Jobs, Plan: c.PlanFlags.options(), ApplyShared: c.ApplySharedFlags.options(),
		DryRun: c.DryRun, Fresh: c.Fresh, ResumeOnly: c.ResumeOnly,
	}
}

// Validate implements kong's hook: bad values are refused before anything runs.
func (c *RunCmd) Validate() error {
	o := c.options()
	o.ResumeOnly = o.ResumeOnly && !o.Fresh // kong's xor:"start" refuses both, in its own words
	return o.Validate()
}

// WritesState implements stateWriter.
func (c *RunCmd) WritesState() bool { return true }

// RecordsStages implements stageRecorder: run records each of its stages itself.
func (c *RunCmd) RecordsStages() bool { return true }

// Run implements the command.
func (c *RunCmd) Run(ctx context.Context, g *stages.Env) error {
	o := c.options()
	return o.Run(ctx, g)
}
