package store_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/bandercheck/bandercheck/internal/store"
)

// TestListRangeEqualsTheFilteredListing: a range of the listing (a
// partition's, or a resumed scan's from its cursor) is the whole listing
// cut to the keys after its start and before its end, whether the folders
// are listed an object at a time or a page at a time (S3): bounds at a
// folder's start, inside a page, on a page's last and next key, at the
// last key, and between keys, for folders of one key up to several pages.
func TestListRangeEqualsTheFilteredListing(t *testing.T) {
	for _, perFolder := range []int{1, 999, 1000, 1001, 2500} {
		r := &bigFolders{folders: 6, perFolder: perFolder}
		var all []string
		if err := store.ListSorted(t.Context(), r, "web/packages/", "", 2, func(o store.Object) error {
			all = append(all, o.Key)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(all) != 6*perFolder {
			t.Fatalf("%d a folder: listed %d keys, want %d", perFolder, len(all), 6*perFolder)
		}
		bounds := []string{"", all[0], all[len(all)/3], all[len(all)/2], all[len(all)-1],
			"web/packages/03/", "web/packages/03/0000999.whl", "web/packages/03/0001000.whl", "web/packages/03/00009995"}
		for _, start := range bounds {
			for _, end := range bounds {
				if end != "" && start >= end {
					continue
				}
				var want []string
				for _, k := range all {
					if k > start && (end == "" || k < end) {
						want = append(want, k)
					}
				}
				for _, lister := range []store.Reader{r, pagedFolders{r}} {
					var got []string
					if err := store.ListRange(t.Context(), lister, "web/packages/", start, end, 3, func(o store.Object) error {
						got = append(got, o.Key)
						return nil
					}); err != nil {
						t.Fatal(err)
					}
					if !slices.Equal(got, want) {
						t.Errorf("%d a folder, %T, after %q before %q: %d keys, want %d", perFolder, lister, start, end, len(got), len(want))
					}
				}
			}
		}
	}
}

// TestListSortedLeavesNoGoroutineWhenTheConsumerFails: a consumer that
// fails (a full disk, a cancelled scan) gets its own error back, at the
// first object, inside a batch, on a page's edge or folders later, and no
// lister is left behind: not one waiting to hand on a batch, nor one
// waiting for its turn to list ahead.
func TestListSortedLeavesNoGoroutineWhenTheConsumerFails(t *testing.T) {
	stop := errors.New("consumer stopped")
	for _, paged := range []bool{false, true} {
		for _, at := range []int{0, 999, 1000, 1500, 12345} {
			t.Run(fmt.Sprint(map[bool]string{true: "pages ", false: "objects "}[paged], at), func(t *testing.T) {
				before := countGoroutines()
				r := &bigFolders{folders: 40, perFolder: 4000}
				var lister store.Reader = r
				if paged {
					lister = pagedFolders{r}
				}
				n := 0
				err := store.ListSorted(t.Context(), lister, "web/packages/", "", 16, func(store.Object) error {
					if n == at {
						return stop
					}
					n++
					return nil
				})
				if !errors.Is(err, stop) {
					t.Fatalf("consumer failing at object %d: got %v, want its error", at, err)
				}
				if after := countGoroutines(); after > before {
					t.Errorf("consumer failing at object %d: %d goroutines before, %d after", at, before, after)
				}
			})
		}
	}
}
