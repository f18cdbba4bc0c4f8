package main

import (
	"context"

	"github.com/bandercheck/bandercheck/internal/fakepypi"
)

// WarehouseCmd serves the fake upstream of a scenario on loopback.
type WarehouseCmd struct {
	Scenario string `help:"Scenario to serve (golden)." default:"golden" enum:"golden"`
	Step     int    `help:"State of the scenario (0 = first sync, 1 = after upstream changes)." default:"0"`
	Addr     string `help:"Listen address (loopback only)." default:"127.0.0.1:0"`
}

// Run implements the command: it prints the base URL, then serves until interrupted.
func (c *WarehouseCmd) Run(ctx context.Context) error {
	l, err := listenLoopback("warehouse", c.Addr)
	if err != nil {
		return err
	}
	w, err := fakepypi.Golden("http://"+l.Addr().String(), c.Step)
	if err != nil {
		l.Close()
		return err
	}
	return serveUntilDone(ctx, l, w)
}
