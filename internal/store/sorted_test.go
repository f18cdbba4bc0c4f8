package store_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/bandercheck/bandercheck/internal/store"
	"github.com/bandercheck/bandercheck/internal/store/posixstore"
	"github.com/bandercheck/bandercheck/internal/store/storetest"
	"github.com/bandercheck/bandercheck/internal/testutil"
)

// failing wraps a Store and fails listing one partition.
type failing struct {
	store.Reader
	bad string
}

func (f failing) List(ctx context.Context, prefix, after string, fn func(store.Object) error) error {
	if prefix == f.bad {
		return fmt.Errorf("read folder %s: permission denied", prefix)
	}
	return f.Reader.List(ctx, prefix, after, fn)
}

func TestListSortedStopsOnPartitionError(t *testing.T) {
	root := t.TempDir()
	testutil.WriteFiles(t, root, storetest.AwkwardFiles())
	st, _ := posixstore.Open(root)
	before := countGoroutines()
	err := store.ListSorted(context.Background(), failing{st, "web/packages/7f/"}, "web/packages/", "", 4, func(store.Object) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "web/packages/7f/") {
		t.Fatalf("error %v, want one naming the failed folder", err)
	}
	if after := countGoroutines(); after > before {
		t.Errorf("goroutines leaked: %d before, %d after", before, after)
	}
}

// manyFolders is a Reader of 256 folders with two objects each, in memory.
type manyFolders struct{ store.Reader }

func (manyFolders) Children(ctx context.Context, prefix string) ([]string, []store.Object, error) {
	var dirs []string
	for i := range 256 {
		dirs = append(dirs, fmt.Sprintf("%s%02x/", prefix, i))
	}
	return dirs, nil, nil
}

func (manyFolders) List(ctx context.Context, prefix, after string, fn func(store.Object) error) error {
	for _, name := range []string{"a.whl", "b.whl"} {
		if err := fn(store.Object{Key: prefix + name, Size: 1}); err != nil {
			return err
		}
	}
	return nil
}

// TestListSortedHoldsWhatAFolderHas: a folder's lister grows its batch with
// what the folder holds. Each took room for a full batch (1,000 objects,
// 104 KiB) before its first file: 26 MiB for the 256 folders of a mirror
// of a few files, as much garbage as a scan of 250,000 files makes, and
// the collector's work at every start of a small scan. Not parallel: it
// counts the process's allocations.
func TestListSortedHoldsWhatAFolderHas(t *testing.T) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	n := 0
	if err := store.ListSorted(context.Background(), manyFolders{}, "web/packages/", "", 4, func(store.Object) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if n != 512 {
		t.Fatalf("listed %d objects, want 512", n)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 2<<20 {
		t.Errorf("listing 512 objects in 256 folders allocated %d KiB", got>>10)
	}
}
