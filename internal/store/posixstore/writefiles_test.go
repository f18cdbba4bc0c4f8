package posixstore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/bandercheck/bandercheck/internal/store"
	"github.com/bandercheck/bandercheck/internal/store/posixstore"
	"github.com/bandercheck/bandercheck/internal/testutil"
)

// TestWriteFilesReplacesPagesAndNeverFollowsALink: WriteFiles puts new
// files in place and replaces regular ones (a project's pages written
// again), with their modes; a link at a key is left as it is (a per-key
// error, the files before it in place) and so is a link on the way to a
// folder: nothing is written through either.
func TestWriteFilesReplacesPagesAndNeverFollowsALink(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	outside := t.TempDir()
	testutil.WriteFiles(t, root, map[string]string{"web/simple/a/index.html": "old html", "web/simple/a/index.v1_json": "old json", "web/packages/x": "x"})
	st, err := posixstore.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	page := func(key, data string) store.File {
		return store.File{Key: key, Data: []byte(data), Meta: store.Meta{Mode: 0o644, Deferred: true}}
	}
	if err := st.WriteFiles(ctx, []store.File{page("web/simple/a/index.html", "new html"), page("web/simple/a/index.v1_html", "new v1"),
		page("web/simple/a/index.v1_json", "new json"), page("web/simple/b/index.html", "b html"), page("web/packages/c/d/f.whl", "whl")}); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{"web/simple/a/index.html": "new html", "web/simple/a/index.v1_html": "new v1",
		"web/simple/a/index.v1_json": "new json", "web/simple/b/index.html": "b html", "web/packages/c/d/f.whl": "whl"} {
		got, err := os.ReadFile(filepath.Join(root, key))
		if err != nil || string(got) != want {
			t.Errorf("%s: %q, %v; want %q", key, got, err, want)
		}
		if fi, err := os.Stat(filepath.Join(root, key)); err != nil || fi.Mode().Perm() != 0o644 {
			t.Errorf("%s: mode %v, %v", key, fi.Mode(), err)
		}
	}
	// a link at a key: the pages before it are written, it stays a link
	target := filepath.Join(outside, "target")
	if err := os.WriteFile(target, []byte("outside"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(root, "web/simple/a/index.v1_html"))
	if err := os.Symlink(target, filepath.Join(root, "web/simple/a/index.v1_html")); err != nil {
		t.Fatal(err)
	}
	err = st.WriteFiles(ctx, []store.File{page("web/simple/a/index.html", "newer html"), page("web/simple/a/index.v1_html", "through the link?"),
		page("web/simple/a/index.v1_json", "newer json")})
	var pe *posixstore.PathError
	if !errors.As(err, &pe) || pe.Key != "web/simple/a/index.v1_html" {
		t.Fatalf("a link at a key: %v, want a PathError naming it", err)
	}
	if got, _ := os.ReadFile(filepath.Join(root, "web/simple/a/index.html")); string(got) != "newer html" {
		t.Errorf("the page before the link: %q", got)
	}
	if got, _ := os.ReadFile(filepath.Join(root, "web/simple/a/index.v1_json")); string(got) != "new json" {
		t.Errorf("the page after the link was written: %q", got)
	}
	if got, _ := os.ReadFile(target); string(got) != "outside" {
		t.Errorf("written through the link: %q", got)
	}
	if fi, err := os.Lstat(filepath.Join(root, "web/simple/a/index.v1_html")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link was replaced: %v, %v", fi.Mode(), err)
	}
	// a link on the way: nothing written below it
	if err := os.Symlink(outside, filepath.Join(root, "web/simple/linked")); err != nil {
		t.Fatal(err)
	}
	if err := st.WriteFiles(ctx, []store.File{page("web/simple/linked/index.html", "through the link?")}); !errors.As(err, &pe) {
		t.Errorf("a link on the way: %v, want a PathError", err)
	}
	if _, err := os.Stat(filepath.Join(outside, "index.html")); err == nil {
		t.Error("written through a linked folder")
	}
	// nothing left in the staging folder
	if des, _ := os.ReadDir(filepath.Join(root, store.TempDir)); len(des) != 0 {
		t.Errorf("staging folder holds %d entries", len(des))
	}
}

// BenchmarkWritePages: a project's three pages written again, one
// Create and Commit each, or through WriteFiles (its folder opened once,
// each page looked at before the rename).
func BenchmarkWritePages(b *testing.B) {
	ctx := context.Background()
	root := b.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "web/packages"), 0o755); err != nil {
		b.Fatal(err)
	}
	st, err := posixstore.Open(root)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	data := make([]byte, 1000)
	pages := func(i int) []store.File {
		dir := fmt.Sprintf("web/simple/p%d/", i%100)
		var fs []store.File
		for _, n := range []string{"index.html", "index.v1_html", "index.v1_json"} {
			fs = append(fs, store.File{Key: dir + n, Data: data, Meta: store.Meta{Mode: 0o644, Deferred: true}})
		}
		return fs
	}
	for i := range 100 {
		if err := st.WriteFiles(ctx, pages(i)); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("Create", func(b *testing.B) {
		i := 0
		for b.Loop() {
			for _, f := range pages(i) {
				up, err := st.Create(ctx, f.Key, f.Meta)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := up.Write(f.Data); err != nil {
					b.Fatal(err)
				}
				if err := up.Commit(ctx); err != nil {
					b.Fatal(err)
				}
			}
			i++
		}
	})
	b.Run("WriteFiles", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if err := st.WriteFiles(ctx, pages(i)); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}
