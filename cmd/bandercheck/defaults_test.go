package main

import (
	"reflect"
	"testing"

	"github.com/alecthomas/kong"

	"github.com/bandercheck/bandercheck/internal/stages"
)

// TestFlagDefaultsAreTheLibrarys: each command parsed with no flags maps onto
// exactly the stage's Default…Options, so a default lives in one place.
func TestFlagDefaultsAreTheLibrarys(t *testing.T) {
	t.Setenv("BANDERCHECK_UPSTREAM", "")
	t.Setenv("BANDERCHECK_DOWNLOAD_BASE", "")
	for _, c := range []struct {
		args []string
		got  func(*CLI) any
		want any
	}{
		{[]string{"scan", "storage"}, func(c *CLI) any { return c.Scan.Storage.options() }, stages.DefaultScanStorageOptions()},
		{[]string{"scan", "metadata"}, func(c *CLI) any { return c.Scan.Metadata.options() }, stages.DefaultScanMetadataOptions()},
		{[]string{"scan", "upstream"}, func(c *CLI) any { return c.Scan.Upstream.options() }, stages.DefaultScanUpstreamOptions()},
		{[]string{"plan"}, func(c *CLI) any { return c.Plan.options() }, stages.DefaultPlanOptions()},
		{[]string{"apply"}, func(c *CLI) any { return c.Apply.options() }, stages.DefaultApplyOptions()},
		{[]string{"run"}, func(c *CLI) any { return c.Run.options() }, stages.DefaultRunOptions()},
		{[]string{"report"}, func(c *CLI) any { return stages.ReportOptions{Out: c.Report.Out, Top: c.Report.Top} }, stages.DefaultReportOptions()},
	} {
		var cli CLI
		parser, err := kong.New(&cli, defaultVars())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := parser.Parse(c.args); err != nil {
			t.Fatalf("%v: %v", c.args, err)
		}
		if got := c.got(&cli); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%v: flags give\n %+v\nthe library's defaults are\n %+v", c.args, got, c.want)
		}
	}
}

// TestCommandsSayWhetherTheyWriteState: every command says it, and only
// status, report, cat, version, completion and man leave STATE alone (they
// run without the lock).
func TestCommandsSayWhetherTheyWriteState(t *testing.T) {
	var cli CLI
	parser, err := kong.New(&cli, defaultVars())
	if err != nil {
		t.Fatal(err)
	}
	readers := map[string]bool{"status": true, "report": true, "cat": true,
		"version": true, "completion": true, "man": true}
	for _, n := range parser.Model.Leaves(true) {
		w, ok := n.Target.Addr().Interface().(stateWriter)
		if !ok {
			t.Errorf("%s does not say whether it writes STATE", n.Path())
			continue
		}
		if w.WritesState() == readers[n.Path()] {
			t.Errorf("%s: WritesState() = %v", n.Path(), w.WritesState())
		}
	}
}
