package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/bandercheck/bandercheck/internal/stages"

	"github.com/bandercheck/bandercheck/pipeline"
)

// StatusCmd prints each manifest's state.
type StatusCmd struct {
	JSON bool `help:"Print JSON instead of a table."`
}

// StatusRow is one manifest in the status output.
type StatusRow struct {
	Manifest string     `json:"manifest"`
	Stage    string     `json:"stage"`
	State    string     `json:"state"`
	Shards   int        `json:"shards"`
	Rows     int64      `json:"rows"`
	Cursor   string     `json:"cursor"`
	Started  *time.Time `json:"started,omitempty"`
	Finished *time.Time `json:"finished,omitempty"`
}

// WritesState implements stateWriter: status only reads STATE.
func (c *StatusCmd) WritesState() bool { return false }

// Run implements the command.
func (c *StatusCmd) Run(g *stages.Env) error {
	if _, err := os.Stat(g.State); err != nil {
		return &pipeline.UsageError{Msg: fmt.Sprintf("state directory %s: %v: run a stage first, or pass --state", g.State, err)}
	}
	var rows []StatusRow
	for _, name := range pipeline.ManifestNames {
		sf, err := g.StateDir().StageFile(name)
		if errors.Is(err, os.ErrNotExist) {
			rows = append(rows, StatusRow{Manifest: name, State: "not started"})
			continue
		}
		if err != nil {
			return err
		}
		r := StatusRow{Manifest: name, Stage: sf.Stage, State: sf.State, Shards: len(sf.Shards), Rows: sf.Rows, Cursor: sf.Cursor, Finished: sf.Finished}
		if !sf.Started.IsZero() {
			r.Started = &sf.Started
		}
		rows = append(rows, r)
	}
	if c.JSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MANIFEST\tSTAGE\tSTATE\tSHARDS\tROWS\tCURSOR\tSTARTED\tFINISHED")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\n", r.Manifest, dash(r.Stage), r.State, r.Shards, r.Rows, dash(clip(r.Cursor, 48)), timeOrDash(r.Started), timeOrDash(r.Finished))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Println()
	return stages.ShowPlan(os.Stdout, g.StateDir())
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

func timeOrDash(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}
