package main

import (
	"context"
	"fmt"
	"time"

	"github.com/bandercheck/bandercheck/internal/s3proxy"
)

// ProxyCmd runs the latency and fault proxy of internal/s3proxy in front of
// an S3 server until it is stopped; it prints its URL first. Its counts are
// at URL/_s3proxy/stats (GET reads them, POST resets them).
type ProxyCmd struct {
	Target   string        `required:"" help:"The S3 server's URL (on loopback)."`
	Delay    time.Duration `default:"20ms" help:"Added before every request."`
	SlowDown float64       `help:"Share of requests answered 503 SlowDown."`
	Reset    float64       `help:"Share of connections reset."`
	Seed     uint64        `default:"1" help:"Seed of the fault choices."`
}

// Run implements the command.
func (c *ProxyCmd) Run(ctx context.Context) error {
	p, err := s3proxy.Start(s3proxy.Options{Target: c.Target, Delay: c.Delay, SlowDownRate: c.SlowDown, ResetRate: c.Reset, Seed: c.Seed})
	if err != nil {
		return err
	}
	defer p.Close()
	fmt.Println(p.URL)
	<-ctx.Done()
	return nil
}
