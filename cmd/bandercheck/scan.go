package main

import (
	"context"
	"fmt"
	"time"

	"github.com/alecthomas/kong"

	"github.com/bandercheck/bandercheck/internal/stages"
)

// ScanCmd groups the scanning stages.
type ScanCmd struct {
	Storage  ScanStorageCmd  `cmd:"" help:"List what the mirror holds under web/packages."`
	Metadata ScanMetadataCmd `cmd:"" help:"Read every project's metadata into designated files."`
	Upstream ScanUpstreamCmd `cmd:"" help:"List the projects that exist upstream."`
}

// ScanStorageCmd is scan storage: it writes STATE/storage and problems/storage.
type ScanStorageCmd struct {
	Jobs        int         `help:"${storage_jobs_help}" default:"${storage_jobs}"`
	Hash        hashFlag    `help:"Fill sha256: a disk's files are read; on S3 bare --hash is =etag (ETag against upstream's MD5, else metadata), =metadata takes the sha256 metadata, =content reads objects; =full reuses no digest." placeholder:"content|metadata|etag|etag+content|full"`
	RehashAfter stages.Days `help:"Read a file again once its digest is this old (a rolling scrub: each run reads an even share)." default:"${rehash_after}"`
	Fresh       bool        `help:"Scan from the start (the last finished manifest stays in STATE/previous for --hash to reuse)."`
}

func (c *ScanStorageCmd) options() stages.ScanStorageOptions {
	return stages.ScanStorageOptions{Jobs: c.Jobs, Hash: stages.HashMode(c.Hash), RehashAfter: c.RehashAfter, Fresh: c.Fresh}
}

// Validate implements kong's hook: bad values are refused before anything runs.
func (c *ScanStorageCmd) Validate() error { return c.options().Validate() }

// WritesState implements stateWriter.
func (c *ScanStorageCmd) WritesState() bool { return true }

// Run implements the command.
func (c *ScanStorageCmd) Run(ctx context.Context, g *stages.Env) error {
	o := c.options()
	_, err := o.Run(ctx, g)
	return err
}

// ScanMetadataCmd is scan metadata: it writes STATE/projects, designated and problems/metadata.
type ScanMetadataCmd struct {
	From   string          `help:"Where file lists come from: json (web/json/*) or simple (each project's index.v1_json or index.html). Default: json, or simple when --config says [mirror] json = false (bandersnatch's default)." enum:",json,simple" default:"${metadata_from}"`
	Jobs   int             `help:"${metadata_jobs_help}" default:"${metadata_jobs}"`
	Fresh  bool            `help:"Discard this stage's earlier output and scan from the start."`
	Memory stages.ByteSize `help:"Memory budget of the scan: an eighth for the documents read and not yet written, an eighth for sorting the project listing (as plan's --memory, which run gives both)." default:"${memory}"`
}

func (c *ScanMetadataCmd) options() stages.ScanMetadataOptions {
	return stages.ScanMetadataOptions{From: c.From, Jobs: c.Jobs, Fresh: c.Fresh, Memory: c.Memory}
}

// Validate implements kong's hook: bad values are refused before anything runs.
func (c *ScanMetadataCmd) Validate() error { return c.options().Validate() }

// WritesState implements stateWriter.
func (c *ScanMetadataCmd) WritesState() bool { return true }

// Run implements the command.
func (c *ScanMetadataCmd) Run(ctx context.Context, g *stages.Env) error {
	o := c.options()
	res, err := o.Run(ctx, g)
	g.RecordMetadata(res) // for --metrics-file
	return err
}

// ScanUpstreamCmd is scan upstream: it writes STATE/upstream.
type ScanUpstreamCmd struct {
	Upstream string        `help:"${upstream_help}" env:"BANDERCHECK_UPSTREAM" placeholder:"URL"`
	Timeout  time.Duration `help:"Time limit of one attempt to fetch the index." default:"${upstream_timeout}"`
	Attempts int           `help:"Attempts before giving up." default:"${upstream_attempts}"`
}

func (c *ScanUpstreamCmd) options() stages.ScanUpstreamOptions {
	return stages.ScanUpstreamOptions{Upstream: c.Upstream, Timeout: c.Timeout, Attempts: c.Attempts}
}

// Validate implements kong's hook: bad values are refused before anything runs.
func (c *ScanUpstreamCmd) Validate() error { return c.options().Validate() }

// WritesState implements stateWriter.
func (c *ScanUpstreamCmd) WritesState() bool { return true }

// Run implements the command.
func (c *ScanUpstreamCmd) Run(ctx context.Context, g *stages.Env) error {
	o := c.options()
	return o.Run(ctx, g)
}

// hashFlag is --hash: bare (content on POSIX, etag on S3), =content, =metadata, =etag, =etag+content or =full.
type hashFlag stages.HashMode

// Decode implements kong.MapperValue: a bare --hash takes no value.
func (h *hashFlag) Decode(ctx *kong.DecodeContext) error {
	if ctx.Scan.Peek().Type != kong.FlagValueToken {
		*h = hashFlag(stages.HashDefault)
		return nil
	}
	var v string
	if err := ctx.Scan.PopValueInto("hash", &v); err != nil {
		return err
	}
	switch stages.HashMode(v) {
	case stages.HashContent, stages.HashMetadata, stages.HashFull, stages.HashETag, stages.HashETagContent:
		*h = hashFlag(v)
	case "none", "":
		*h = hashFlag(stages.HashNone)
	default:
		return fmt.Errorf("--hash=%s: want content, metadata, etag, etag+content or full", v)
	}
	return nil
}

// IsBool makes a bare --hash valid.
func (h *hashFlag) IsBool() bool { return true }
