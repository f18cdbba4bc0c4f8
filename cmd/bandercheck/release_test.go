package main

import (
	"bytes"
	"context"
	"runtime"
	"strings"
	"testing"

	"github.com/alecthomas/kong"
)

// runInProcess parses and runs args in this process, as main does, and
// returns the exit code and what kong printed.
func runInProcess(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out bytes.Buffer
	code := run(context.Background(), args, kong.Writers(&out, &out))
	return code, out.String()
}

// TestVersionNamesVersionCommitAndGo: --version and the version command print
// the stamped version (scripts/release.sh's -X main.version), the commit and
// the Go version, and exit 0.
func TestVersionNamesVersionCommitAndGo(t *testing.T) {
	oldV, oldC := version, commit
	t.Cleanup(func() { version, commit = oldV, oldC })
	version, commit = "v1.2.3-test", "0123456789abcdef"
	for _, args := range [][]string{{"--version"}, {"version"}} {
		code, out := runInProcess(t, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, code, out)
		}
		for _, want := range []string{"bandercheck v1.2.3-test\n", "commit ", runtime.Version()} {
			if !strings.Contains(out, want) {
				t.Errorf("%v: no %q in\n%s", args, want, out)
			}
		}
		if strings.Contains(out, "commit unknown") {
			t.Errorf("%v: the stamped commit is not shown:\n%s", args, out)
		}
	}
	// unstamped: the build info's module version, never an empty one
	version, commit = "", ""
	if _, out := runInProcess(t, "--version"); strings.HasPrefix(out, "bandercheck \n") || !strings.HasPrefix(out, "bandercheck ") {
		t.Errorf("unstamped --version: %q", out)
	}
}
