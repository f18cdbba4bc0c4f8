// Command genmirror writes generated bandersnatch mirrors, their upstream,
// and PyPI-scale manifests for tests, the demo and the benchmarks.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/alecthomas/kong"
)

// CLI is genmirror's command line.
type CLI struct {
	Mirror       MirrorCmd       `cmd:"" help:"Write a mirror with defects, its upstream tree, and a truth file."`
	Files        FilesCmd        `cmd:"" help:"Write N small files under web/packages (for the storage scan benchmark)."`
	Manifests    ManifestsCmd    `cmd:"" help:"Write storage, projects and designated manifests directly, at any scale (for the plan benchmark)."`
	Serve        ServeCmd        `cmd:"" help:"Serve an upstream tree on 127.0.0.1 (simple index with PEP 691 negotiation, and packages)."`
	Warehouse    WarehouseCmd    `cmd:"" help:"Serve a scenario of the fake upstream (JSON index with serials, JSON API, files) on 127.0.0.1."`
	GoldenRecord GoldenRecordCmd `cmd:"" name:"golden-record" help:"Record a mirror tree (MANIFEST of paths, modes, digests, release file mtimes; copies of small files) for the golden tests."`
	Upload       UploadCmd       `cmd:"" help:"Upload a mirror folder to S3, with bandersnatch's sha256 metadata."`
	S3Bench      S3BenchCmd      `cmd:"" name:"s3bench" help:"Time the S3 references of the benchmarks."`
	Proxy        ProxyCmd        `cmd:"" help:"Put latency and faults (503 SlowDown, resets) in front of an S3 server, on 127.0.0.1."`
	SynthS3      SynthS3Cmd      `cmd:"" name:"synth-s3" help:"Serve a synthetic mirror of any size (up to all of upstream) as an S3 bucket and its upstream, on 127.0.0.1, with no storage."`
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var cli CLI
	k := kong.Parse(&cli, kong.Name("genmirror"), kong.BindTo(ctx, (*context.Context)(nil)))
	if err := k.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "genmirror:", err)
		os.Exit(1)
	}
}
