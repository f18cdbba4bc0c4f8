package store_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/bandercheck/bandercheck/internal/store"
)

// bigFolders is a Reader of folders of perFolder objects each, in memory;
// it counts the objects it has handed to the listers.
type bigFolders struct {
	store.Reader
	folders, perFolder int
	listed             atomic.Int64
}

func (b *bigFolders) Children(ctx context.Context, prefix string) ([]string, []store.Object, error) {
	var dirs []string
	for i := range b.folders {
		dirs = append(dirs, fmt.Sprintf("%s%02x/", prefix, i))
	}
	return dirs, nil, nil
}

func (b *bigFolders) List(ctx context.Context, prefix, after string, fn func(store.Object) error) error {
	for i := range b.perFolder {
		k := fmt.Sprintf("%s%07d.whl", prefix, i)
		if k <= after {
			continue // a listing starts after its start key, as S3's StartAfter does
		}
		b.listed.Add(1)
		if err := fn(store.Object{Key: k, Size: 1}); err != nil {
			return err
		}
	}
	return nil
}

// pagedFolders is bigFolders listed a page of 1,000 objects at a time.
type pagedFolders struct{ *bigFolders }

func (b pagedFolders) ListBatches(ctx context.Context, prefix, after string, fn func([]store.Object) error) error {
	var page []store.Object
	err := b.List(ctx, prefix, after, func(o store.Object) error {
		page = append(page, o)
		if len(page) < 1000 {
			return nil
		}
		p := page
		page = nil
		return fn(p)
	})
	if err == nil && len(page) > 0 {
		err = fn(page)
	}
	return err
}

// TestListSortedHoldsABoundedLookAhead: the objects the listers hold ahead
// of the consumer (listed, not yet handed on) are bounded by the number of
// listers, not by what the folders hold. The consumer stops at its first
// object until every lister is blocked (synctest.Wait: the listers hold
// all they may), then at the first object of each following folder again.
// The consumer holds the batch it reads; 16 listers may each hold a batch
// (1,000 objects), and those of the three folders nearest the consumer
// two more: 23,000 objects at most, whether a folder holds 4,000 objects
// or 40,000. Before, every lister held three: 49,000 here, and 48,000 in
// scan storage at 10% of PyPI against 12,400 at 1% (773 objects a folder),
// which made its peak grow with the mirror.
func TestListSortedHoldsABoundedLookAhead(t *testing.T) {
	const jobs, bound = 16, 1000 + 16*1000 + 3*2*1000
	for _, c := range []struct {
		perFolder int
		pages     bool // a page at a time (store.BatchLister, as S3)
	}{{4000, false}, {40000, false}, {4000, true}, {40000, true}} {
		perFolder := c.perFolder
		t.Run(fmt.Sprint(perFolder, map[bool]string{true: " pages"}[c.pages]), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := &bigFolders{folders: 40, perFolder: perFolder}
				var lister store.Reader = r
				if c.pages {
					lister = pagedFolders{r}
				}
				var consumed, most int64
				err := store.ListSorted(t.Context(), lister, "web/packages/", "", jobs, func(o store.Object) error {
					if consumed%int64(perFolder) == 0 && consumed < int64(4*perFolder) {
						synctest.Wait()
						most = max(most, r.listed.Load()-consumed)
					}
					consumed++
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				if want := int64(40 * perFolder); consumed != want {
					t.Fatalf("consumed %d objects, want %d", consumed, want)
				}
				t.Logf("folders of %d objects: the listers held %d objects at most", perFolder, most)
				if most > bound {
					t.Errorf("folders of %d objects: the listers held %d objects ahead of the consumer, want at most %d (the consumer's batch, one a lister, two more for each of the 3 folders nearest)", perFolder, most, bound)
				}
			})
		})
	}
}
