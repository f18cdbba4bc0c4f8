package sources_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"testing"
	"time"

	"github.com/bandercheck/bandercheck/pipeline"
	"github.com/bandercheck/bandercheck/sources"
)

// writable is the write side both stores have (sinks.Mirror names it).
type writable interface {
	sources.Store
	Create(ctx context.Context, key string, meta sources.Meta) (sources.Upload, error)
	Remove(ctx context.Context, keys []string) ([]error, error)
	RemoveTree(ctx context.Context, prefix string) error
	Present(ctx context.Context, key string, size int64, sum string) (bool, error)
	Lock(ctx context.Context) (func() error, error)
}

func digest(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// TestStoreWriteConformance runs every write operation against POSIX and
// versitygw alike: create/commit/abort, present, remove, remove tree, lock.
func TestStoreWriteConformance(t *testing.T) {
	files := map[string]string{
		"web/packages/ab/cd/keep.whl": "keep", "web/packages/ab/cd/gone.whl": "gone",
		"web/pypi/p/json": "{}", "web/pypi/p/extra": "x", "web/simple/p/index.html": "<html></html>",
	}
	ctx := context.Background()
	for name, st := range stores(t, files) {
		t.Run(name, func(t *testing.T) {
			w, ok := st.(writable)
			if !ok {
				t.Fatalf("%s store has no write side", name)
			}
			if s3, ok := st.(*sources.S3Store); ok {
				s3.StageUploadsIn(t.TempDir())
			}
			unlock, err := w.Lock(ctx)
			if err != nil {
				t.Fatalf("lock: %v", err)
			}
			defer unlock()

			// create, commit: visible, with its content
			up, err := w.Create(ctx, "web/packages/ef/gh/new.whl", sources.Meta{SHA256: digest("new"), Uploaded: time.Unix(1600000000, 0)})
			if err != nil {
				t.Fatal(err)
			}
			io.WriteString(up, "new")
			if err := up.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			if got := read(t, st, "web/packages/ef/gh/new.whl"); got != "new" {
				t.Errorf("committed file reads %q", got)
			}
			// create, abort: nothing
			up, err = w.Create(ctx, "web/packages/ef/gh/aborted.whl", sources.Meta{})
			if err != nil {
				t.Fatal(err)
			}
			io.WriteString(up, "half")
			if err := up.Abort(); err != nil {
				t.Fatal(err)
			}
			if _, err := st.Stat(ctx, "web/packages/ef/gh/aborted.whl"); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("an aborted upload is visible: %v", err)
			}
			// present: size and digest decide (on S3 the sha256 metadata Create wrote)
			for _, c := range []struct {
				key  string
				size int64
				sum  string
				want bool
			}{
				{"web/packages/ef/gh/new.whl", 3, digest("new"), true},
				{"web/packages/ef/gh/new.whl", -1, "", true},
				{"web/packages/ef/gh/new.whl", 4, "", false},
				{"web/packages/ef/gh/new.whl", 3, digest("other"), false},
				{"web/packages/ab/cd/missing.whl", -1, "", false},
			} {
				if got, err := w.Present(ctx, c.key, c.size, c.sum); err != nil || got != c.want {
					t.Errorf("present %s size %d: %v, %v; want %v", c.key, c.size, got, err, c.want)
				}
			}
			// remove: a present and a missing key both succeed
			errs, err := w.Remove(ctx, []string{"web/packages/ab/cd/gone.whl", "web/packages/ab/cd/never.whl"})
			if err != nil || errs[0] != nil || errs[1] != nil {
				t.Errorf("remove: %v %v", errs, err)
			}
			if _, err := st.Stat(ctx, "web/packages/ab/cd/gone.whl"); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a removed file is still there: %v", err)
			}
			if got := read(t, st, "web/packages/ab/cd/keep.whl"); got != "keep" {
				t.Errorf("a file beside the removed one reads %q", got)
			}
			// remove tree: everything below the folder, nothing beside it
			if err := w.RemoveTree(ctx, "web/pypi/p/"); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"web/pypi/p/json", "web/pypi/p/extra"} {
				if _, err := st.Stat(ctx, k); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("%s survived its tree's removal: %v", k, err)
				}
			}
			if got := read(t, st, "web/simple/p/index.html"); got != "<html></html>" {
				t.Errorf("a file beside the removed tree reads %q", got)
			}
		})
	}
}

func read(t *testing.T, st sources.Store, key string) string {
	t.Helper()
	rc, err := st.Open(context.Background(), key)
	if err != nil {
		t.Fatalf("open %s: %v", key, err)
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	return string(b)
}

// TestStoreLockRefusesWhileASyncRuns: the flock on POSIX, the .lock object on S3.
func TestStoreLockRefusesWhileASyncRuns(t *testing.T) {
	ctx := context.Background()
	for name, st := range stores(t, map[string]string{"web/packages/a/b": "x", ".lock": ""}) {
		t.Run(name, func(t *testing.T) {
			w := st.(writable)
			if _, ok := st.(*sources.DirStore); ok {
				unlock, err := w.Lock(ctx) // the sync's lock
				if err != nil {
					t.Fatal(err)
				}
				defer unlock()
				other, err := sources.OpenDir(st.String())
				if err != nil {
					t.Fatal(err)
				}
				w = other
			}
			_, err := w.Lock(ctx)
			var re *pipeline.RefusedError
			if !errors.As(err, &re) {
				t.Errorf("lock while a sync holds it: %v, want a refusal", err)
			}
		})
	}
}

func TestStoreHasFolder(t *testing.T) {
	ctx := context.Background()
	for name, st := range stores(t, map[string]string{"web/packages/ab/x.whl": "x"}) {
		t.Run(name, func(t *testing.T) {
			for prefix, want := range map[string]bool{"web/packages/": true, "web/packages/ab/": true, "web/json/": false, "nothing/": false} {
				if got, err := st.HasFolder(ctx, prefix); err != nil || got != want {
					t.Errorf("HasFolder(%q) = %v, %v; want %v", prefix, got, err, want)
				}
			}
		})
	}
}
