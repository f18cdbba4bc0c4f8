package main

import (
	"bytes"
	"context"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/alecthomas/kong"
)

// parseOutcome is what one parser made of a command line.
type parseOutcome struct {
	command string // the selected command, when it parsed
	err     string // the error, when it did not
	exit    int    // the code kong exited with (--version), or -1
	out     string // what kong printed
}

// parseOnly parses args with p (no command runs) and tells what came of it.
func parseOnly(p *kong.Kong, args []string, out *bytes.Buffer) (o parseOutcome) {
	o.exit = -1
	defer func() {
		if r := recover(); r != nil {
			c, ok := r.(exitPanic)
			if !ok {
				panic(r)
			}
			o.exit, o.out = int(c), out.String()
		}
	}()
	kctx, err := p.Parse(args)
	if err != nil {
		o.err = err.Error()
		return o
	}
	o.command, o.out = kctx.Command(), out.String()
	return o
}

// selected is the struct of the command CLI's command path starts with.
func selected(cli *CLI, command string) any {
	word, _, _ := strings.Cut(command, " ")
	return reflect.ValueOf(cli).Elem().FieldByName(leanCommands[word]).Interface()
}

// sampleValue is a value of v that parses, for a command line that sets
// every flag.
func sampleValue(v *kong.Value) string {
	switch {
	case v.Enum != "":
		return strings.TrimSpace(strings.Split(v.Enum, ",")[0])
	case v.Target.Type() == reflect.TypeFor[time.Duration]():
		return "2h"
	case v.HasDefault && v.Default != "":
		return v.Default
	}
	switch v.Name {
	case "partition":
		return "1/4"
	case "config":
		return "/dev/null"
	}
	switch v.Target.Kind() {
	case reflect.Int, reflect.Int64, reflect.Uint64, reflect.Float64:
		return "3"
	}
	return "x"
}

// leanCorpus is command lines for every command leanParser builds alone:
// each leaf command bare, with every flag of its own and every global flag
// set (before and after the command word), with globals from the
// environment, and the cases where a command's name is a flag's value.
func leanCorpus(t *testing.T) [][]string {
	t.Helper()
	var cli CLI
	p, err := newParser(context.Background(), &cli)
	if err != nil {
		t.Fatal(err)
	}
	corpus := [][]string{
		{"--version"}, {"--state", "x", "--version"}, {"--version", "--bogus"}, {"version"}, {"--state", "/tmp/s", "version"},
		{"--state", "sync", "status"}, {"--state", "run", "sync", "a", "b"}, {"--config", "/dev/null", "--state", "status", "sync"},
		{"sync", "--", "--help"}, {"sync", "--dry-run", "Django", "flask"}, {"status", "--bogus"}, {"statu"},
		{"--s3-path-style", "status"}, {"--no-s3-path-style", "status"}, {"--partition", "2/8", "scan", "storage"},
		{"--state=/tmp/x", "cat", "storage"}, {"cat"}, {"scan"}, {"status", "extra"},
	}
	for _, leaf := range p.Model.Leaves(true) {
		words := strings.Fields(leaf.Path())
		if _, ok := leanCommands[words[0]]; !ok {
			continue
		}
		var pos []string
		for _, a := range leaf.Positional {
			pos = append(pos, sampleValue(a))
		}
		var globals, own []string
		for i, group := range leaf.AllFlags(true) {
			for _, f := range group {
				if f.Name == "help" || f.Name == "version" {
					continue
				}
				arg := []string{"--" + f.Name}
				if !f.IsBool() {
					arg = append(arg, sampleValue(f.Value))
				}
				if i == 0 {
					globals = append(globals, arg...)
				} else {
					own = append(own, arg...)
				}
			}
		}
		cmd := append(append([]string{}, words...), pos...)
		corpus = append(corpus, cmd,
			append(append(append([]string{}, globals...), cmd...), own...),
			append(append(append([]string{}, cmd...), own...), globals...))
	}
	return corpus
}

// The command line is built with one command only when the arguments name
// it (a third of the cost of every command's flags, tags and defaults):
// over every command with every flag set, and command names given as flag
// values, the lean parser either fails (and the whole one then parses) or
// selects the same command with the same global flags and the same values
// of the command's flags, printing the same. Help and completion are never
// lean. Globals come from the environment as well.
func TestLeanParserParsesAsTheWholeOne(t *testing.T) {
	t.Setenv("BANDERCHECK_S3_REQUESTS", "17")
	t.Setenv("BANDERCHECK_LOG_FORMAT", "json")
	ctx := context.Background()
	agreed := map[string]bool{}
	for _, args := range leanCorpus(t) {
		var whole, lean CLI
		var wout, lout bytes.Buffer
		wp, err := newParser(ctx, &whole, kong.Writers(&wout, &wout))
		if err != nil {
			t.Fatal(err)
		}
		w := parseOnly(wp, args, &wout)
		lp := leanParser(ctx, &lean, args, kong.Writers(&lout, &lout))
		if lp == nil {
			for _, a := range args {
				if _, ok := leanCommands[a]; ok {
					t.Errorf("%q: no lean parser", args)
				}
			}
			continue
		}
		l := parseOnly(lp, args, &lout)
		if l.err != "" {
			if w.err == "" {
				t.Logf("%q: the lean parser fails (%s), the whole one parses it again", args, l.err)
			}
			continue
		}
		if l != w {
			t.Errorf("%q:\n lean  %+v\n whole %+v", args, l, w)
			continue
		}
		if l.exit >= 0 {
			continue
		}
		if !reflect.DeepEqual(lean.Globals, whole.Globals) {
			t.Errorf("%q: globals\n lean  %+v\n whole %+v", args, lean.Globals, whole.Globals)
		}
		if a, b := selected(&lean, l.command), selected(&whole, w.command); !reflect.DeepEqual(a, b) {
			t.Errorf("%q: %s\n lean  %+v\n whole %+v", args, l.command, a, b)
		}
		agreed[strings.Fields(l.command)[0]] = true
	}
	for name := range leanCommands {
		if !agreed[name] {
			t.Errorf("no command line of %s parsed lean", name)
		}
	}
	for _, args := range [][]string{{"sync", "--help"}, {"-h", "status"}, {"man"}, {"completion", "bash"}, {}, {"--state", "x"}} {
		var cli CLI
		if leanParser(ctx, &cli, args) != nil {
			t.Errorf("%q: a lean parser, where the whole command line is needed", args)
		}
	}
	t.Setenv("COMP_LINE", "bandercheck sy")
	var cli CLI
	if leanParser(ctx, &cli, []string{"sync"}) != nil {
		t.Errorf("a lean parser for a shell's completion request")
	}
}

// A sync costs a third of the whole command line's construction: the
// global flags and sync's own, not every command's.
func TestLeanParserAllocatesAThird(t *testing.T) {
	ctx := context.Background()
	allocs := func(build func(cli *CLI)) uint64 {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for range 5 {
			var cli CLI
			build(&cli)
		}
		runtime.ReadMemStats(&after)
		return (after.Mallocs - before.Mallocs) / 5
	}
	whole := allocs(func(cli *CLI) {
		if _, err := newParser(ctx, cli); err != nil {
			t.Fatal(err)
		}
	})
	lean := allocs(func(cli *CLI) {
		if leanParser(ctx, cli, []string{"--state", "s", "sync", "--config", "c"}) == nil {
			t.Fatal("no lean parser for sync")
		}
	})
	t.Logf("allocations: whole command line %d, sync's %d", whole, lean)
	if lean*2 > whole {
		t.Errorf("sync's command line takes %d allocations, the whole one %d: want less than half", lean, whole)
	}
}

// substituteVars copies only the texts that hold a variable: a Replacer
// copies every text it is given, and kong's model has some thousand texts
// (help, default, enum, placeholder, environment variables), nearly all
// without one. Run again over a model already substituted, it costs the
// Replacer's own construction and nothing a text.
func TestSubstituteVarsCopiesOnlyTextsWithVariables(t *testing.T) {
	var cli CLI
	p, err := newParser(context.Background(), &cli)
	if err != nil {
		t.Fatal(err)
	}
	sub := substituteVars(defaultVars())
	n := testing.AllocsPerRun(5, func() {
		if err := sub(p); err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("substituting over a model with no variable left: %v allocations", n)
	if n > 250 {
		t.Errorf("substituting over a model with no variable left: %v allocations", n)
	}
}
