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
	l, err := listenLoopback("serve", c.Addr)
	if err != nil {
		return err
	}
	return serveUntilDone(ctx, l, fakepypi.Handler(c.Dir))
}

// listenLoopback listens on addr, which must be a loopback address.
func listenLoopback(cmd, addr string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || (host != "127.0.0.1" && host != "localhost" && host != "::1") {
		return nil, fmt.Errorf("%s listens on loopback only, not %q", cmd, addr)
	}
	return net.Listen("tcp", addr)
}

// serveUntilDone prints the base URL of l, then serves h on it until ctx ends.
func serveUntilDone(ctx context.Context, l net.Listener, h http.Handler) error {
	fmt.Printf("http://%s\n", l.Addr())
	os.Stdout.Sync()
	srv := &http.Server{Handler: h}
	go func() { <-ctx.Done(); srv.Close() }()
	if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
