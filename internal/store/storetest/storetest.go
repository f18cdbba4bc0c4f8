// Package storetest is the one conformance suite every store.Store passes:
// listing order, reads, hashing, the write side and the lock. Each backend's
// tests call Run with a Backend that opens it (POSIX in t.TempDir(), S3 on
// versitygw), so the POSIX run never needs an S3 server.
package storetest

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
	"testing"
	"time"

	"github.com/bandercheck/bandercheck/internal/store"
)

// Backend opens one kind of store for the suite.
type Backend struct {
	// Open returns a store holding files (key to content). A store that
	// keeps digests beside its files (S3 metadata) records for each the one
	// StoredSHA256 returns.
	Open func(t *testing.T, files map[string]string) store.Store
	// StoredSHA256 is the digest the store records for content as Open
	// wrote it; nil when the store keeps none.
	StoredSHA256 func(content string) string
	// LockHeld has a sync take st's mirror lock and returns a writer on the
	// same mirror whose Lock must now refuse (POSIX: a second handle while
	// the first holds the flock). Open was given a ".lock" file; nil when
	// that file alone holds the lock (S3).
	LockHeld func(t *testing.T, st store.Store) store.Writer
}

func (b Backend) storedSHA256(content string) string {
	if b.StoredSHA256 == nil {
		return ""
	}
	return b.StoredSHA256(content)
}

// Run runs the whole suite against b.
func Run(t *testing.T, b Backend) {
	t.Run("Read", func(t *testing.T) { testRead(t, b) })
	t.Run("Write", func(t *testing.T) { testWrite(t, b) })
	t.Run("LockRefusesWhileASyncRuns", func(t *testing.T) { testLock(t, b) })
	t.Run("HasFolder", func(t *testing.T) { testHasFolder(t, b) })
}

// AwkwardFiles exercise byte order: "foo-1" sorts before "foo/x", which a
// per-folder sort of names gets wrong.
func AwkwardFiles() map[string]string {
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

func SortedKeys(files map[string]string) []string {
	keys := make([]string, 0, len(files))
	for k := range files {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// testRead: List in byte order, ListSorted from any point with any number
// of workers, Open, Stat, Hash and StoredSHA256.
func testRead(t *testing.T, b Backend) {
	files := AwkwardFiles()
	want := SortedKeys(files)
	ctx := context.Background()
	st := b.Open(t, files)
	var got []string
	err := st.List(ctx, "web/packages/", "", func(o store.Object) error {
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
			err := store.ListSorted(ctx, st, "web/packages/", after, jobs, func(o store.Object) error {
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
	if want := b.storedSHA256(files[k]); sum != want {
		t.Errorf("StoredSHA256 = %q, want %q", sum, want)
	}
}

func digest(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// testWrite runs every write operation: create/commit/abort, present,
// remove, remove tree.
func testWrite(t *testing.T, b Backend) {
	files := map[string]string{
		"web/packages/ab/cd/keep.whl": "keep", "web/packages/ab/cd/gone.whl": "gone",
		"web/pypi/p/json": "{}", "web/pypi/p/extra": "x", "web/simple/p/index.html": "<html></html>",
	}
	ctx := context.Background()
	st := b.Open(t, files)
	w := st
	unlock, err := w.Lock(ctx)
	if err != nil {
		t.Fatalf("lock: %v", err)
	}
	defer unlock()

	// create, commit: visible, with its content
	up, err := w.Create(ctx, "web/packages/ef/gh/new.whl", store.Meta{SHA256: digest("new"), Uploaded: time.Unix(1600000000, 0)})
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
	up, err = w.Create(ctx, "web/packages/ef/gh/aborted.whl", store.Meta{})
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
}

func read(t *testing.T, st store.Reader, key string) string {
	t.Helper()
	rc, err := st.Open(context.Background(), key)
	if err != nil {
		t.Fatalf("open %s: %v", key, err)
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	return string(b)
}

// testLock: the flock on POSIX, the .lock object on S3.
func testLock(t *testing.T, b Backend) {
	ctx := context.Background()
	st := b.Open(t, map[string]string{"web/packages/a/b": "x", ".lock": ""})
	var w store.Writer = st
	if b.LockHeld != nil {
		w = b.LockHeld(t, st)
	}
	_, err := w.Lock(ctx)
	var le *store.LockedError
	if !errors.As(err, &le) {
		t.Errorf("lock while a sync holds it: %v, want a refusal", err)
	}
}

func testHasFolder(t *testing.T, b Backend) {
	ctx := context.Background()
	st := b.Open(t, map[string]string{"web/packages/ab/x.whl": "x"})
	for prefix, want := range map[string]bool{"web/packages/": true, "web/packages/ab/": true, "web/json/": false, "nothing/": false} {
		if got, err := st.HasFolder(ctx, prefix); err != nil || got != want {
			t.Errorf("HasFolder(%q) = %v, %v; want %v", prefix, got, err, want)
		}
	}
}
