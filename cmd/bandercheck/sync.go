package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/bandercheck/bandercheck/internal/stages"
)

// SyncCmd is `bandercheck sync`: mirror upstream as bandersnatch mirror
// (or bandersnatch sync NAME...) does with the config.
type SyncCmd struct {
	Projects          []string      `arg:"" optional:"" name:"project" help:"Sync only these projects, as 'bandersnatch sync NAME...' does (the status serial is not changed)."`
	DryRun            bool          `help:"Read upstream's index and the mirror, print the projects a sync would fetch (project,serial,reason), write nothing."`
	RemoveDeleted     bool          `help:"Remove the projects upstream no longer lists (files, documents, pages), within --max-remove-projects. Without it, like bandersnatch, they stay (run cleans them under its guards)."`
	MaxRemoveProjects stages.Limit  `help:"With --remove-deleted: refuse (exit 3) when more than this count or percentage of the mirror's projects are gone upstream." default:"1%"`
	Upstream          string        `help:"${upstream_help}" env:"BANDERCHECK_UPSTREAM" placeholder:"URL"`
	Workers           int           `help:"Projects synced at once (1-10); default: the config's [mirror] workers (3)."`
	StaleWait         time.Duration `help:"Wait after a stale answer before asking again, doubled each time (bandersnatch: 1s)." default:"1s" hidden:""`
}

func (c *SyncCmd) options() stages.SyncOptions {
	o := stages.DefaultSyncOptions()
	o.Projects, o.DryRun, o.RemoveDeleted = c.Projects, c.DryRun, c.RemoveDeleted
	o.MaxRemoveProjects, o.Upstream, o.Workers, o.StaleWait = c.MaxRemoveProjects, c.Upstream, c.Workers, c.StaleWait
	return o
}

// Validate implements kong's hook: bad values are refused before anything runs.
func (c *SyncCmd) Validate() error { return c.options().Validate() }

// WritesState implements stateWriter.
func (c *SyncCmd) WritesState() bool { return true }

// Run implements the command.
func (c *SyncCmd) Run(ctx context.Context, g *stages.Env) error {
	res, err := stages.Sync(ctx, g, c.options())
	if err != nil || c.DryRun {
		return err
	}
	out := g.Stdout
	if out == nil {
		out = os.Stdout
	}
	fmt.Fprintf(out, "sync: %d projects to fetch, %d synced, %d failed, %d files downloaded, %d projects removed; status serial %d\n",
		res.Todo, res.Synced, res.Failed, res.Downloaded, res.Removed, res.Serial)
	if res.Failed > 0 {
		return fmt.Errorf("sync: %d projects failed (see 'bandercheck cat problems/sync'); the status serial stays %d, so the next sync tries them again", res.Failed, res.Serial)
	}
	return nil
}
