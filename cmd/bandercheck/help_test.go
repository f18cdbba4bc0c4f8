package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/alecthomas/kong"
)

// helpOf is a command's --help, parsed and printed in this process.
func helpOf(t *testing.T, command ...string) string {
	t.Helper()
	code, out := runInProcess(t, append(command, "--help")...)
	if code != 0 {
		t.Fatalf("%v --help: exit %d\n%s", command, code, out)
	}
	return out
}

// leafCommands are every command's words, from the kong model.
func leafCommands(t *testing.T) [][]string {
	t.Helper()
	var cli CLI
	parser, err := newParser(context.Background(), &cli)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]string
	for _, n := range parser.Model.Leaves(true) {
		out = append(out, strings.Fields(n.Path()))
	}
	return out
}

// TestSubcommandHelpFitsAScreen: a command's --help lists its own flags
// first and then the global ones under their headings (S3 and the advanced
// ones apart), each global flag on one line; scan storage's help was 51
// lines with 35 of global flags before its own.
func TestSubcommandHelpFitsAScreen(t *testing.T) {
	h := helpOf(t, "scan", "storage")
	order := []string{"--jobs=", "--hash", "--fresh", "Global flags", "--mirror=", "\nS3:", "--s3-endpoint=", "\nAdvanced:", "--s3-requests=", "--partition="}
	at := -1
	for _, w := range order {
		i := strings.Index(h, w)
		if i < at {
			t.Errorf("%q comes before what precedes it in %q:\n%s", w, order, h)
		}
		at = i
	}
	if n := strings.Count(h, "\n"); n > 40 {
		t.Errorf("scan storage --help is %d lines, want at most 40:\n%s", n, h)
	}
	for _, cmd := range leafCommands(t) {
		h := helpOf(t, cmd...)
		global := strings.Index(h, "Global flags")
		if global < 0 {
			t.Errorf("%v --help has no global flags heading:\n%s", cmd, h)
			continue
		}
		for _, f := range []string{"--mirror=", "--state=", "--s3-endpoint=", "--s3-requests=", "--partition=", "--metrics-file="} {
			if i := strings.Index(h, f); i < global {
				t.Errorf("%v --help: %s before the global heading:\n%s", cmd, f, h)
			}
		}
		// one line a global flag: its help fits beside it
		for _, line := range strings.Split(h[global:], "\n") {
			if strings.HasPrefix(line, "      ") {
				t.Errorf("%v --help: a global flag's help wraps: %q", cmd, line)
			}
		}
	}
}

// flagHelps is the help text of every flag of that name, by command.
func flagHelps(t *testing.T, name string) map[string]string {
	t.Helper()
	var cli CLI
	parser, err := newParser(context.Background(), &cli)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, n := range parser.Model.Leaves(true) {
		for _, f := range n.Flags {
			if f.Name == name {
				out[n.Path()] = f.Help
			}
		}
	}
	return out
}

// TestOneMeaningPerFlagName: --upstream is upstream's index everywhere (apply
// takes its file base from --download-base); --dry-run says what it does on
// each command; --jobs says why scan storage's default is larger.
func TestOneMeaningPerFlagName(t *testing.T) {
	vars := defaultVars()
	ups := flagHelps(t, "upstream")
	for _, cmd := range []string{"scan upstream", "run", "apply", "sync"} {
		if h, ok := ups[cmd]; !ok || !strings.HasPrefix(h, vars["upstream_help"]) {
			t.Errorf("%s --upstream: %q, want it to begin %q", cmd, h, vars["upstream_help"])
		}
	}
	if _, ok := flagHelps(t, "download-base")["apply"]; !ok {
		t.Error("apply has no --download-base")
	}
	dry := flagHelps(t, "dry-run")
	if h := dry["run"]; !strings.Contains(h, "apply is not run") || !strings.Contains(h, "a later run applies this plan") {
		t.Errorf("run --dry-run: %q", h)
	}
	if h := dry["apply"]; !strings.Contains(h, "print how many files and bytes") || !strings.Contains(h, "change nothing") {
		t.Errorf("apply --dry-run: %q", h)
	}
	jobs := flagHelps(t, "jobs")
	if h := jobs["scan storage"]; !strings.Contains(h, "more than elsewhere") {
		t.Errorf("scan storage --jobs does not say why its default is larger: %q", h)
	}
}

// TestNegativeGraceReachesTheGraceCheck: --grace -1h (a value the README
// gives as refused) reaches plan's check of --grace, exit 2 with its
// message, instead of kong taking "-1h" for a short flag; as do
// --grace=-1h and run --max-plan-age -2h.
func TestNegativeGraceReachesTheGraceCheck(t *testing.T) {
	var errb bytes.Buffer
	old := stderr
	stderr = &errb
	t.Cleanup(func() { stderr = old })
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"plan", "--grace", "-1h"}, "--grace -1h0m0s: give a duration of 0s or more"},
		{[]string{"run", "--grace", "-1h"}, "--grace -1h0m0s: give a duration of 0s or more"},
		{[]string{"plan", "--grace=-1h"}, "--grace -1h0m0s: give a duration of 0s or more"},
		{[]string{"run", "--max-plan-age", "-2h"}, "--max-plan-age -2h0m0s"},
		{[]string{"plan", "--grace", "-x"}, `expected duration value but got "-x"`},
	} {
		errb.Reset()
		var out bytes.Buffer
		code := run(context.Background(), c.args, kong.Writers(&out, &out))
		if code != 2 || !strings.Contains(errb.String(), c.want) {
			t.Errorf("%v: exit %d, %q; want exit 2 and %q", c.args, code, errb.String(), c.want)
		}
	}
}
