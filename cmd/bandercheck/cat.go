package main

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/bandercheck/bandercheck/internal/stages"
)

// CatCmd prints one manifest as CSV with one header.
type CatCmd struct {
	Manifest string `arg:"" predictor:"manifest" help:"Manifest name: storage, projects, designated, problems/storage, problems/metadata, upstream, plan/download, plan/delete, plan/remove-projects, applied/download, applied/delete, applied/remove-projects."`
}

// WritesState implements stateWriter: cat only reads STATE.
func (c *CatCmd) WritesState() bool { return false }

// Run implements the command.
func (c *CatCmd) Run(g *stages.Env) error {
	r, err := g.StateDir().Manifest(c.Manifest)
	if err != nil {
		return err
	}
	defer r.Close()
	var out io.Writer = os.Stdout
	if g.Stdout != nil {
		out = g.Stdout // a test's buffer
	}
	bw := bufio.NewWriterSize(out, 256<<10)
	w := csv.NewWriter(bw)
	if err := w.Write(r.Columns()); err != nil {
		return err
	}
	for {
		row, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if err := w.Write(row); err != nil {
			return err
		}
	}
	w.Flush()
	if err := errors.Join(w.Error(), bw.Flush()); err != nil {
		if errors.Is(err, syscall.EPIPE) {
			return nil // the reader (head, grep -q) has seen enough
		}
		return fmt.Errorf("write stdout: %w", err)
	}
	return nil
}
