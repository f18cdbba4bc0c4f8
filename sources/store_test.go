package sources_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/bandercheck/bandercheck/internal/testutil"
	"github.com/bandercheck/bandercheck/sources"
)

// awkwardFiles exercise byte order: "foo-1" sorts before "foo/x", which a
// per-folder sort of names gets wrong.
func awkwardFiles() map[string]string {
	files := map[string]string{}
	for _, p := range []string{
		"web/packages/ab/cd/foo/x.whl", "web/packages/ab/cd/foo-1.tar.gz", "web/packages/ab/cd/foo.zip",
		"web/packages/ab/cd-e/z.whl", "web/packages/ab/c/y.whl", "web/packages/source/a/abc/abc-1.0.tar.gz",
		"web/packages/2.7/z/zz/zz-1.0-py2.7.egg", "web/packages/top-level-file", "web/packages/ff/ee/dd/last.whl",
		"web/packages/ab/cd/foo/x+cpu.whl", "web/packages/ab/cd/foo/Ü-1.0.tar.gz", "web/packages/ab/cd/foo/a b,c.zip",
	} {
		files[p] = "content of " + p
	}
	for i := range 300 {
		p := fmt.Sprintf("web/packages/%02x/%02x/%x/pkg-%d.tar.gz", i%256, (i*7)%256, i*12345, i)
		files[p] = strings.Repeat("x", i)
	}
	return files
}

func sortedKeys(files map[string]string) []string {
	keys := make([]string, 0, len(files))
	for k := range files {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func stores(t *testing.T, files map[string]string) map[string]sources.Store {
	t.Helper()
	root := t.TempDir()
	testutil.WriteFiles(t, root, files)
	dir, err := sources.OpenDir(root)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]sources.Store{"posix": dir}
	if testing.Short() {
		return out
	}
	srv := testutil.Versity(t)
	c := srv.Bucket(t, "mirror")
	prefixed := map[string]string{}
	meta := map[string]map[string]string{}
	for k, v := range files {
		prefixed["pypi/"+k] = v
		meta["pypi/"+k] = map[string]string{"sha256": "feed" + fmt.Sprint(len(v))}
	}
	prefixed["pypi/web/packages/.s3keep"] = ""
	testutil.Put(t, c, "mirror", prefixed, meta)
	s3st, err := sources.OpenS3(context.Background(), srv.Options("mirror", "pypi"))
	if err != nil {
		t.Fatal(err)
	}
	out["s3"] = s3st
	return out
}

func TestStoreConformance(t *testing.T) {
	files := awkwardFiles()
	want := sortedKeys(files)
	ctx := context.Background()
	for name, st := range stores(t, files) {
		t.Run(name, func(t *testing.T) {
			var got []string
			err := st.List(ctx, "web/packages/", "", func(o sources.Object) error {
				if filepath.Base(o.Key) == ".s3keep" {
					return nil
				}
				got = append(got, o.Key)
				if o.Size != int64(len(files[o.Key])) {
					t.Errorf("%s: size %d, want %d", o.Key, o.Size, len(files[o.Key]))
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("List order differs from byte order:\n got %q\nwant %q", got[:20], want[:20])
			}
			for _, jobs := range []int{1, 3, 16} {
				for _, after := range []string{"", want[0], want[len(want)/3], "web/packages/ab/cd/foo", "web/packages/ab/cd/foo/", want[len(want)-1]} {
					var sorted []string
					err := sources.ListSorted(ctx, st, "web/packages/", after, jobs, func(o sources.Object) error {
						if filepath.Base(o.Key) != ".s3keep" {
							sorted = append(sorted, o.Key)
						}
						return nil
					})
					if err != nil {
						t.Fatal(err)
					}
					i := sort.SearchStrings(want, after)
					if i < len(want) && want[i] == after {
						i++
					}
					if !slices.Equal(sorted, want[i:]) {
						t.Fatalf("ListSorted(jobs=%d, after=%q) gave %d keys, want %d", jobs, after, len(sorted), len(want[i:]))
					}
				}
			}
			k := "web/packages/ab/cd/foo-1.tar.gz"
			rc, err := st.Open(ctx, k)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(rc)
			rc.Close()
			if string(body) != files[k] {
				t.Errorf("Open %s: %q", k, body)
			}
			if _, err := st.Open(ctx, "web/packages/none"); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("Open of a missing key: %v, want ErrNotExist", err)
			}
			if _, err := st.Stat(ctx, "web/packages/none"); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("Stat of a missing key: %v, want ErrNotExist", err)
			}
			o, hsum, err := st.Hash(ctx, k, make([]byte, 3)) // a small buffer: several reads
			if want := sha256.Sum256([]byte(files[k])); err != nil || hsum != hex.EncodeToString(want[:]) || o.Size != int64(len(files[k])) || o.Modified.IsZero() {
				t.Errorf("Hash %s: %+v %s %v", k, o, hsum, err)
			}
			if _, _, err := st.Hash(ctx, "web/packages/none", make([]byte, 8)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("Hash of a missing key: %v, want ErrNotExist", err)
			}
			sum, err := st.StoredSHA256(ctx, k)
			if err != nil {
				t.Fatal(err)
			}
			if name == "s3" && sum != "feed"+fmt.Sprint(len(files[k])) {
				t.Errorf("StoredSHA256 = %q", sum)
			}
		})
	}
}

func TestDirStoreNeverFollowsLinks(t *testing.T) {
	root := t.TempDir()
	testutil.WriteFiles(t, root, map[string]string{"web/packages/aa/x.whl": "x", "outside/secret.whl": "s"})
	os.Symlink(filepath.Join(root, "outside"), filepath.Join(root, "web/packages/aa/dirlink"))
	os.Symlink(filepath.Join(root, "outside/secret.whl"), filepath.Join(root, "web/packages/aa/filelink"))
	st, _ := sources.OpenDir(root)
	kinds := map[string]sources.Kind{}
	if err := st.List(context.Background(), "web/packages/", "", func(o sources.Object) error { kinds[o.Key] = o.Kind; return nil }); err != nil {
		t.Fatal(err)
	}
	want := map[string]sources.Kind{"web/packages/aa/x.whl": sources.Regular, "web/packages/aa/dirlink": sources.Symlink, "web/packages/aa/filelink": sources.Symlink}
	if fmt.Sprint(kinds) != fmt.Sprint(want) {
		t.Fatalf("kinds %v, want %v", kinds, want)
	}
}

// TestDirStoreHashNeverFollowsLinks: Hash refuses a link as the file and
// as a folder on the way, a FIFO (without blocking), and reads below a
// web/packages that is itself a link to another volume.
func TestDirStoreHashNeverFollowsLinks(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "mirror")
	testutil.WriteFiles(t, base, map[string]string{"volume/aa/x.whl": "x", "outside/secret.whl": "s", "mirror/web/json/.tmp": "{}"})
	os.MkdirAll(filepath.Join(root, "web"), 0o755)
	os.Symlink(filepath.Join(base, "volume"), filepath.Join(root, "web/packages")) // allowed: another volume
	os.Symlink(filepath.Join(base, "outside"), filepath.Join(base, "volume/aa/dirlink"))
	os.Symlink(filepath.Join(base, "outside/secret.whl"), filepath.Join(base, "volume/aa/filelink"))
	syscall.Mkfifo(filepath.Join(base, "volume/aa/fifo"), 0o644)
	st, _ := sources.OpenDir(root)
	ctx := context.Background()
	buf := make([]byte, 64)
	if o, sum, err := st.Hash(ctx, "web/packages/aa/x.whl", buf); err != nil || o.Size != 1 || sum == "" {
		t.Errorf("Hash below a linked web/packages: %+v %q %v", o, sum, err)
	}
	if _, _, err := st.Hash(ctx, "web/json/.tmp", buf); err != nil {
		t.Errorf("Hash of a key outside web/packages: %v", err)
	}
	for _, key := range []string{"web/packages/aa/filelink", "web/packages/aa/dirlink/secret.whl", "web/packages/aa/fifo", "web/packages/aa", "web/packages/../../outside/secret.whl"} {
		if _, sum, err := st.Hash(ctx, key, buf); !errors.Is(err, sources.ErrNotRegular) && !errors.Is(err, os.ErrNotExist) || sum != "" {
			t.Errorf("Hash %s: %q %v, want it refused", key, sum, err)
		}
	}
}

func TestDirStoreUnreadableFolderFails(t *testing.T) {
	root := t.TempDir()
	testutil.WriteFiles(t, root, map[string]string{"web/packages/aa/x.whl": "x"})
	st, _ := sources.OpenDir(root)
	err := st.List(context.Background(), "web/packages/bb/", "", func(sources.Object) error { return nil })
	if err == nil || !strings.Contains(err.Error(), filepath.Join(root, "web/packages/bb")) {
		t.Fatalf("listing a folder that cannot be read: %v, want an error naming it", err)
	}
}

// failing wraps a Store and fails listing one partition.
type failing struct {
	sources.Store
	bad string
}

func (f failing) List(ctx context.Context, prefix, after string, fn func(sources.Object) error) error {
	if prefix == f.bad {
		return fmt.Errorf("read folder %s: permission denied", prefix)
	}
	return f.Store.List(ctx, prefix, after, fn)
}

func TestListSortedStopsOnPartitionError(t *testing.T) {
	root := t.TempDir()
	testutil.WriteFiles(t, root, awkwardFiles())
	st, _ := sources.OpenDir(root)
	before := countGoroutines()
	err := sources.ListSorted(context.Background(), failing{st, "web/packages/7f/"}, "web/packages/", "", 4, func(sources.Object) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "web/packages/7f/") {
		t.Fatalf("error %v, want one naming the failed folder", err)
	}
	if after := countGoroutines(); after > before {
		t.Errorf("goroutines leaked: %d before, %d after", before, after)
	}
}
