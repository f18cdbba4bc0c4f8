package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bandercheck/bandercheck/internal/goldentree"
)

// bandersnatchVenv is where the real bandersnatch 8.0 is built
// (../shared/tools/bandersnatch-venv.sh); tests that run it skip without it.
const bandersnatchVenv = "/tmp/bs-venv/bin/"

func needBandersnatch(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(bandersnatchVenv + "bandersnatch"); err != nil {
		t.Skip("the real bandersnatch is not built at " + bandersnatchVenv + " (../shared/tools/bandersnatch-venv.sh): the interchange test needs it; the golden tests cover the bytes without it")
	}
}

// bandersnatch runs the real bandersnatch (or bandersnatch-http) with args.
func bandersnatch(t *testing.T, tool string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bandersnatchVenv+tool, args...)
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", tool, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestSyncInterchangesWithBandersnatch: after our sync, bandersnatch mirror
// continues with nothing to fetch and its verify finds nothing to do (and,
// with one of our files moved away, names that file); after
// bandersnatch's sync, ours continues with nothing to fetch, and after
// upstream changed each continues from the other's tree to bandersnatch's
// tree of that step.
func TestSyncInterchangesWithBandersnatch(t *testing.T) {
	t.Parallel()
	needBandersnatch(t)
	for _, first := range []string{"ours", "bandersnatch"} {
		t.Run(first+" first", func(t *testing.T) {
			t.Parallel()
			mirror, state := filepath.Join(t.TempDir(), "mirror"), t.TempDir()
			for step := range 2 {
				w, url := goldenUpstream(t, step)
				conf := goldenConfig(t, "json-all-flat", mirror, url, "")
				ours := func() { mustBC(t, nil, "--config", conf, "--state", state, "sync", "--stale-wait", "1ms") }
				theirs := func() { bandersnatch(t, "bandersnatch", "-c", conf, "mirror") }
				a, b := ours, theirs
				if first == "bandersnatch" {
					a, b = theirs, ours
				}
				a()
				sameAsGolden(t, "json-all-flat", mirror, step)
				w.ResetRequests()
				b()
				if n, f := w.RequestsUnder("/pypi/"), w.RequestsUnder("/packages/"); n != 0 || f != 0 {
					t.Errorf("step %d: after %s, the other fetched %d documents and %d files", step, first, n, f)
				}
				sameAsGolden(t, "json-all-flat", mirror, step)
				if first == "ours" {
					out := bandersnatch(t, "bandersnatch-http", "-c", conf, "verify", "--delete", "--dry-run")
					work := verifyWork(out)
					if step == 1 && len(work) == 1 && strings.Contains(work[0], "/delta-1.0.win32.exe ") {
						work = nil // the file upstream dropped from its release: mirror keeps it (bandersnatch's too), verify deletes it
					}
					if len(work) > 0 {
						t.Errorf("step %d: bandersnatch verify --delete --dry-run found work on our tree:\n%s", step, strings.Join(work, "\n"))
					}
					if step == 0 {
						verifySeesAMissingFile(t, conf, mirror)
					}
				}
			}
		})
	}
}

// verifySeesAMissingFile shows that the check on verify's output can fail:
// with one release file moved out of the tree, bandersnatch verify --delete
// --dry-run says it would fetch that file, and verifyWork names it. The
// file is put back (the rename keeps its mtime).
func verifySeesAMissingFile(t *testing.T, conf, mirror string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(mirror, "web/packages/*/*/*/*"))
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(files, func(f string) bool { return !strings.Contains(filepath.Base(f), "+") })
	if i < 0 {
		t.Fatalf("no release file without '+' under %s/web/packages", mirror)
	}
	f, aside := files[i], filepath.Join(t.TempDir(), "aside")
	if err := os.Rename(f, aside); err != nil {
		t.Fatal(err)
	}
	out := bandersnatch(t, "bandersnatch-http", "-c", conf, "verify", "--delete", "--dry-run")
	if err := os.Rename(aside, f); err != nil {
		t.Fatal(err)
	}
	if work := verifyWork(out); len(work) != 1 || !strings.Contains(work[0], filepath.Base(f)) {
		t.Errorf("with %s missing, verify's work as read: %q\n%s", filepath.Base(f), work, out)
	}
}

// verifyWork is what bandersnatch verify --dry-run would fetch or delete,
// but for files with '+' in their names: its verify looks for them at their
// URL's quoted path (%2B), so it fetches and deletes them on any tree,
// bandersnatch's own included (DESIGN.md, "The mirror it works on").
func verifyWork(out string) []string {
	var work []string
	unowned := false
	for _, l := range strings.Split(out, "\n") {
		switch {
		case strings.Contains(l, "unowned files:"):
			unowned = true
			continue
		case strings.Contains(l, "would be fetched"), unowned && strings.Contains(l, "web/packages/"):
			if !strings.Contains(l, "+") && !strings.Contains(l, "%2B") {
				work = append(work, l)
			}
		}
	}
	return work
}

// TestSyncDiffFileEqualsBandersnatchs: with diff-file set, our sync and the
// real bandersnatch mirror, each on its own tree from the same upstream,
// leave the same list at every step (the first sync, after upstream
// changed, and a sync with nothing new), paths taken relative to each
// mirror and version stamps set aside; bandersnatch's order follows its
// workers, so the lines are compared sorted.
func TestSyncDiffFileEqualsBandersnatchs(t *testing.T) {
	t.Parallel()
	needBandersnatch(t)
	for _, name := range []string{"json-all-flat", "keep-index-versions"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ours, theirs := filepath.Join(t.TempDir(), "ours"), filepath.Join(t.TempDir(), "theirs")
			ourList, theirList := filepath.Join(t.TempDir(), "ours.list"), filepath.Join(t.TempDir(), "theirs.list")
			state := t.TempDir()
			read := func(list, root string) []string { // version stamps set aside
				rel := diffLines(t, list, root)
				for i, r := range rel {
					rel[i] = goldentree.Normalize(r)
				}
				slices.Sort(rel)
				return rel
			}
			for i, step := range []int{0, 1, 1} {
				_, url := goldenUpstream(t, step)
				mustBC(t, nil, "--config", goldenConfig(t, name, ours, url, "diff-file = "+ourList+"\n"), "--state", state, "sync", "--stale-wait", "1ms")
				bandersnatch(t, "bandersnatch", "-c", goldenConfig(t, name, theirs, url, "diff-file = "+theirList+"\n"), "mirror")
				a, b := read(ourList, ours), read(theirList, theirs)
				if !slices.Equal(a, b) {
					t.Errorf("sync %d: our list\n%s\nbandersnatch's\n%s", i+1, strings.Join(a, "\n"), strings.Join(b, "\n"))
				}
				if i == 0 && len(a) == 0 {
					t.Error("the first sync listed nothing")
				}
			}
		})
	}
}
