// Command bandercheck verifies and cleans a bandersnatch PyPI mirror on a
// POSIX disk or in an S3 bucket, as a pipeline of resumable stages that write
// sharded zstd CSV manifests under a state directory.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/bandercheck/bandercheck/internal/redact"
	"github.com/bandercheck/bandercheck/pipeline"

	"github.com/alecthomas/kong"
)

// CLI is the command line: one type a command or group, each in its own file,
// mapping its flags onto the stage's options (internal/stages has no kong).
type CLI struct {
	root

	Scan   ScanCmd   `cmd:"" help:"Scan storage, metadata or upstream into manifests."`
	Plan   PlanCmd   `cmd:"" help:"Merge-join storage against designated files into plans."`
	Apply  ApplyCmd  `cmd:"" help:"Carry out the plan."`
	Run    RunCmd    `cmd:"" help:"Every stage in order, resuming where STATE left off."`
	Status StatusCmd `cmd:"" help:"Each manifest: state, shards, rows, cursor, started, finished."`
	Report ReportCmd `cmd:"" help:"Write one self-contained HTML page about STATE: stages, the plan as a chart, the projects with the most bytes to download or delete, the first problems."`
	Cat    CatCmd    `cmd:"" help:"One manifest's shards as a single CSV on stdout."`
	Sync   SyncCmd   `cmd:"" help:"Mirror upstream as 'bandersnatch mirror' does with --config (or 'bandersnatch sync NAME...' with names), as resumable stages."`

	VersionCmd VersionCmd    `cmd:"" name:"version" help:"Print the version, the commit and the Go version."`
	Completion CompletionCmd `cmd:"" help:"Print the shell completion script for bash, zsh or fish."`
	Man        ManCmd        `cmd:"" help:"Print the manual page (roff): bandercheck man | man -l -"`
}

// root is the command line without its commands: the global flags and
// --version. A parser of one command (leanParser) is built on it alone.
type root struct {
	Globals
	Version kong.VersionFlag `group:"global" help:"Print version, commit and Go version."`
}

// stateWriter is a command that says whether it writes STATE: those that do
// run under the state lock (one process at a time) and write metrics.
type stateWriter interface{ WritesState() bool }

// stageRecorder is a command that records the time of each of its stages
// itself (run); main records any other command as one stage.
type stageRecorder interface{ RecordsStages() bool }

const exitHelp = `Exit codes: 0 done (also when differences were found and planned); 1 failure;
2 usage or configuration error; 3 refused by a safety guard; 130 stopped by SIGINT,
143 by SIGTERM (what was committed is kept: run the same command again).`

// stderr is where errors are printed, with URL credentials redacted.
var stderr = redact.Writer(os.Stderr)

// init turns the runtime's sampling of allocations off unless a heap
// profile was asked for (BANDERCHECK_MEMPROFILE): its buckets held 1.4–2.0
// MiB for the whole of a run, and grew with the stages that ran before.
func init() {
	if os.Getenv("BANDERCHECK_MEMPROFILE") == "" {
		runtime.MemProfileRate = 0
	}
}

func main() {
	ctx, stop := signalContext()
	code := run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

// run runs one command line; opts are for tests (kong.Writers).
func run(ctx context.Context, args []string, opts ...kong.Option) int {
	if path := os.Getenv("BANDERCHECK_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil {
			if pprof.StartCPUProfile(f) == nil {
				defer pprof.StopCPUProfile()
			}
		}
	}
	if path := os.Getenv("BANDERCHECK_MEMPROFILE"); path != "" {
		defer startMemProfile(path)()
	}
	var cli CLI
	if parser := leanParser(ctx, &cli, args, opts...); parser != nil {
		if code, parsed := parse(ctx, parser, &cli, args, true); parsed {
			return code
		}
		cli = CLI{} // the whole command line says what is wrong
	}
	parser, err := newParser(ctx, &cli, opts...)
	if err != nil {
		fmt.Fprintln(stderr, "bandercheck:", err)
		return 1
	}
	code, _ := parse(ctx, parser, &cli, args, false)
	return code
}

// newParser is the kong parser of the command line, with opts after its own.
func newParser(ctx context.Context, cli *CLI, opts ...kong.Option) (*kong.Kong, error) {
	return kong.New(cli, append(parserOptions(ctx), opts...)...)
}

// leanCommands are the commands that leanParser builds a parser of their
// own for: all but man and completion, which read the whole model.
var leanCommands = map[string]string{ // name on the command line → CLI's field
	"scan": "Scan", "plan": "Plan", "apply": "Apply", "run": "Run", "status": "Status",
	"report": "Report", "cat": "Cat", "sync": "Sync", "version": "VersionCmd",
}

// leanParser is a parser of the global flags and the one command args
// name (or of the global flags alone for --version), or nil when args may
// need more: help (which lists every command), a shell's completion
// request, or no command named. It costs a third of the
// whole command line's construction, which kong otherwise builds (every
// command's flags, their tags parsed and their defaults set) in every
// process. It parses what the whole parser parses, to the same values
// (TestLeanParserParsesAsTheWholeOne): the commands left out are ones the
// arguments do not reach. When it finds an error, the whole parser parses
// args again, so that errors and usage are the whole command line's.
func leanParser(ctx context.Context, cli *CLI, args []string, opts ...kong.Option) *kong.Kong {
	if os.Getenv("COMP_LINE") != "" {
		return nil
	}
	field := ""
	for _, a := range args {
		if a == "--" {
			break
		}
		if strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "--") && strings.Contains(a, "h") || a == "--help" || strings.HasPrefix(a, "--help=") {
			return nil // -h or --help: kong prints help of the model it has
		}
		if f, ok := leanCommands[a]; ok && field == "" {
			field = f // or a flag's value: then the lean parse fails, and the whole one parses
		}
	}
	if field == "" {
		if !slices.Contains(args, "--version") {
			return nil
		}
		// --version alone: the global flags are all it needs (it exits as
		// it is parsed), and any error is the whole parser's to say
		parser, err := kong.New(&cli.root, append(parserOptions(ctx), opts...)...)
		if err != nil {
			return nil
		}
		return parser
	}
	f, ok := reflect.TypeFor[CLI]().FieldByName(field)
	if !ok {
		return nil // a command renamed and not here: the whole parser parses it
	}
	cmd := reflect.ValueOf(cli).Elem().FieldByIndex(f.Index).Addr().Interface()
	name := f.Tag.Get("name")
	if name == "" {
		name = strings.ToLower(f.Name)
	}
	parser, err := kong.New(&cli.root, append(parserOptions(ctx),
		append([]kong.Option{kong.DynamicCommand(name, f.Tag.Get("help"), f.Tag.Get("group"), cmd, string(f.Tag))}, opts...)...)...)
	if err != nil {
		return nil
	}
	return parser
}

// parserOptions are the options of every parser of the command line.
func parserOptions(ctx context.Context) []kong.Option {
	return []kong.Option{
		kong.Name("bandercheck"),
		kong.Description("Verify and clean a bandersnatch PyPI mirror with bounded memory.\n\n" + exitHelp),
		kong.UsageOnError(),
		kong.BindTo(ctx, (*context.Context)(nil)),
		// defaultVars are written into the texts once (kong would read every
		// one of them again for each flag: most of the construction's time)
		kong.PostBuild(substituteVars(defaultVars())),
		kong.Vars{"version": versionString()},
		globalGroups,
		signedDurations(),
		kong.ValueFormatter(helpValue),
		kong.Exit(func(code int) { panic(exitPanic(code)) }),
	}
}

type exitPanic int

// bandersnatchHabits are bandersnatch's commands, and what does their job here.
var bandersnatchHabits = map[string]string{
	"verify": "bandercheck run does what bandersnatch verify does (scan, plan, then apply; run --dry-run to look first)",
	"delete": "bandercheck run removes what the config and upstream no longer list (within its guards)",
}

// habitHint is a hint for a first argument that is a bandersnatch command.
func habitHint(args []string) string {
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			continue
		}
		if hint, ok := bandersnatchHabits[a]; ok {
			return ": " + hint
		}
	}
	return ""
}

// parse runs the command line and turns its outcome into an exit code.
// With lean (a parser of leanParser), an error parsing args is not said:
// parsed is false, for the whole parser to parse them again.
func parse(ctx context.Context, parser *kong.Kong, cli *CLI, args []string, lean bool) (code int, parsed bool) {
	defer func() {
		if r := recover(); r != nil {
			c, ok := r.(exitPanic)
			if !ok {
				panic(r)
			}
			code, parsed = int(c), true
		}
	}()
	answerCompletion(parser)
	kctx, err := parser.Parse(args)
	if err != nil && lean {
		return 0, false
	}
	if err != nil {
		fmt.Fprintln(stderr, "bandercheck:", err.Error()+habitHint(args))
		return 2, true
	}
	return execute(ctx, kctx, cli), true
}

// execute runs the parsed command and turns its outcome into an exit code.
func execute(ctx context.Context, kctx *kong.Context, cli *CLI) (code int) {
	env := cli.Globals.env()
	if path := os.Getenv("BANDERCHECK_MEMPROFILE"); path != "" {
		env.StageStarting = memProfileAtStageStart(path)
	}
	cmd := kctx.Command()
	target := kctx.Selected().Target.Addr().Interface()
	if w, ok := target.(stateWriter); !ok || !w.WritesState() {
		return report(ctx, kctx.Run(env))
	}
	// one process at a time writes a state directory
	unlock, err := env.StateDir().Lock()
	if err == nil {
		defer unlock()
		start := time.Now()
		err = kctx.Run(env)
		if r, ok := target.(stageRecorder); !ok || !r.RecordsStages() {
			env.StageFinished(cmd, time.Since(start))
		}
	}
	code = report(ctx, err)
	if merr := env.WriteMetrics(cmd, code, err); merr != nil {
		fmt.Fprintln(stderr, "bandercheck:", merr)
		code = max(code, 1)
	}
	return code
}

// report prints a command's error, if any, and returns its exit code.
func report(ctx context.Context, err error) int {
	if err == nil {
		return 0
	}
	if interrupted(err) {
		sig, code := signalExit(ctx)
		fmt.Fprintf(stderr, "bandercheck: stopped by a signal (%v, exit %d); what was committed is kept, the shard in progress was discarded: run the same command again to continue\n", sig, code)
		return code
	}
	fmt.Fprintln(stderr, "bandercheck:", err)
	return exitCode(err)
}

// Exit codes of DESIGN.md; 1 is every other failure.
const (
	exitUsage   = 2
	exitRefused = 3
)

// exitCode chooses the exit code of an error, in one place.
func exitCode(err error) int {
	var ue *pipeline.UsageError
	var re *pipeline.RefusedError
	var ec kong.ExitCoder
	switch {
	case errors.As(err, &re):
		return exitRefused
	case errors.As(err, &ue):
		return exitUsage
	case errors.As(err, &ec):
		return ec.ExitCode()
	}
	return 1
}

// interrupted tells whether err is the context's cancellation by SIGINT or SIGTERM.
func interrupted(err error) bool {
	return errors.Is(err, context.Canceled)
}
