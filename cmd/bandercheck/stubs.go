package main

import "github.com/bandercheck/bandercheck/pipeline"

func notBuilt(cmd string) error {
	return &pipeline.UsageError{Msg: cmd + " is not built yet in this version of bandercheck"}
}

// ScanUpstreamCmd lists upstream projects.
type ScanUpstreamCmd struct{}

// Run implements the command.
func (c *ScanUpstreamCmd) Run() error { return notBuilt("scan upstream") }

// PlanCmd builds the plan.
type PlanCmd struct{}

// Run implements the command.
func (c *PlanCmd) Run() error { return notBuilt("plan") }

// ApplyCmd carries out the plan.
type ApplyCmd struct{}

// Run implements the command.
func (c *ApplyCmd) Run() error { return notBuilt("apply") }

// RunCmd runs every stage.
type RunCmd struct{}

// Run implements the command.
func (c *RunCmd) Run() error { return notBuilt("run") }
