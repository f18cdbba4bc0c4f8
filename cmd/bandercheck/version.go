package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"

	"github.com/alecthomas/kong"
)

// version is stamped by scripts/release.sh (-ldflags "-X main.version=v1.2.3");
// without it the module version from the build info is used.
var version = ""

// commit is stamped by scripts/release.sh (-X main.commit=...) for builds
// whose build info has no vcs.revision (a git worktree, -buildvcs=false).
var commit = ""

// versionString is what --version prints: the version, the commit (and
// whether the tree was modified) and the Go version, from the build info.
func versionString() string {
	v, rev, goVersion, dirty := version, commit, runtime.Version(), false
	if bi, ok := buildInfo(); ok {
		goVersion = bi.GoVersion
		if v == "" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
	}
	if v == "" {
		v = "(devel)"
	}
	if rev == "" {
		rev = "unknown"
	}
	if dirty {
		rev += " (modified)"
	}
	return strings.TrimSpace(fmt.Sprintf("bandercheck %s\ncommit %s\n%s", v, rev, goVersion))
}

// buildInfo is the binary's build info, read once: each process asks for
// the version twice (kong's ${version}, the stages' Env), and the runtime
// parses the whole module list again at each call.
var buildInfo = sync.OnceValues(debug.ReadBuildInfo)

// VersionCmd is version: the same as --version.
type VersionCmd struct{}

// Run implements the command.
func (c *VersionCmd) Run(k *kong.Context) error {
	_, err := fmt.Fprintln(k.Stdout, versionString())
	return err
}

// WritesState implements stateWriter: version reads nothing.
func (c *VersionCmd) WritesState() bool { return false }
