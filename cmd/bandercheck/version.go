package main

import (
	"fmt"
	"runtime/debug"
	"strings"
)

// version is stamped by scripts/release.sh (-ldflags "-X main.version=v1.2.3");
// without it the module version from the build info is used.
var version = ""

// versionString is what --version prints: the version, the commit (and
// whether the tree was modified) and the Go version, from the build info.
func versionString() string {
	v, commit, goVersion, dirty := version, "unknown", "unknown", false
	if bi, ok := debug.ReadBuildInfo(); ok {
		goVersion = bi.GoVersion
		if v == "" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
	}
	if v == "" {
		v = "(devel)"
	}
	if dirty {
		commit += " (modified)"
	}
	return strings.TrimSpace(fmt.Sprintf("bandercheck %s\ncommit %s\n%s", v, commit, goVersion))
}
