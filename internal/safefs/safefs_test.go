package safefs

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// tree makes root/mirror with files and links, and root/outside with a canary.
func tree(t *testing.T) (root, mirror string, canary func()) {
	t.Helper()
	root = t.TempDir()
	mirror = filepath.Join(root, "mirror")
	for _, d := range []string{"mirror/a/b", "mirror/tree/sub", "outside/a/b"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, body := range map[string]string{"mirror/a/b/f": "f", "mirror/tree/sub/g": "g", "outside/a/b/f": "canary", "outside/file": "canary"} {
		os.WriteFile(filepath.Join(root, name), []byte(body), 0o644)
	}
	os.Symlink(filepath.Join(root, "outside/a"), filepath.Join(mirror, "link"))
	os.Symlink(filepath.Join(root, "outside/file"), filepath.Join(mirror, "a/b/filelink"))
	os.Symlink(filepath.Join(root, "outside"), filepath.Join(mirror, "tree/sub/inner"))
	if err := syscall.Mkfifo(filepath.Join(mirror, "a/fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	return root, mirror, func() {
		t.Helper()
		for _, name := range []string{"outside/a/b/f", "outside/file"} {
			if b, err := os.ReadFile(filepath.Join(root, name)); err != nil || string(b) != "canary" {
				t.Errorf("%s outside the folder was touched: %v %q", name, err, b)
			}
		}
	}
}

func open(t *testing.T, path string) *Dir {
	d, err := OpenRoot(path, "m")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func isNotFollowed(err error) bool {
	var nf *NotFollowedError
	return errors.As(err, &nf)
}

func TestNothingIsFollowed(t *testing.T) {
	_, mirror, canary := tree(t)
	d := open(t, mirror)
	if _, err := d.OpenFile("link/b/f"); !isNotFollowed(err) {
		t.Errorf("open through a link: %v", err)
	}
	if _, err := d.OpenFile("a/b/filelink"); !isNotFollowed(err) {
		t.Errorf("open a link: %v", err)
	}
	if _, err := d.OpenFile("a/fifo"); !isNotFollowed(err) {
		t.Errorf("open a FIFO: %v (it must neither block nor open)", err)
	}
	if _, err := d.Unlink("link/b/f"); !isNotFollowed(err) {
		t.Errorf("unlink through a link: %v", err)
	}
	if _, err := d.Unlink("a/b/filelink"); !isNotFollowed(err) {
		t.Errorf("unlink of a link: %v", err)
	}
	if _, err := d.RemoveAll("link"); !isNotFollowed(err) {
		t.Errorf("remove a link as a tree: %v", err)
	}
	if _, err := d.MkdirAll("link/new"); !isNotFollowed(err) {
		t.Errorf("mkdir through a link: %v", err)
	}
	tmp, err := d.MkdirAll("staging")
	if err != nil {
		t.Fatal(err)
	}
	defer tmp.Close()
	f, name, err := tmp.CreateTemp(".x-", ".tmp")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := d.Install(tmp, name, "a/b/filelink"); !isNotFollowed(err) {
		t.Errorf("install over a link: %v", err)
	}
	if err := d.Install(tmp, name, "link/b/new"); !isNotFollowed(err) {
		t.Errorf("install through a link: %v", err)
	}
	if err := d.Install(tmp, name, "a/b/f"); err != nil {
		t.Errorf("install over a regular file: %v", err)
	}
	for _, bad := range []string{"../outside/file", "a/../../outside/file", "/etc/passwd", "a//b", "a/\x00"} {
		if _, err := d.Unlink(bad); err == nil {
			t.Errorf("unlink %q: no error", bad)
		}
	}
	// a tree with a link inside: the link goes, never its target
	if _, err := d.RemoveAll("tree"); err != nil {
		t.Errorf("remove a tree holding a link: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(mirror, "tree")); !os.IsNotExist(err) {
		t.Errorf("the tree is still there: %v", err)
	}
	canary()
}

func TestPruneStopsAtContent(t *testing.T) {
	_, mirror, _ := tree(t)
	d := open(t, mirror)
	os.MkdirAll(filepath.Join(mirror, "p/q/r"), 0o755)
	os.WriteFile(filepath.Join(mirror, "p/keep"), nil, 0o644)
	d.Prune("p/q/r")
	if _, err := os.Stat(filepath.Join(mirror, "p/q")); !os.IsNotExist(err) {
		t.Errorf("empty folders were left: %v", err)
	}
	if _, err := os.Stat(filepath.Join(mirror, "p/keep")); err != nil {
		t.Errorf("a folder with content was pruned: %v", err)
	}
	d.Prune("link/b") // a link on the way: nothing happens
	if _, err := os.Lstat(filepath.Join(mirror, "link")); err != nil {
		t.Errorf("prune removed a link: %v", err)
	}
}

// TestFoldersAreReadableWhateverTheUmask: folders made for the mirror are
// 0755 under umask 077, as readable as the 0644 files put in them, so the
// web server that serves the mirror reaches them. (Not parallel: the umask
// is the process's.)
func TestFoldersAreReadableWhateverTheUmask(t *testing.T) {
	root := t.TempDir()
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	d, err := OpenRoot(root, "")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	sub, err := d.MkdirAll("web/packages/ab/cd")
	if err != nil {
		t.Fatal(err)
	}
	sub.Close()
	// a folder whose parent is there is made by the shorter path
	if sub, err = d.MkdirAll("web/packages/ab/ef"); err != nil {
		t.Fatal(err)
	}
	sub.Close()
	for _, p := range []string{"web", "web/packages", "web/packages/ab", "web/packages/ab/cd", "web/packages/ab/ef"} {
		st, err := os.Stat(filepath.Join(root, p))
		if err != nil || st.Mode().Perm() != 0o755 {
			t.Errorf("%s: %v %v, want drwxr-xr-x", p, st.Mode(), err)
		}
	}
}

// TestCreateFreshReplacesWhatWasThere: a link at the name is replaced, not
// written through; a FIFO is replaced, not waited on; the new file is a
// regular file of mode 0600.
func TestCreateFreshReplacesWhatWasThere(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	link, fifo := filepath.Join(dir, "link.tmp"), filepath.Join(dir, "fifo.tmp")
	if err := os.Symlink(victim, link); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{link, fifo, filepath.Join(dir, "new.tmp")} {
		f, err := CreateFresh(p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if _, err := f.WriteString("ours"); err != nil {
			t.Fatal(err)
		}
		f.Close()
		st, err := os.Lstat(p)
		if err != nil || !st.Mode().IsRegular() || st.Mode().Perm() != 0o600 {
			t.Errorf("%s after CreateFresh: %v %v", p, st.Mode(), err)
		}
	}
	if b, _ := os.ReadFile(victim); string(b) != "keep" {
		t.Errorf("the link's target was written: %q", b)
	}
}
