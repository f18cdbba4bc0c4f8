package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
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
	srv := &http.Server{Handler: UpstreamHandler(c.Dir)}
	go func() { <-ctx.Done(); srv.Close() }()
	if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// UpstreamHandler serves /simple/ (JSON when the client asks for PEP 691)
// and /packages/ from dir.
func UpstreamHandler(dir string) http.Handler {
	files := http.FileServer(http.Dir(dir))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/simple/" {
			if strings.Contains(r.Header.Get("Accept"), "application/vnd.pypi.simple.v1+json") {
				w.Header().Set("Content-Type", "application/vnd.pypi.simple.v1+json")
				http.ServeFile(w, r, filepath.Join(dir, "simple", "index.v1_json"))
				return
			}
			w.Header().Set("Content-Type", "text/html")
			http.ServeFile(w, r, filepath.Join(dir, "simple", "index.html"))
			return
		}
		files.ServeHTTP(w, r)
	})
}
