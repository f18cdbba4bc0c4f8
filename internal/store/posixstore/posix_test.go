package posixstore_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/bandercheck/bandercheck/internal/store"
	"github.com/bandercheck/bandercheck/internal/store/posixstore"
	"github.com/bandercheck/bandercheck/internal/store/storetest"
	"github.com/bandercheck/bandercheck/internal/testutil"
)

// TestConformance runs the store suite on a folder: no S3 server needed.
func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Backend{
		Open: func(t *testing.T, files map[string]string) store.Store {
			root := t.TempDir()
			testutil.WriteFiles(t, root, files)
			st, err := posixstore.Open(root)
			if err != nil {
				t.Fatal(err)
			}
			return st
		},
		LockHeld: func(t *testing.T, st store.Store) store.Writer {
			unlock, err := st.Lock(context.Background()) // the sync's lock
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { unlock() })
			other, err := posixstore.Open(st.String())
			if err != nil {
				t.Fatal(err)
			}
			return other
		},
	})
}

func TestStoreNeverFollowsLinks(t *testing.T) {
	root := t.TempDir()
	testutil.WriteFiles(t, root, map[string]string{"web/packages/aa/x.whl": "x", "outside/secret.whl": "s"})
	os.Symlink(filepath.Join(root, "outside"), filepath.Join(root, "web/packages/aa/dirlink"))
	os.Symlink(filepath.Join(root, "outside/secret.whl"), filepath.Join(root, "web/packages/aa/filelink"))
	st, _ := posixstore.Open(root)
	kinds := map[string]store.Kind{}
	if err := st.List(context.Background(), "web/packages/", "", func(o store.Object) error { kinds[o.Key] = o.Kind; return nil }); err != nil {
		t.Fatal(err)
	}
	want := map[string]store.Kind{"web/packages/aa/x.whl": store.Regular, "web/packages/aa/dirlink": store.Symlink, "web/packages/aa/filelink": store.Symlink}
	if fmt.Sprint(kinds) != fmt.Sprint(want) {
		t.Fatalf("kinds %v, want %v", kinds, want)
	}
}

// TestStoreHashNeverFollowsLinks: Hash refuses a link as the file and
// as a folder on the way, a FIFO (without blocking), and reads below a
// web/packages that is itself a link to another volume.
func TestStoreHashNeverFollowsLinks(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "mirror")
	testutil.WriteFiles(t, base, map[string]string{"volume/aa/x.whl": "x", "outside/secret.whl": "s", "mirror/web/json/.tmp": "{}"})
	os.MkdirAll(filepath.Join(root, "web"), 0o755)
	os.Symlink(filepath.Join(base, "volume"), filepath.Join(root, "web/packages")) // allowed: another volume
	os.Symlink(filepath.Join(base, "outside"), filepath.Join(base, "volume/aa/dirlink"))
	os.Symlink(filepath.Join(base, "outside/secret.whl"), filepath.Join(base, "volume/aa/filelink"))
	syscall.Mkfifo(filepath.Join(base, "volume/aa/fifo"), 0o644)
	st, _ := posixstore.Open(root)
	ctx := context.Background()
	buf := make([]byte, 64)
	if o, sum, err := st.Hash(ctx, "web/packages/aa/x.whl", buf); err != nil || o.Size != 1 || sum == "" {
		t.Errorf("Hash below a linked web/packages: %+v %q %v", o, sum, err)
	}
	if _, _, err := st.Hash(ctx, "web/json/.tmp", buf); err != nil {
		t.Errorf("Hash of a key outside web/packages: %v", err)
	}
	for _, key := range []string{"web/packages/aa/filelink", "web/packages/aa/dirlink/secret.whl", "web/packages/aa/fifo", "web/packages/aa", "web/packages/../../outside/secret.whl"} {
		if _, sum, err := st.Hash(ctx, key, buf); !errors.Is(err, store.ErrNotRegular) && !errors.Is(err, os.ErrNotExist) || sum != "" {
			t.Errorf("Hash %s: %q %v, want it refused", key, sum, err)
		}
	}
}

func TestStoreUnreadableFolderFails(t *testing.T) {
	root := t.TempDir()
	testutil.WriteFiles(t, root, map[string]string{"web/packages/aa/x.whl": "x"})
	st, _ := posixstore.Open(root)
	err := st.List(context.Background(), "web/packages/bb/", "", func(store.Object) error { return nil })
	if err == nil || !strings.Contains(err.Error(), filepath.Join(root, "web/packages/bb")) {
		t.Fatalf("listing a folder that cannot be read: %v, want an error naming it", err)
	}
}

// TestSymlinkReplacesFilesAndLinksOnly: Symlink makes a missing key a link,
// replaces a regular file or a link there (never writing through the old
// link), leaves a folder alone, and refuses a key outside the mirror.
func TestSymlinkReplacesFilesAndLinksOnly(t *testing.T) {
	root, outside := t.TempDir(), t.TempDir()
	st, err := posixstore.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	dir := filepath.Join(root, "web", "simple", "a")
	for _, d := range []string{filepath.Join(dir, "folder"), filepath.Join(root, "web", "packages")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "file"), []byte("page"), 0o644); err != nil {
		t.Fatal(err)
	}
	victim := filepath.Join(outside, "victim")
	if err := os.WriteFile(victim, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"new", "file", "link"} {
		key := "web/simple/a/" + name
		if err := st.Symlink(ctx, key, "/srv/target-"+name); err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		if got, err := os.Readlink(filepath.Join(root, key)); err != nil || got != "/srv/target-"+name {
			t.Errorf("%s links to %q (%v)", key, got, err)
		}
	}
	if b, _ := os.ReadFile(victim); string(b) != "keep" {
		t.Errorf("the old link's target was written: %q", b)
	}
	if err := st.Symlink(ctx, "web/simple/a/folder", "/srv/x"); err == nil {
		t.Error("a folder was replaced by a link")
	}
	if fi, err := os.Lstat(filepath.Join(dir, "folder")); err != nil || !fi.IsDir() {
		t.Errorf("the folder is gone: %v", err)
	}
	if err := st.Symlink(ctx, "../escape", "/srv/x"); err == nil {
		t.Error("a key outside the mirror was linked")
	}
	left, _ := os.ReadDir(filepath.Join(root, ".bandercheck-tmp"))
	if len(left) != 0 {
		t.Errorf("staging keeps %d entries", len(left))
	}
}

// TestOpenIdentifiedTellsWhatStatTells: OpenIdentified opens a document and
// tells it from the open file as Stat tells it from its path (size, dates,
// inode), so that a later scan comparing by Stat finds it unchanged; a link
// is opened through and told as a link; a FIFO is not opened; a missing
// file is os.ErrNotExist.
func TestOpenIdentifiedTellsWhatStatTells(t *testing.T) {
	root := t.TempDir()
	testutil.WriteFiles(t, root, map[string]string{"web/json/a": "document a"})
	if err := os.MkdirAll(filepath.Join(root, "web/pypi/a"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../json/a", filepath.Join(root, "web/pypi/a/json")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(root, "web/json/fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := posixstore.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, key := range []string{"web/json/a", "web/pypi/a/json"} {
		rc, o, err := st.OpenIdentified(ctx, key)
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || string(data) != "document a" {
			t.Errorf("%s: read %q, %v", key, data, err)
		}
		want, err := st.Stat(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if o != want {
			t.Errorf("%s: told %+v, Stat tells %+v", key, o, want)
		}
	}
	if _, _, err := st.OpenIdentified(ctx, "web/json/fifo"); !errors.Is(err, store.ErrNotRegular) {
		t.Errorf("a FIFO: %v, want ErrNotRegular", err)
	}
	if _, _, err := st.OpenIdentified(ctx, "web/json/none"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a missing file: %v, want os.ErrNotExist", err)
	}
}
