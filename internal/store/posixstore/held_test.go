package posixstore_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/bandercheck/bandercheck/internal/store"
	"github.com/bandercheck/bandercheck/internal/store/posixstore"
)

func put(t *testing.T, st *posixstore.Store, key, body string, meta store.Meta) error {
	t.Helper()
	ctx := context.Background()
	up, err := st.Create(ctx, key, meta)
	if err != nil {
		return err
	}
	if _, err := up.Write([]byte(body)); err != nil {
		return errors.Join(err, up.Abort())
	}
	return up.Commit(ctx)
}

func openMirror(t *testing.T) (root string, st *posixstore.Store) {
	t.Helper()
	root = t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "web", "packages"), 0o755); err != nil {
		t.Fatal(err)
	}
	st, err := posixstore.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return root, st
}

// TestHeldFoldersFollowNoSwappedLink: the write side holds its staging
// folders open between writes and opens a target folder in one call. A
// target folder written to, then swapped for a link to a folder outside,
// is refused at the next write (nothing lands outside); a staging folder
// swapped for a link after its first use is never written through (the
// file still lands where its key says); one removed by hand is made again.
func TestHeldFoldersFollowNoSwappedLink(t *testing.T) {
	root, st := openMirror(t)
	outside := t.TempDir()
	if err := put(t, st, "web/simple/a/index.html", "one", store.Meta{Deferred: true}); err != nil {
		t.Fatal(err)
	}
	// the target folder becomes a link to outside
	dir := filepath.Join(root, "web", "simple", "a")
	if err := os.Rename(dir, filepath.Join(root, "moved")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, dir); err != nil {
		t.Fatal(err)
	}
	err := put(t, st, "web/simple/a/index.v1_json", "two", store.Meta{Deferred: true})
	var pe *posixstore.PathError
	if !errors.As(err, &pe) {
		t.Errorf("a write through a swapped folder: %v, want a PathError", err)
	}
	// and a folder above it
	simple := filepath.Join(root, "web", "simple")
	if err := os.Rename(simple, filepath.Join(root, "moved-simple")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, simple); err != nil {
		t.Fatal(err)
	}
	if err := put(t, st, "web/simple/b/index.html", "three", store.Meta{Deferred: true}); !errors.As(err, &pe) {
		t.Errorf("a write below a swapped parent: %v, want a PathError", err)
	}
	if err := os.Remove(simple); err != nil {
		t.Fatal(err)
	}
	// the staging folder (held since the first write) becomes a link
	staging := filepath.Join(root, store.TempDir)
	if err := os.Rename(staging, filepath.Join(root, "moved-staging")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, staging); err != nil {
		t.Fatal(err)
	}
	if err := put(t, st, "web/json/c", "four", store.Meta{}); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(root, "web", "json", "c")); err != nil || string(b) != "four" {
		t.Errorf("web/json/c: %q %v", b, err)
	}
	// the staging folder removed by hand (the link too): made again
	if err := os.Remove(staging); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(root, "moved-staging")); err != nil {
		t.Fatal(err)
	}
	if err := put(t, st, "web/json/d", "five", store.Meta{}); err != nil {
		t.Fatalf("after the staging folder went: %v", err)
	}
	if fi, err := os.Lstat(staging); err != nil || !fi.IsDir() {
		t.Errorf("the staging folder was not made again as a folder: %v", err)
	}
	if left, _ := os.ReadDir(outside); len(left) != 0 {
		t.Errorf("%d entries landed outside the mirror: %v", len(left), left[0].Name())
	}
}

// TestFilesGetTheirModeWhateverTheUmask: a file is 0644 (or the mode asked)
// once in place whatever the umask, and until then it sits in a staging
// folder no one else can enter (0700), or is itself 0600. (Not parallel:
// the umask is the process's.)
func TestFilesGetTheirModeWhateverTheUmask(t *testing.T) {
	for _, mask := range []int{0o022, 0o077, 0o002, 0} {
		old := syscall.Umask(mask)
		root, st := openMirror(t)
		ctx := context.Background()
		up, err := st.Create(ctx, "web/packages/ab/cd/f.whl", store.Meta{})
		if err != nil {
			syscall.Umask(old)
			t.Fatal(err)
		}
		staging := filepath.Join(root, "web", "packages", store.TempDir)
		fi, err := os.Stat(staging)
		ents, _ := os.ReadDir(staging)
		if err != nil || len(ents) != 1 {
			t.Errorf("umask %03o: staging %v, %d entries", mask, err, len(ents))
		} else if tf, err := os.Stat(filepath.Join(staging, ents[0].Name())); err != nil ||
			fi.Mode().Perm()&0o077 != 0 && tf.Mode().Perm()&0o077 != 0 {
			t.Errorf("umask %03o: an incomplete file is reachable by others: folder %v, file %v %v", mask, fi.Mode(), tf.Mode(), err)
		}
		up.Write([]byte("x"))
		err = up.Commit(ctx)
		if err == nil {
			err = put(t, st, "status", "1", store.Meta{Mode: 0o600})
		}
		if err == nil {
			err = put(t, st, "web/simple/a/index.html", "p", store.Meta{Deferred: true})
		}
		syscall.Umask(old)
		if err != nil {
			t.Fatal(err)
		}
		for key, want := range map[string]os.FileMode{"web/packages/ab/cd/f.whl": 0o644, "status": 0o600, "web/simple/a/index.html": 0o644,
			"web/simple/a": 0o755 | os.ModeDir, "web/packages/ab/cd": 0o755 | os.ModeDir} {
			if fi, err := os.Stat(filepath.Join(root, key)); err != nil || fi.Mode() != want {
				t.Errorf("umask %03o: %s is %v (%v), want %v", mask, key, fi.Mode(), err, want)
			}
		}
	}
}
