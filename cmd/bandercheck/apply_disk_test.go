package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// tmpfs mounts a small tmpfs (root only); the test is skipped where mounting is not allowed.
func tmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "fs")
	os.MkdirAll(dir, 0o755)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v: %s); the full-disk test needs root", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	return dir
}

func remount(t *testing.T, dir, opts string) {
	t.Helper()
	if out, err := exec.Command("mount", "-o", "remount,"+opts, dir).CombinedOutput(); err != nil {
		t.Fatalf("remount %s: %v %s", opts, err, out)
	}
}

func usedKiB(t *testing.T, dir string) int64 {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Blocks-st.Bfree) * st.Bsize / 1024
}

// TestApplyOnFullAndReadOnlyDisk: the error is clear, nothing half-written is
// visible, and once there is room the rerun finishes the mirror.
func TestApplyOnFullAndReadOnlyDisk(t *testing.T) {
	t.Parallel()
	m := generate(t, 120, "--missing", "0.3")
	fs := tmpfs(t, "64m")
	root := filepath.Join(fs, "mirror")
	if out, err := exec.Command("cp", "-a", m.root, root).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	url := m.serve(t, nil)
	state := t.TempDir() + "/st"
	scanAndPlan(t, nil, root, state, url, "--max-download", "100%") // 30% missing, on purpose

	remount(t, fs, "ro")
	r := bc(t, nil, "--mirror", root, "--state", state, "apply", "--download-base", url)
	if r.code != 1 || !strings.Contains(r.stderr, "read-only file system") || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 {
		t.Errorf("apply on a read-only mirror: exit %d: %q", r.code, r.stderr)
	}
	remount(t, fs, "rw")

	remount(t, fs, "size="+itoa64(usedKiB(t, fs)+24)+"k") // room for a few files only
	r = bc(t, nil, "--mirror", root, "--state", state, "apply", "--download-base", url, "--jobs", "2")
	if r.code != 1 || !strings.Contains(r.stderr, "no space left on device") {
		t.Fatalf("apply on a full disk: exit %d: %s", r.code, r.stderr)
	}
	if applied := bc(t, nil, "--state", state, "cat", "applied/download"); strings.Contains(applied.stdout, ",failed,") {
		t.Errorf("a full disk was recorded as failed downloads instead of stopping apply:\n%s", applied.stdout)
	}
	want := m.expected(t)
	for k, v := range treeDigest(t, root, "web/packages") {
		if w, ok := want[k]; ok && w != v && !contains(m.truth["size-mismatch"], k) && !contains(m.truth["hash-mismatch"], k) {
			t.Errorf("a half-written or wrong file is visible: %s", k)
		}
	}
	remount(t, fs, "size=64m")
	mustBC(t, nil, "--mirror", root, "--state", state, "apply", "--download-base", url)
	m.verify(t, root)
}

func contains(list []string, s string) bool { return slices.Contains(list, s) }

func itoa64(n int64) string { return strconv.FormatInt(n, 10) }
