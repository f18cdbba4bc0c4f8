package main

import (
	"context"

	"github.com/bandercheck/bandercheck/internal/fakepypi"
)

// WarehouseCmd serves the fake upstream of a scenario on loopback.
type WarehouseCmd struct {
	Scenario string `help:"Scenario to serve: golden, or synthetic (--projects projects of --files files; step 1 changes 1% of them)." default:"golden" enum:"golden,synthetic"`
	Step     int    `help:"State of the scenario (0 = first sync, 1 = after upstream changes)." default:"0"`
	Projects int    `help:"Projects of the synthetic scenario." default:"10000"`
	Files    int    `help:"Files per project of the synthetic scenario." default:"2"`
	Addr     string `help:"Listen address (loopback only)." default:"127.0.0.1:0"`
	// Prerender renders every answer before it listens (benchmarks: the
	// fake then costs each client a copy per request, not a rendering)
	Prerender bool `help:"Render the index and every document before listening, and keep answers until the model changes (benchmarks: the fake upstream then costs each client the same, little CPU)."`
}

// Run implements the command: it prints the base URL, then serves until interrupted.
func (c *WarehouseCmd) Run(ctx context.Context) error {
	l, err := listenLoopback("warehouse", c.Addr)
	if err != nil {
		return err
	}
	base := "http://" + l.Addr().String()
	var w *fakepypi.Warehouse
	if c.Scenario == "synthetic" {
		w = fakepypi.Synthetic(base, c.Projects, c.Files, c.Step)
	} else if w, err = fakepypi.Golden(base, c.Step); err != nil {
		l.Close()
		return err
	}
	if c.Prerender {
		w.Prerender()
	}
	return serveUntilDone(ctx, l, w)
}
