// Command bandercheck verifies and cleans a bandersnatch PyPI mirror on a
// POSIX disk or in an S3 bucket, as a pipeline of resumable stages that write
// sharded zstd CSV manifests under a state directory.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/bandercheck/bandercheck/internal/stages"
	"github.com/bandercheck/bandercheck/pipeline"

	"github.com/alecthomas/kong"
)

// CLI is the command line.
type CLI struct {
	Globals

	Scan   ScanCmd            `cmd:"" help:"Scan storage, metadata or upstream into manifests."`
	Plan   stages.PlanCommand `cmd:"" help:"Merge-join storage against designated files into plans."`
	Apply  stages.Apply       `cmd:"" help:"Carry out the plan."`
	Run    stages.RunAll      `cmd:"" help:"Every stage in order, resuming where STATE left off."`
	Status StatusCmd          `cmd:"" help:"Each manifest: state, shards, rows, cursor, started, finished."`
	Report stages.Report      `cmd:"" help:"Write one self-contained HTML page about STATE: stages, the plan as a chart, the projects with the most bytes to download or delete, the first problems."`
	Cat    CatCmd             `cmd:"" help:"One manifest's shards as a single CSV on stdout."`
	Sync   SyncCmd            `cmd:"" help:"Mirror upstream as 'bandersnatch mirror' does with --config (or 'bandersnatch sync NAME...' with names), as resumable stages."`
}

// ScanCmd groups the scanning stages.
type ScanCmd struct {
	Storage  stages.ScanStorage  `cmd:"" help:"List what the mirror holds under web/packages."`
	Metadata stages.ScanMetadata `cmd:"" help:"Read every project's metadata into designated files."`
	Upstream stages.ScanUpstream `cmd:"" help:"List the projects that exist upstream."`
}

const exitHelp = `Exit codes: 0 done (also when differences were found and planned); 1 failure;
2 usage or configuration error; 3 refused by a safety guard; 130 stopped by SIGINT,
143 by SIGTERM (what was committed is kept: run the same command again).`

func main() {
	ctx, stop := signalContext()
	code := run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string) int {
	if path := os.Getenv("BANDERCHECK_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil {
			if pprof.StartCPUProfile(f) == nil {
				defer pprof.StopCPUProfile()
			}
		}
	}
	var cli CLI
	parser, err := kong.New(&cli,
		kong.Name("bandercheck"),
		kong.Description("Verify and clean a bandersnatch PyPI mirror with bounded memory.\n\n"+exitHelp),
		kong.UsageOnError(),
		kong.BindTo(ctx, (*context.Context)(nil)),
		kong.Vars(stages.Defaults),
		kong.Exit(func(code int) { panic(exitPanic(code)) }),
	)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bandercheck:", err)
		return 1
	}
	return parse(ctx, parser, &cli, args)
}

type exitPanic int

// parse runs the command line and turns its outcome into an exit code.
func parse(ctx context.Context, parser *kong.Kong, cli *CLI, args []string) (code int) {
	defer func() {
		if r := recover(); r != nil {
			c, ok := r.(exitPanic)
			if !ok {
				panic(r)
			}
			code = int(c)
		}
	}()
	kctx, err := parser.Parse(args)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bandercheck:", err)
		return 2
	}
	env := cli.Globals.env()
	cmd := kctx.Command()
	if cmd == "status" || cmd == "report" || strings.HasPrefix(cmd, "cat") {
		return report(ctx, kctx.Run(env))
	}
	// one process at a time writes a state directory
	unlock, err := pipeline.LockState(cli.State)
	if err == nil {
		defer unlock()
		start := time.Now()
		err = kctx.Run(env)
		if cmd != "run" { // run records each of its stages
			env.StageFinished(cmd, time.Since(start))
		}
	}
	code = report(ctx, err)
	if merr := env.WriteMetrics(cmd, code, err); merr != nil {
		fmt.Fprintln(os.Stderr, "bandercheck:", merr)
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
		fmt.Fprintf(os.Stderr, "bandercheck: stopped by a signal (%v, exit %d); what was committed is kept, the shard in progress was discarded: run the same command again to continue\n", sig, code)
		return code
	}
	fmt.Fprintln(os.Stderr, "bandercheck:", err)
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
