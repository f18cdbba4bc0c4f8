package main

import "github.com/bandercheck/bandercheck/internal/goldentree"

// GoldenRecordCmd records a mirror tree as a golden tree.
type GoldenRecordCmd struct {
	Root string `arg:"" help:"Mirror folder to record."`
	Out  string `arg:"" help:"Folder to write MANIFEST and tree/ into (replaced)."`
}

// Run implements the command.
func (c *GoldenRecordCmd) Run() error { return goldentree.Record(c.Root, c.Out) }
