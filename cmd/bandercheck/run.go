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
	Upstream         string      `help:"Upstream index base URL; scan upstream runs when this or a config [mirror] master is given." env:"BANDERCHECK_UPSTREAM" placeholder:"URL"`
	ListJobs         int         `help:"scan storage: folders listed at once, and files hashed at once on a disk (scan storage --jobs)." default:"${storage_jobs}"`
	Jobs             int         `help:"scan metadata: documents read at once on a disk (scan metadata --jobs); apply: downloads at once (apply --jobs). On S3 the scans run --s3-requests at once instead." default:"${metadata_jobs}"`
	PlanFlags        `embed:""`
	ApplySharedFlags `embed:""`
	DryRun           bool `help:"Stop after plan."`
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
