package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/alecthomas/kong"
)

// ManCmd is man: the manual page in roff, written from the kong model, so
// that it says what --help says, for every command and flag.
type ManCmd struct{}

// Run implements the command.
func (c *ManCmd) Run(k *kong.Context) error {
	return writeMan(k.Stdout, k.Model)
}

// roffEscaper makes help text safe in roff: a backslash is \e, and a line
// may not begin with a control character ('.' or ').
var roffEscaper = strings.NewReplacer(`\`, `\e`, "\n.", "\n\\&.", "\n'", "\n\\&'")

func roffText(s string) string {
	s = roffEscaper.Replace(s)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}

// roffFlag is a flag as --help writes it, bold name and italic value.
func roffFlag(f *kong.Flag) string {
	name := f.Name
	if f.Tag.Negatable != "" {
		name = "[no-]" + name
	}
	s := `\fB\-\-` + strings.ReplaceAll(roffEscaper.Replace(name), "-", `\-`) + `\fR`
	if f.Short != 0 {
		s = `\fB\-` + string(f.Short) + `\fR, ` + s
	}
	if !f.IsBool() && !f.IsCounter() {
		s += `=\fI` + roffText(f.FormatPlaceHolder()) + `\fR`
	}
	return s
}

// roffFlags writes flags as a tagged list, with each one's environment variable.
func roffFlags(w io.Writer, flags []*kong.Flag) {
	for _, f := range flags {
		if f.Hidden {
			continue
		}
		help := f.Help
		if len(f.Envs) > 0 {
			help += " Environment: " + strings.Join(f.Envs, ", ") + "."
		}
		fmt.Fprintf(w, ".TP\n%s\n%s\n", roffFlag(f), roffText(help))
	}
}

// writeMan writes the manual page of the model: every command with its
// arguments and flags, then the global flags under their headings.
func writeMan(w io.Writer, app *kong.Application) error {
	bw := &strings.Builder{}
	summary, rest, _ := strings.Cut(app.Help, "\n")
	fmt.Fprintf(bw, ".TH %s 1 \"\" \"%s\" \"User Commands\"\n", strings.ToUpper(app.Name), roffText(firstLine(versionString())))
	bw.WriteString(".nh\n") // no hyphenation: flag and variable names stay whole
	fmt.Fprintf(bw, ".SH NAME\n%s \\- %s\n", app.Name, roffText(strings.TrimSuffix(summary, ".")))
	fmt.Fprintf(bw, ".SH SYNOPSIS\n.B %s\n[\\fIglobal flags\\fR] \\fIcommand\\fR [\\fIflags\\fR] [\\fIarguments\\fR]\n", app.Name)
	fmt.Fprintf(bw, ".SH DESCRIPTION\n%s\n", roffText(summary))
	for _, p := range strings.Split(strings.TrimSpace(rest), "\n\n") {
		if p = strings.TrimSpace(p); p != "" {
			fmt.Fprintf(bw, ".PP\n%s\n", roffText(p))
		}
	}
	fmt.Fprintf(bw, ".SH COMMANDS\n")
	for _, n := range app.Leaves(true) {
		fmt.Fprintf(bw, ".SS \"%s %s\"\n", app.Name, roffText(n.Path()))
		fmt.Fprintf(bw, "%s\n", roffText(n.Help))
		for _, a := range n.Positional {
			fmt.Fprintf(bw, ".TP\n\\fI%s\\fR\n%s\n", roffText(a.Summary()), roffText(a.Help))
		}
		var own []*kong.Flag
		for p := n; p != nil && p != app.Node; p = p.Parent {
			own = append(own, p.Flags...)
		}
		roffFlags(bw, own)
	}
	// the global flags, by group as --help shows them
	var ungrouped []*kong.Flag
	groups := map[string][]*kong.Flag{}
	var order []*kong.Group
	for _, f := range app.Flags {
		if f.Group == nil {
			ungrouped = append(ungrouped, f)
			continue
		}
		if _, ok := groups[f.Group.Key]; !ok {
			order = append(order, f.Group)
		}
		groups[f.Group.Key] = append(groups[f.Group.Key], f)
	}
	fmt.Fprintf(bw, ".SH GLOBAL FLAGS\nEvery command takes these.\n")
	roffFlags(bw, ungrouped)
	for _, g := range order {
		fmt.Fprintf(bw, ".SS \"%s\"\n", roffText(strings.TrimSuffix(g.Title, ":")))
		roffFlags(bw, groups[g.Key])
	}
	fmt.Fprintf(bw, ".SH FILES\n.TP\n.I ./bandercheck-state\nThe state directory (\\fB\\-\\-state\\fR): manifests, checkpoints, the plan and what was applied.\n")
	fmt.Fprintf(bw, ".SH SEE ALSO\n.BR bandersnatch (1)\n")
	_, err := io.WriteString(w, bw.String())
	return err
}

// firstLine is s up to its first line end.
func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// WritesState implements stateWriter: man prints the page.
func (c *ManCmd) WritesState() bool { return false }
