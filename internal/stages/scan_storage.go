package stages

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bandercheck/bandercheck/pipeline"
	"github.com/bandercheck/bandercheck/sources"
)

// ScanStorage lists web/packages into the storage manifest.
type ScanStorage struct {
	Jobs  int      `help:"Folders listed (and files hashed) at once." default:"${storage_jobs}"`
	Hash  HashMode `help:"Fill the sha256 column: bare --hash reads files on POSIX and takes bandersnatch's sha256 metadata on S3; --hash=content reads S3 objects too." placeholder:"content|metadata"`
	Fresh bool     `help:"Discard this stage's earlier output and scan from the start."`
}

const packagesPrefix = "web/packages/"

// stagingPrefix is where apply stages downloads on POSIX: never listed.
const stagingPrefix = packagesPrefix + sources.TempDir + "/"

// Validate implements kong's hook: bad values are refused before anything runs.
func (c *ScanStorage) Validate() error {
	if c.Jobs < 1 {
		return fmt.Errorf("--jobs %d: give at least 1", c.Jobs)
	}
	return nil
}

// Run implements the command.
func (c *ScanStorage) Run(ctx context.Context, g *Env) error {
	store, loc, err := g.openStore(ctx)
	if err != nil {
		return err
	}
	hash := c.Hash.resolve(loc.IsS3())
	if err := requirePackages(ctx, store); err != nil {
		return err
	}
	run, _, err := g.openRun()
	if err != nil {
		return err
	}
	if err := run.Require("storage.hash", string(hash), c.Fresh); err != nil {
		return err
	}
	st, err := pipeline.OpenStage(g.State, "scan storage", c.Fresh, g.stageOptions(),
		pipeline.MustSpec("storage"), pipeline.MustSpec("problems/storage"))
	if err != nil {
		return err
	}
	defer st.Close()
	if st.Done() {
		logf(g, "scan storage: done already (%d files); pass --fresh to scan again", st.Rows(0))
		return nil
	}
	rep := g.reporter("scan storage", "files")
	rep.Add(st.Rows(0), 0)
	defer rep.Finish()

	write := func(r storageResult) error {
		o := r.obj
		switch {
		case r.problem != "":
			if err := st.Write(1, o.Key, "storage", r.problem, ""); err != nil {
				return err
			}
		default:
			if err := st.Write(0, o.Key, strconv.FormatInt(o.Size, 10), o.Modified.UTC().Format(time.RFC3339), r.sha256); err != nil {
				return err
			}
			rep.Add(1, o.Size)
		}
		return st.EndUnit(o.Key)
	}
	list := func(ctx context.Context, emit func(sources.Object) error) error {
		// in path order: web/json/.* < web/packages/ < web/pypi/.* < web/simple/.*
		if err := listLeftovers(ctx, store, "web/json/", st.Cursor(), emit); err != nil {
			return err
		}
		err := sources.ListSorted(ctx, store, packagesPrefix, st.Cursor(), c.Jobs, func(o sources.Object) error {
			if b := path.Base(o.Key); b == ".s3keep" || b == ".lock" || strings.HasPrefix(o.Key, stagingPrefix) {
				return nil // bandersnatch's markers, apply's staging folder
			}
			return emit(o)
		})
		for _, prefix := range []string{"web/pypi/", "web/simple/"} {
			if err == nil {
				err = listLeftovers(ctx, store, prefix, st.Cursor(), emit)
			}
		}
		return err
	}
	if hash == HashNone {
		err = list(ctx, func(o sources.Object) error { return write(classify(o)) })
	} else {
		if hash == HashContent {
			ctx = sources.WithoutStat(ctx) // Hash's fstat gives each row its size and date
		}
		err = sources.OrderedMap(ctx, c.Jobs, list,
			func(ctx context.Context, o sources.Object) (storageResult, error) {
				return hashObject(ctx, store, hash, o)
			},
			write)
	}
	if err != nil {
		return fmt.Errorf("scan storage of %s: %w", store, err)
	}
	return st.Finish()
}

// maxLeftovers bounds the temp files listed in one metadata folder.
const maxLeftovers = 100_000

// listLeftovers lists, sorted, the files directly in a metadata folder
// (web/json/, web/pypi/, web/simple/) whose names begin with ".": the temp
// files of a sync that was killed while rewriting a document, never
// projects. As storage rows they are planned for deletion like any unowned
// file, under the grace guard.
func listLeftovers(ctx context.Context, store sources.Store, prefix, after string, emit func(sources.Object) error) error {
	var keys []string
	err := store.Names(ctx, prefix, func(name string, dir bool) error {
		if dir || !strings.HasPrefix(name, ".") || name == ".lock" || name == ".s3keep" {
			return nil
		}
		if len(keys) >= maxLeftovers {
			return fmt.Errorf("more than %d temp files (names beginning with \".\") in %s: look at what writes them", maxLeftovers, prefix)
		}
		if key := prefix + name; key > after {
			keys = append(keys, key)
		}
		return nil
	})
	if err != nil {
		return err
	}
	slices.Sort(keys)
	for _, key := range keys {
		o, err := store.Stat(ctx, key)
		if errors.Is(err, os.ErrNotExist) {
			continue // gone meanwhile
		}
		if err != nil {
			return fmt.Errorf("stat %s: %w", key, err)
		}
		if err := emit(o); err != nil {
			return err
		}
	}
	return nil
}

type storageResult struct {
	obj     sources.Object
	sha256  string
	problem string
}

func classify(o sources.Object) storageResult {
	switch o.Kind {
	case sources.Symlink:
		return storageResult{obj: o, problem: "symbolic link: never followed, listed or deleted"}
	case sources.Other:
		return storageResult{obj: o, problem: "not a regular file: never listed or deleted"}
	}
	return storageResult{obj: o}
}

// hashObject fills the sha256 of a regular file; a file that vanished becomes a problem row.
func hashObject(ctx context.Context, store sources.Store, mode HashMode, o sources.Object) (storageResult, error) {
	r := classify(o)
	if r.problem != "" {
		return r, nil
	}
	if mode == HashMetadata {
		sum, err := store.StoredSHA256(ctx, o.Key)
		if errors.Is(err, os.ErrNotExist) {
			return storageResult{obj: o, problem: "removed while scanning"}, nil
		}
		r.sha256 = sum
		return r, err
	}
	bp := hashBuffers.Get().(*[]byte)
	defer hashBuffers.Put(bp)
	read, sum, err := store.Hash(ctx, o.Key, *bp)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return storageResult{obj: o, problem: "removed while scanning"}, nil
	case errors.Is(err, sources.ErrNotRegular):
		return storageResult{obj: o, problem: "not a regular file, or a link on the way (since it was listed): never read or deleted"}, nil
	case err != nil:
		return r, fmt.Errorf("hash %s: %w", o.Key, err)
	}
	// the row describes what was hashed: its size and date from the open file
	return storageResult{obj: read, sha256: sum}, nil
}

// hashBuffers are the read buffers of the hashing workers, one each at a time.
var hashBuffers = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// requirePackages fails clearly when the mirror has no web/packages.
func requirePackages(ctx context.Context, store sources.Store) error {
	ok, err := store.HasFolder(ctx, packagesPrefix)
	if err != nil {
		return err
	}
	if !ok {
		return &pipeline.UsageError{Msg: fmt.Sprintf("mirror %s has no web/packages/ folder: is --mirror the bandersnatch directory (the one holding web/)?", store)}
	}
	return nil
}
