package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bandercheck/bandercheck/internal/testutil"
)

// TestLongReleaseRegexKeepsFiles: a [filter_regex] releases value of 293
// lines (well over 4 KB) is read whole, so its last pattern,
// 1\.2\.2-never-matches, filters nothing and apply deletes none of the
// stored 1.2.2 files. (gopkg.in/ini.v1 cut the value at 4,096 bytes into
// 1\.2\.2, which dropped release 1.2.2, and apply deleted its files.)
func TestLongReleaseRegexKeepsFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	root := filepath.Join(dir, "mirror")
	files := map[string]string{}
	var rel []string
	for v, n := range map[string]int{"1.2.2": 11, "1.0": 1} {
		var fl []string
		for i := range n {
			name := fmt.Sprintf("foo-%s-py3-none-any%d.whl", v, i)
			body := "file " + name
			path := "packages/aa/bb/cc" + fmt.Sprint(i) + "/" + name
			files["web/"+path] = body
			fl = append(fl, fmt.Sprintf(`{"filename": %q, "url": "https://files.example.invalid/%s", "size": %d, "digests": {"sha256": %q}, "upload_time_iso_8601": "2024-01-02T03:04:05.123456Z", "packagetype": "bdist_wheel"}`,
				name, path, len(body), sha256hex(body)))
		}
		rel = append(rel, fmt.Sprintf("%q: [%s]", v, strings.Join(fl, ", ")))
	}
	files["web/json/foo"] = `{"info": {"name": "foo", "version": "1.2.2"}, "last_serial": 7, "releases": {` + strings.Join(rel, ", ") + `}}`
	testutil.WriteFiles(t, root, files)
	old := time.Now().Add(-48 * time.Hour)
	for p := range files {
		os.Chtimes(filepath.Join(root, p), old, old)
	}
	// 293 patterns that match nothing here; ini.v1 cut the value 4,096 bytes
	// in, just after the "1\.2\.2" of a line, and lost the lines after it
	var conf strings.Builder
	conf.WriteString("[plugins]\nenabled =\n    regex_release\n\n[filter_regex]\nreleases =\n")
	conf.WriteString("    .*0\\.0\\.0-" + strings.Repeat("p", 50) + "-never-matches\n")
	for i := range 292 {
		fmt.Fprintf(&conf, "    .*%s\\.2-never-matches\n", map[bool]string{true: "1\\.2", false: "3\\.4"}[i%2 == 1])
	}
	conf.WriteString("\n[mirror]\ndirectory = " + root + "\njson = true\n")
	if conf.Len() < 4096*2 {
		t.Fatalf("config of %d bytes is too short to test long values", conf.Len())
	}
	cpath := filepath.Join(dir, "bandersnatch.conf")
	os.WriteFile(cpath, []byte(conf.String()), 0o644)
	canary := canaries(t, dir)
	state := filepath.Join(dir, "st")
	mustBC(t, nil, "--config", cpath, "--state", state, "run", "--grace", "0s", "--max-delete", "100%")
	for p, want := range files {
		got, err := os.ReadFile(filepath.Join(root, p))
		if err != nil || string(got) != want {
			t.Errorf("%s: %v (the long regex was cut?)", p, err)
		}
	}
	if out := catState(t, state, "plan/delete"); strings.Count(out, "\n") != 1 {
		t.Errorf("plan/delete:\n%s", out)
	}
	canary()
}

// TestConfigBombAndFIFOExitTwo: an interpolation bomb (which ini.v1 expanded
// 99 levels deep until memory ran out) and a config path that is a FIFO are
// each one clear config error, exit 2, at once and in bounded memory.
func TestConfigBombAndFIFOExitTwo(t *testing.T) {
	t.Parallel()
	testutil.Binary(t, "./cmd/bandercheck") // built before the clock starts
	dir := t.TempDir()
	var bomb strings.Builder
	bomb.WriteString("[mirror]\ndirectory = " + dir + "/mirror\nb0 = x\n")
	for i := 1; i <= 99; i++ {
		fmt.Fprintf(&bomb, "b%d = %%(b%d)s%%(b%d)s\n", i, i-1, i-1)
	}
	bomb.WriteString("download-mirror = http://m.example/%(b99)s\n")
	deep := strings.Replace(bomb.String(), "download-mirror = http://m.example/%(b99)s", "download-mirror = http://m.example/%(b10)s", 1)
	fifo := filepath.Join(dir, "fifo.conf")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, text, want string }{
		{"bomb.conf", bomb.String(), "[mirror] download-mirror: %(key)s references nest deeper than 10 levels"},
		{"deep.conf", deep, "[mirror] download-mirror: %(key)s references nest deeper than 10 levels"},
		{"fifo.conf", "", "is not a regular file"},
	} {
		path := filepath.Join(dir, c.name)
		if c.text != "" {
			os.WriteFile(path, []byte(c.text), 0o644)
		}
		r := bcWithin(t, 20*time.Second, "--config", path, "--state", filepath.Join(dir, "st"), "scan", "storage")
		if r.code != 2 || !strings.Contains(r.stderr, c.want) || !strings.Contains(r.stderr, path) || strings.Count(strings.TrimSpace(r.stderr), "\n") > 1 {
			t.Errorf("%s: exit %d: %s", c.name, r.code, r.stderr)
		}
	}
	// ten levels are as far as Python goes, and still read
	ok := strings.Replace(bomb.String(), "%(b99)s", "%(b9)s", 1)
	os.WriteFile(filepath.Join(dir, "ok.conf"), []byte(ok), 0o644)
	os.MkdirAll(filepath.Join(dir, "mirror", "web", "packages"), 0o755)
	if r := bc(t, nil, "--config", filepath.Join(dir, "ok.conf"), "--state", filepath.Join(dir, "st2"), "scan", "storage"); r.code != 0 {
		t.Errorf("nine levels: exit %d: %s", r.code, r.stderr)
	}
}
