package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/bandercheck/bandercheck/internal/synth"
)

// SynthS3Cmd serves a synthetic mirror (internal/synth) as an S3 bucket and
// its upstream, on loopback, until stopped.
type SynthS3Cmd struct {
	Names        string  `help:"zstd file of project names, one a line (all of them; default: --projects generated names)."`
	Projects     int     `help:"Projects: the first N names of --names, or N generated names." default:"0"`
	Seed         uint64  `help:"Random seed." default:"1"`
	Bucket       string  `help:"Bucket name." default:"mirror"`
	Root         string  `help:"The mirror's prefix in the bucket."`
	S3Addr       string  `name:"s3-addr" help:"S3 listen address (loopback)." default:"127.0.0.1:0"`
	UpstreamAddr string  `help:"Upstream listen address (loopback)." default:"127.0.0.1:0"`
	Night        int     `help:"Nights synced since night 0 (0 to 7)." default:"0"`
	ChangeRate   float64 `help:"Share of projects changed each night." default:"0.005"`
	Missing      float64 `help:"Share of files missing from the bucket." default:"0.001"`
	Orphan       float64 `help:"Share of files in the bucket that no document names." default:"0.001"`
	SizeMismatch float64 `help:"Share of files stored with another size." default:"0.0005"`
	HashMismatch float64 `help:"Share of files stored with other bytes." default:"0.0005"`
	Removed      float64 `help:"Share of projects upstream no longer lists." default:"0.002"`
	Summary      bool    `help:"Print the mirror's counts (walks every file) before serving."`
}

// Run implements the command: it prints the two URLs, one a line, then serves.
func (c *SynthS3Cmd) Run(ctx context.Context) error {
	cfg := synth.Config{Seed: c.Seed, Root: c.Root, Night: c.Night, ChangeRate: c.ChangeRate, Missing: c.Missing,
		Orphan: c.Orphan, SizeMismatch: c.SizeMismatch, HashMismatch: c.HashMismatch, Removed: c.Removed, Projects: c.Projects}
	if c.Names != "" {
		names, err := loadAllNames(c.Names)
		if err != nil {
			return err
		}
		if c.Projects > 0 && c.Projects < len(names) {
			names = names[:c.Projects]
		}
		cfg.Names = names
	}
	m, err := synth.New(cfg)
	if err != nil {
		return err
	}
	if c.Summary {
		b, _ := json.Marshal(m.Summarize())
		fmt.Fprintf(os.Stderr, "%s\n", b)
	}
	srv, err := synth.Start(m, c.Bucket, c.S3Addr, c.UpstreamAddr)
	if err != nil {
		return err
	}
	defer srv.Close()
	fmt.Println(srv.S3URL)
	fmt.Println(srv.UpstreamURL)
	os.Stdout.Sync()
	<-ctx.Done()
	b, _ := json.Marshal(srv.Stats())
	fmt.Fprintf(os.Stderr, "%s\n", b)
	return nil
}
