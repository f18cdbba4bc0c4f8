package main

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/alecthomas/kong"
)

// modelTexts is every text kong interpolates in a parser's model: each
// command's help, and each flag's and argument's help, default, enum,
// placeholder and environment variables.
func modelTexts(p *kong.Kong) string {
	var b strings.Builder
	_ = kong.Visit(p.Model.Node, func(v kong.Visitable, next kong.Next) error {
		switch v := v.(type) {
		case *kong.Node:
			fmt.Fprintf(&b, "node %q: %q\n", v.Path(), v.Help)
		case *kong.Value:
			fmt.Fprintf(&b, "value %s: %q default %q enum %q env %q", v.Name, v.Help, v.Default, v.Enum, v.Tag.Envs)
			if v.Flag != nil {
				fmt.Fprintf(&b, " placeholder %q env %q", v.Flag.PlaceHolder, v.Flag.Envs)
			}
			b.WriteString("\n")
		}
		return next(nil)
	})
	return b.String()
}

// TestHelpIsKongsInterpolation: newParser writes the defaults' variables
// into the texts itself (kong read all of them again for each flag: most
// of a process start's 9 ms of command line), and every text comes out as
// kong's own interpolation of the same variables writes it.
func TestHelpIsKongsInterpolation(t *testing.T) {
	var ours, kongs CLI
	p, err := newParser(context.Background(), &ours)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := kong.New(&kongs, kong.Name("bandercheck"), kong.Description("Verify and clean a bandersnatch PyPI mirror with bounded memory.\n\n"+exitHelp), defaultVars(), kong.Vars{"version": versionString()},
		globalGroups, signedDurations(), kong.ValueFormatter(helpValue))
	if err != nil {
		t.Fatal(err)
	}
	got, want := modelTexts(p), modelTexts(ref)
	if got != want {
		gl, wl := strings.Split(got, "\n"), strings.Split(want, "\n")
		for i := range min(len(gl), len(wl)) {
			if gl[i] != wl[i] {
				t.Fatalf("line %d:\n ours  %s\n kong's %s", i, gl[i], wl[i])
			}
		}
		t.Fatalf("%d lines, kong's %d", len(gl), len(wl))
	}
	if !strings.Contains(got, "default \"30d\"") || strings.Contains(got, "${") {
		t.Errorf("the texts are not interpolated:\n%s", got)
	}
	for _, v := range []string{"grace", "upstream_help"} {
		if _, ok := p.Model.Vars()[v]; ok {
			t.Errorf("kong still holds ${%s}: it would interpolate it again for every flag", v)
		}
	}
}

// BenchmarkNewParser is the command line's construction, paid at every
// process start.
func BenchmarkNewParser(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		var cli CLI
		if _, err := newParser(context.Background(), &cli); err != nil {
			b.Fatal(err)
		}
	}
}
