package main

import "github.com/bandercheck/bandercheck/pipeline"

func notBuilt(cmd string) error {
	return &pipeline.UsageError{Msg: cmd + " is not built yet in this version of bandercheck"}
}

// RunCmd runs every stage.
type RunCmd struct{}

// Run implements the command.
func (c *RunCmd) Run() error { return notBuilt("run") }
