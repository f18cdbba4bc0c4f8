package stages

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bandercheck/bandercheck/internal/store/posixstore"
	"github.com/bandercheck/bandercheck/sources"
)

// TestRootIndexDirsSortsMoreThanItsMemory: the root index's folders come
// from an external sort, so a mirror with more names than the sort may hold
// (here 64 KiB for 6,000 folders) is listed whole, in the order bandersnatch
// lists them (each hash folder in name order, then its projects in name
// order), once each, without hidden folders or plain files; a hash folder
// whose name is a prefix of another's ("a" and "a-b") keeps its projects
// together.
func TestRootIndexDirsSortsMoreThanItsMemory(t *testing.T) {
	defer func(m int64) { rootIndexMemory = m }(rootIndexMemory)
	rootIndexMemory = 64 << 10
	for _, hashIndex := range []bool{false, true} {
		t.Run(fmt.Sprintf("hash-index=%v", hashIndex), func(t *testing.T) {
			mirror, state := t.TempDir(), t.TempDir()
			var want []string
			mk := func(d string, listed bool) {
				if err := os.MkdirAll(filepath.Join(mirror, "web/simple", d), 0o755); err != nil {
					t.Fatal(err)
				}
				if listed {
					want = append(want, d)
				}
			}
			for i := range 6000 {
				n := fmt.Sprintf("p%05d-%x", (i*7919)%6000, i%3)
				if hashIndex {
					mk(n[:1]+"/"+n, true)
				} else {
					mk(n, true)
				}
			}
			if hashIndex {
				mk("a/zeta", true)
				mk("a-b/alpha", true)
				mk("a/.hidden", false)
				mk("loose", false) // a folder with no project folder in it
			} else {
				mk(".hidden", false)
			}
			if err := os.WriteFile(filepath.Join(mirror, "web/simple/index.html"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			slices.SortFunc(want, func(a, b string) int {
				af, an, _ := strings.Cut(a, "/")
				bf, bn, _ := strings.Cut(b, "/")
				if c := strings.Compare(af, bf); c != 0 || !hashIndex {
					return c
				}
				return strings.Compare(an, bn)
			})

			st, err := posixstore.Open(mirror)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			se := &syncEnv{g: &Env{State: state}, conf: &sources.Config{HashIndex: hashIndex}, store: st}
			if err := os.MkdirAll(filepath.Join(state, "tmp"), 0o700); err != nil {
				t.Fatal(err)
			}
			next, closeDirs, err := rootIndexDirs(context.Background(), se)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for {
				d, err := next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, d)
			}
			if err := closeDirs(); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("got %d folders, want %d; first difference at %d", len(got), len(want), firstDiff(got, want))
			}
			if left, _ := os.ReadDir(filepath.Join(state, "tmp")); len(left) != 0 {
				t.Errorf("the sort left %d entries in STATE/tmp", len(left))
			}
		})
	}
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
