package posixstore_test

import (
	"context"
	"errors"
	"fmt"
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
