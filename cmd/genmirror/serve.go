package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"

	"github.com/bandercheck/bandercheck/internal/fakepypi"
)

// ServeCmd serves an upstream tree on loopback.
type ServeCmd struct {
	Dir  string `help:"Upstream folder written by genmirror mirror." required:""`
	Addr string `help:"Listen address (loopback only)." default:"127.0.0.1:0"`
}

// Run implements the command: it prints the base URL, then serves until interrupted.
func (c *ServeCmd) Run(ctx context.Context) error {
	host, _, err := net.SplitHostPort(c.Addr)
	if err != nil || (host != "127.0.0.1" && host != "localhost" && host != "::1") {
		return fmt.Errorf("serve listens on loopback only, not %q", c.Addr)
	}
	l, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return err
	}
	fmt.Printf("http://%s\n", l.Addr())
	os.Stdout.Sync()
	srv := &http.Server{Handler: fakepypi.Handler(c.Dir)}
	go func() { <-ctx.Done(); srv.Close() }()
	if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
