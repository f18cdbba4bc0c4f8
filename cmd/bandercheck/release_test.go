package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/alecthomas/kong"

	"github.com/bandercheck/bandercheck/internal/testutil"
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

// TestLicenseIsApache2: the repository's LICENSE is the Apache License 2.0.
func TestLicenseIsApache2(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(testutil.ModuleRoot(), "LICENSE"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Apache License", "Version 2.0, January 2004", "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION"} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("LICENSE has no %q", want)
		}
	}
}

// TestShellCompletion: completion bash|zsh|fish prints a script that its
// shell parses (zsh and fish where installed), bash registers it, and the
// answers come from the kong model: commands, flags (the globals too, after
// a subcommand) and enum values.
func TestShellCompletion(t *testing.T) {
	dir := t.TempDir()
	for _, shell := range []string{"bash", "zsh", "fish"} {
		code, script := runInProcess(t, "completion", shell)
		if code != 0 || !strings.Contains(script, "bandercheck") {
			t.Fatalf("completion %s: exit %d\n%s", shell, code, script)
		}
		file := filepath.Join(dir, "bandercheck."+shell)
		if err := os.WriteFile(file, []byte(script), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := exec.LookPath(shell); err != nil {
			if shell == "bash" {
				t.Fatal("no bash")
			}
			t.Logf("no %s here: its script is not parsed", shell)
			continue
		}
		if out, err := exec.Command(shell, "-n", file).CombinedOutput(); err != nil {
			t.Errorf("%s -n on the completion script: %v\n%s", shell, err, out)
		}
	}
	out, err := exec.Command("bash", "-c", "source "+filepath.Join(dir, "bandercheck.bash")+" && complete -p bandercheck").CombinedOutput()
	if err != nil || !regexp.MustCompile(`-C '?bandercheck'? bandercheck`).Match(out) {
		t.Errorf("bash did not register the completion: %v\n%s", err, out)
	}
	for line, want := range map[string][]string{
		"bandercheck sc":                 {"scan"},
		"bandercheck scan ":              {"storage", "metadata", "upstream"},
		"bandercheck scan storage --ha":  {"--hash"},
		"bandercheck scan storage --mir": {"--mirror"},
		"bandercheck --log-format ":      {"text", "json"},
		"bandercheck completion ":        {"bash", "zsh", "fish"},
		"bandercheck apply --only ":      {"download", "delete", "remove-projects"},
	} {
		t.Setenv("COMP_LINE", line)
		code, got := runInProcess(t)
		if code != 0 {
			t.Errorf("COMP_LINE=%q: exit %d", line, code)
		}
		for _, w := range want {
			if !strings.Contains("\n"+got, "\n"+w+"\n") {
				t.Errorf("COMP_LINE=%q: no %q in %q", line, w, got)
			}
		}
	}
}

// TestManPageFromTheModel: bandercheck man writes a roff page naming every
// command and every flag of the kong model, which man renders without a
// warning (where man is installed).
func TestManPageFromTheModel(t *testing.T) {
	code, page := runInProcess(t, "man")
	if code != 0 || !strings.HasPrefix(page, ".TH BANDERCHECK 1") {
		t.Fatalf("man: exit %d\n%s", code, page)
	}
	var cli CLI
	parser, err := newParser(context.Background(), &cli)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range parser.Model.Leaves(true) {
		if !strings.Contains(page, `.SS "bandercheck `+n.Path()+`"`) {
			t.Errorf("the man page has no section for %q", n.Path())
		}
		for _, f := range n.AllFlags(true) {
			for _, flag := range f {
				name := flag.Name
				if flag.Tag.Negatable != "" {
					name = "[no-]" + name
				}
				if name := `\-\-` + strings.ReplaceAll(name, "-", `\-`); !strings.Contains(page, name) {
					t.Errorf("the man page does not name --%s (%s)", flag.Name, n.Path())
				}
			}
		}
	}
	if _, err := exec.LookPath("man"); err != nil {
		t.Log("no man here: the page is not rendered")
		return
	}
	file := filepath.Join(t.TempDir(), "bandercheck.1")
	if err := os.WriteFile(file, []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("man", "--warnings", "-l", file)
	cmd.Env = append(os.Environ(), "MANWIDTH=80", "MANPAGER=cat", "PAGER=cat")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil || errb.Len() > 0 {
		t.Errorf("man -l: %v\n%s", err, errb.String())
	}
	for _, want := range []string{"bandercheck scan storage", "GLOBAL FLAGS", "--s3-requests=256", "BANDERCHECK_MIRROR"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the rendered page has no %q", want)
		}
	}
}
