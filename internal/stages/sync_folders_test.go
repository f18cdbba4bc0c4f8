package stages

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"net/http/httptest"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/bandercheck/bandercheck/internal/fakepypi"
)

// TestSyncTakesTheMirrorsFoldersFromItsRecord: after a sync wrote the root
// index, an incremental sync with no new project takes web/simple's project
// folders from STATE (sync/folders) instead of listing them, and writes the
// same bytes as a sync that lists them (a copy of the mirror with a new
// STATE, which holds no record); a folder made in web/simple by another hand (as
// bandersnatch makes one) changes web/simple, so the next sync lists it
// again and the root index names it; a record whose names were altered is
// not trusted. A sync that lists web/simple (no record) lists it once: the
// end takes the names the todo stage listed while web/simple is unchanged.
func TestSyncTakesTheMirrorsFoldersFromItsRecord(t *testing.T) {
	w := fakepypi.Synthetic(goldenBase, 250, 1, 0)
	srv := httptest.NewServer(w)
	defer srv.Close()
	root := t.TempDir()
	conf := func(mirror string) string {
		p := mirror + ".conf"
		c := "[mirror]\ndirectory = " + mirror + "\nmaster = " + srv.URL + "\nallow-non-https = true\nworkers = 3\nrelease-files = false\nroot_uri = https://files.example.org\n"
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	sync := func(mirror, state string) int64 {
		t.Helper()
		var out bytes.Buffer
		before := simpleListings.Load()
		g := &Env{Config: conf(mirror), State: state, Progress: "never", Stdout: &out, Stderr: &out}
		if _, err := Sync(context.Background(), g, DefaultSyncOptions()); err != nil {
			t.Fatalf("%v\n%s", err, out.String())
		}
		return simpleListings.Load() - before
	}
	a, aState := filepath.Join(root, "a"), filepath.Join(root, "a.st")
	if n := sync(a, aState); n == 0 {
		t.Fatal("the first sync did not list web/simple")
	}
	b, bState := filepath.Join(root, "b"), filepath.Join(root, "b.st")
	copyTree(t, a, b)
	// b: the same mirror with a new STATE, which holds no record
	release := func(i int) {
		for j := i; j < 250; j += 50 {
			name := fmt.Sprintf("proj-%07d", j+1)
			v := fmt.Sprintf("2.%d", i)
			if _, err := w.AddRelease(name, fakepypi.Release{Version: v, Files: []fakepypi.File{{Filename: name + "-" + v + ".tar.gz"}}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	release(0)
	if n := sync(a, aState); n != 0 {
		t.Errorf("incremental sync with its record: %d listings of web/simple, want 0", n)
	}
	if n := sync(b, bState); n != 1 {
		t.Errorf("incremental sync without a record: %d listings, want 1 (todo's, which the root index takes)", n)
	}
	sameFiles(t, a, b, "web/simple", "web/json", "web/pypi", "status")

	// a folder made by another hand: listed, and in the root index
	if err := os.MkdirAll(filepath.Join(a, "web", "simple", "zz-by-hand"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(b, "web", "simple", "zz-by-hand"), 0o755); err != nil {
		t.Fatal(err)
	}
	release(1)
	if n := sync(a, aState); n != 1 {
		t.Errorf("after a folder was made by hand: %d listings, want 1", n)
	}
	if page, _ := os.ReadFile(filepath.Join(a, "web", "simple", "index.html")); !bytes.Contains(page, []byte(`"zz-by-hand/"`)) {
		t.Error("the root index leaves out the folder made by hand")
	}
	sync(b, bState)
	sameFiles(t, a, b, "web/simple", "web/json", "web/pypi", "status")

	// a record whose names file was altered is not trusted
	p := filepath.Join(aState, foldersFile)
	names, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, bytes.Replace(names, []byte("zz-by-hand\n"), nil, 1), 0o644); err != nil {
		t.Fatal(err)
	}
	release(2)
	if n := sync(a, aState); n != 1 {
		t.Errorf("with an altered names file: %d listings, want 1", n)
	}
	sync(b, bState)
	sameFiles(t, a, b, "web/simple", "web/json", "web/pypi", "status")
}

// copyTree copies the files and folders under src to dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(to, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(to, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// sameFiles fails unless the two mirrors hold the same files, byte for
// byte, under each of paths.
func sameFiles(t *testing.T, a, b string, paths ...string) {
	t.Helper()
	read := func(root string) map[string]string {
		m := map[string]string{}
		for _, p := range paths {
			_ = filepath.WalkDir(filepath.Join(root, p), func(f string, d fs.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					body, _ := os.ReadFile(f)
					rel, _ := filepath.Rel(root, f)
					m[rel] = string(body)
				}
				return nil
			})
		}
		return m
	}
	ma, mb := read(a), read(b)
	if len(ma) == 0 || len(ma) != len(mb) {
		t.Errorf("%d files against %d", len(ma), len(mb))
	}
	for k, v := range ma {
		if mb[k] != v {
			t.Errorf("%s differs", k)
		}
	}
}

// TestSyncFolderRecordIsNeverFollowedOrWaitedOn: the record's files are
// ours, in STATE. A FIFO put at sync/folders.json is not waited on (the
// sync lists web/simple and writes a regular record again); a link at
// sync/folders is not trusted, even to a copy of the right names; links
// put at the temporary names the record is written through are replaced,
// never written through.
func TestSyncFolderRecordIsNeverFollowedOrWaitedOn(t *testing.T) {
	w := fakepypi.Synthetic(goldenBase, 60, 1, 0)
	srv := httptest.NewServer(w)
	defer srv.Close()
	root := t.TempDir()
	mirror, state := filepath.Join(root, "m"), filepath.Join(root, "st")
	conf := mirror + ".conf"
	c := "[mirror]\ndirectory = " + mirror + "\nmaster = " + srv.URL + "\nallow-non-https = true\nworkers = 3\nrelease-files = false\nroot_uri = https://files.example.org\n"
	if err := os.WriteFile(conf, []byte(c), 0o644); err != nil {
		t.Fatal(err)
	}
	step := 0
	sync := func(what string) int64 {
		t.Helper()
		step++
		name := fmt.Sprintf("proj-%07d", step)
		if _, err := w.AddRelease(name, fakepypi.Release{Version: fmt.Sprintf("3.%d", step)}); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		before := simpleListings.Load()
		done := make(chan error, 1)
		go func() {
			g := &Env{Config: conf, State: state, Progress: "never", Stdout: &out, Stderr: &out}
			_, err := Sync(context.Background(), g, DefaultSyncOptions())
			done <- err
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("%s: %v\n%s", what, err, out.String())
			}
		case <-time.After(2 * time.Minute):
			t.Fatalf("%s: the sync did not end in 2 minutes (waiting on a file in STATE?)", what)
		}
		return simpleListings.Load() - before
	}
	regular := func(rel string) {
		t.Helper()
		st, err := os.Lstat(filepath.Join(state, rel))
		if err != nil || !st.Mode().IsRegular() {
			t.Errorf("%s is not a regular file after the sync: %v %v", rel, st, err)
		}
	}
	sync("first sync")
	if n := sync("incremental with its record"); n != 0 {
		t.Fatalf("the record was not taken: %d listings (the test needs it to be)", n)
	}

	record := filepath.Join(state, foldersRecord)
	if err := os.Remove(record); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(record, 0o600); err != nil {
		t.Fatal(err)
	}
	if n := sync("a FIFO at " + foldersRecord); n != 1 {
		t.Errorf("a FIFO at %s: %d listings, want 1", foldersRecord, n)
	}
	regular(foldersRecord)

	names := filepath.Join(state, foldersFile)
	elsewhere := filepath.Join(root, "names-copy")
	b, err := os.ReadFile(names)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(elsewhere, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(names); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(elsewhere, names); err != nil {
		t.Fatal(err)
	}
	if n := sync("a link at " + foldersFile); n != 1 {
		t.Errorf("a link at %s (to the right names): %d listings, want 1", foldersFile, n)
	}
	regular(foldersFile)

	victim := filepath.Join(root, "victim")
	if err := os.WriteFile(victim, []byte("not yours\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tmp := range []string{foldersFile + ".tmp", foldersRecord + ".tmp"} {
		if err := os.Symlink(victim, filepath.Join(state, tmp)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Remove(record); err != nil { // so this sync records anew
		t.Fatal(err)
	}
	if n := sync("links at the temporary names"); n != 1 {
		t.Errorf("without a record: %d listings, want 1", n)
	}
	if b, err := os.ReadFile(victim); err != nil || string(b) != "not yours\n" {
		t.Errorf("a file outside STATE was written through a link: %q %v", b, err)
	}
	regular(foldersFile)
	regular(foldersRecord)
	if n := sync("after the links were replaced"); n != 0 {
		t.Errorf("the record written past the links is not taken: %d listings, want 0", n)
	}
}

// TestSyncEndTakesTodosListingUnlessWebSimpleChanged: a sync without a
// record lists web/simple once, for its todo stage, and records the names;
// its end writes the root index from them while web/simple is unchanged
// (changed projects only), and lists again when the sync itself made a
// project's folder (a new project), which the root index then names. Every
// root index names exactly the folders in web/simple, and the sync after
// each takes its record.
func TestSyncEndTakesTodosListingUnlessWebSimpleChanged(t *testing.T) {
	w := fakepypi.Synthetic(goldenBase, 80, 1, 0)
	srv := httptest.NewServer(w)
	defer srv.Close()
	root := t.TempDir()
	mirror, state := filepath.Join(root, "m"), filepath.Join(root, "st")
	conf := mirror + ".conf"
	c := "[mirror]\ndirectory = " + mirror + "\nmaster = " + srv.URL + "\nallow-non-https = true\nworkers = 3\nrelease-files = false\nroot_uri = https://files.example.org\n"
	if err := os.WriteFile(conf, []byte(c), 0o644); err != nil {
		t.Fatal(err)
	}
	sync := func() int64 {
		t.Helper()
		var out bytes.Buffer
		before := simpleListings.Load()
		g := &Env{Config: conf, State: state, Progress: "never", Stdout: &out, Stderr: &out}
		if _, err := Sync(context.Background(), g, DefaultSyncOptions()); err != nil {
			t.Fatalf("%v\n%s", err, out.String())
		}
		return simpleListings.Load() - before
	}
	// the root index names web/simple's folders, in order
	indexed := func(what string) {
		t.Helper()
		des, err := os.ReadDir(filepath.Join(mirror, "web", "simple"))
		if err != nil {
			t.Fatal(err)
		}
		var want bytes.Buffer
		for _, de := range des {
			if de.IsDir() {
				fmt.Fprintf(&want, "    <a href=\"%s/\">%s</a><br/>\n", de.Name(), de.Name())
			}
		}
		page, err := os.ReadFile(filepath.Join(mirror, "web", "simple", "index.html"))
		if err != nil {
			t.Fatal(err)
		}
		start, end := bytes.Index(page, []byte("    <a ")), bytes.LastIndex(page, []byte("<br/>\n"))
		if start < 0 || end < 0 || !bytes.Equal(page[start:end+6], want.Bytes()) {
			t.Errorf("%s: the root index does not name web/simple's %d folders:\n%s", what, len(des)-3, page)
		}
	}
	forget := func() { // as a STATE that holds no record (a mirror bandersnatch wrote)
		if err := os.Remove(filepath.Join(state, foldersRecord)); err != nil {
			t.Fatal(err)
		}
	}
	sync()
	indexed("first sync")

	forget()
	for i := 0; i < 80; i += 9 {
		if _, err := w.AddRelease(fmt.Sprintf("proj-%07d", i+1), fakepypi.Release{Version: "4.0"}); err != nil {
			t.Fatal(err)
		}
	}
	if n := sync(); n != 1 {
		t.Errorf("changed projects only, no record: %d listings of web/simple, want 1", n)
	}
	indexed("changed projects only")

	forget()
	w.AddProject("new-during-the-sync", fakepypi.Release{Version: "1.0"})
	if _, err := w.AddRelease("proj-0000002", fakepypi.Release{Version: "4.1"}); err != nil {
		t.Fatal(err)
	}
	if n := sync(); n != 2 {
		t.Errorf("a new project, no record: %d listings, want 2 (todo, then the end: the sync made a folder)", n)
	}
	indexed("a new project")
	if page, _ := os.ReadFile(filepath.Join(mirror, "web", "simple", "index.html")); !bytes.Contains(page, []byte(`"new-during-the-sync/"`)) {
		t.Error("the root index leaves out the project the sync added")
	}

	if _, err := w.AddRelease("proj-0000003", fakepypi.Release{Version: "4.2"}); err != nil {
		t.Fatal(err)
	}
	if n := sync(); n != 0 {
		t.Errorf("with the record the end wrote: %d listings, want 0", n)
	}
	indexed("with the record")
}
