package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// FilesCmd writes N small files in the web/packages layout.
type FilesCmd struct {
	Out string `help:"Mirror folder." required:""`
	N   int    `help:"Number of files." default:"100000"`
}

// Run implements the command.
func (c *FilesCmd) Run() error {
	const workers = 8
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < c.N; i += workers {
				h := sha256.Sum256([]byte(fmt.Sprint(i)))
				x := hex.EncodeToString(h[:])
				p := filepath.Join(c.Out, "web/packages", x[:2], x[2:4], x[4:], fmt.Sprintf("p%d-1.0.tar.gz", i))
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					errs <- err
					return
				}
				if err := os.WriteFile(p, []byte(x[:16]), 0o644); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}
