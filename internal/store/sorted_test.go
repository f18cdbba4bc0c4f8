package store_test

import (
	"context"
	"fmt"
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
