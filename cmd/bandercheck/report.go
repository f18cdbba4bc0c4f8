package main

import (
	"context"

	"github.com/bandercheck/bandercheck/internal/stages"
)

// ReportCmd is report: it reads STATE and writes one HTML page (not STATE's manifests).
type ReportCmd struct {
	Out string `help:"Where to write the page (- for stdout)." default:"${report_out}" placeholder:"FILE"`
	Top int    `help:"How many projects the tables of bytes to download and to delete list." default:"${report_top}"`
}

// WritesState implements stateWriter: report only reads STATE (its page
// may land in it, replaced atomically), so it takes no state lock.
func (c *ReportCmd) WritesState() bool { return false }

// Run implements the command.
func (c *ReportCmd) Run(ctx context.Context, g *stages.Env) error {
	o := stages.ReportOptions{Out: c.Out, Top: c.Top}
	return o.Run(ctx, g)
}
