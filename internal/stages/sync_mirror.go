package stages

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/bandercheck/bandercheck/internal/store"
	"github.com/bandercheck/bandercheck/pipeline"
	"github.com/bandercheck/bandercheck/sinks/mirrorfiles"
	"github.com/bandercheck/bandercheck/sources"
)

// The mirror side of a sync: its lock, bootstrap, status and the files it
// writes whole.

// syncLock takes the mirror's .lock for the whole sync (bandersnatch holds
// it while it starts; holding it throughout also keeps a second sync, an
// apply or a bandersnatch out), then sets the mirror up as bandersnatch's
// _bootstrap does: its folders and the generation file.
func syncLock(ctx context.Context, se *syncEnv) (func() error, error) {
	unlock, err := se.store.Lock(ctx)
	if err != nil {
		var le *store.LockedError
		if errors.As(err, &le) {
			return nil, &pipeline.RefusedError{Guards: []string{"mirror-lock"}, Msg: "sync: the mirror's .lock is held (another sync, a bandersnatch or an apply is running): nothing was done; run sync again when it has finished"}
		}
		return nil, err
	}
	if mk, ok := se.store.(interface {
		MkdirAll(ctx context.Context, key string) error
	}); ok {
		for _, d := range mirrorfiles.BootstrapDirs(se.opts) {
			if err := mk.MkdirAll(ctx, d); err != nil {
				return nil, errors.Join(fmt.Errorf("sync: set up %s: %w", d, err), unlock())
			}
		}
	}
	if se.conf.S3 && !se.o.DryRun {
		if err := putKeeps(ctx, se.store, mirrorfiles.S3BootstrapKeeps(se.opts)); err != nil {
			return nil, errors.Join(fmt.Errorf("sync: set up the bucket: %w", err), unlock())
		}
	}
	return unlock, nil
}

// putKeeps puts each of the empty .s3keep objects (bandersnatch's S3
// backend's folders) that is missing; as bandersnatch never removes them,
// that gives the bucket it leaves.
func putKeeps(ctx context.Context, ms store.Store, keys []string) error {
	for _, k := range keys {
		_, err := ms.Stat(ctx, k)
		if err == nil {
			continue
		}
		if !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("sync: look for %s: %w", k, err)
		}
		if err := writeOutput(ctx, ms, mirrorfiles.Output{Path: k}); err != nil {
			return err
		}
	}
	return nil
}

// readStatus reads the mirror's status serial as bandersnatch's _load does:
// a generation file that is missing, not a number or 2 to 4 means starting
// over (serial 0); another generation than 5 is refused. It then writes the
// generation file, unless dryRun.
func readStatus(ctx context.Context, ms store.Store, dryRun bool) (int64, error) {
	gen, err := readSmall(ctx, ms, "generation")
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return 0, err
	}
	g, gerr := strconv.Atoi(strings.TrimSpace(gen))
	reset := err != nil || gerr != nil || g >= 2 && g <= 4
	if !reset && g != 5 {
		return 0, fmt.Errorf("sync: the mirror's generation file says %d; bandersnatch 8 and sync know generation 5 only", g)
	}
	if !dryRun {
		if err := writeOutput(ctx, ms, mirrorfiles.GenerationFile()); err != nil {
			return 0, err
		}
	}
	if reset {
		return 0, nil
	}
	s, err := readSmall(ctx, ms, "status")
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("sync: the mirror's status file holds %q, not a serial: fix or remove it (removing it syncs everything again)", s)
	}
	return n, nil
}

// readSmall reads a small file of the mirror (status, generation), at most 4 KiB.
func readSmall(ctx context.Context, ms store.Reader, key string) (string, error) {
	r, err := ms.Open(ctx, key)
	if err != nil {
		return "", err
	}
	defer r.Close()
	b, err := io.ReadAll(io.LimitReader(r, 4096))
	if err != nil {
		return "", fmt.Errorf("read %s: %w", key, err)
	}
	return string(b), nil
}

// writeOutput writes one whole file, visible only when complete.
func writeOutput(ctx context.Context, ms store.Store, o mirrorfiles.Output) error {
	return write(ctx, ms, o, store.Meta{Mode: o.Mode})
}

// writeDeferred writes o without making it durable on its own: the sync
// fetch stage flushes the store before it records the project's rows.
func writeDeferred(ctx context.Context, ms store.Store, o mirrorfiles.Output) error {
	return write(ctx, ms, o, store.Meta{Mode: o.Mode, Deferred: true})
}

func write(ctx context.Context, ms store.Store, o mirrorfiles.Output, meta store.Meta) error {
	up, err := ms.Create(ctx, o.Path, meta)
	if err != nil {
		return fmt.Errorf("write %s: %w", o.Path, err)
	}
	if _, err := up.Write(o.Data); err != nil {
		return errors.Join(fmt.Errorf("write %s: %w", o.Path, err), up.Abort())
	}
	if err := up.Commit(ctx); err != nil {
		return fmt.Errorf("write %s: %w", o.Path, err)
	}
	return nil
}

// localSerial is the serial of a project's simple page on the mirror (the
// last thing a sync writes for it, so its files are in place): v1_json's
// meta._last-serial or the HTML page's SERIAL comment, and the page's key;
// -1 when unknown.
func localSerial(ctx context.Context, ms store.Reader, o mirrorfiles.Options, project string) (int64, string) {
	dir := mirrorfiles.SimpleDir(project, o.HashIndex)
	for _, page := range []string{"index.v1_json", "index.html"} {
		r, err := ms.Open(ctx, dir+page)
		if err != nil {
			continue
		}
		var p sources.Project
		br := pageReaders.Get().(*bufio.Reader)
		br.Reset(r) // the parsers ask for 64 bytes and up: a read(2) each from the file
		if page == "index.v1_json" {
			p, err = sources.ParseSimpleJSON(br, project, func(sources.File) error { return nil })
		} else {
			p, err = sources.ParseSimpleHTML(br, project, func(sources.File) error { return nil })
		}
		br.Reset(nil)
		pageReaders.Put(br)
		r.Close()
		if err == nil && p.Serial >= 0 {
			return p.Serial, dir + page
		}
	}
	return -1, ""
}

// pageReaders buffer localSerial's reads of a page.
var pageReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 16<<10) }}

// sameContent tells whether key already holds data (status left untouched
// when the serial did not move, as bandersnatch leaves it).
func sameContent(ctx context.Context, ms store.Reader, key string, data []byte) bool {
	s, err := readSmall(ctx, ms, key)
	return err == nil && bytes.Equal([]byte(s), data)
}
