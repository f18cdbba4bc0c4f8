package sinks

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/bandercheck/bandercheck/internal/safefs"
	"github.com/bandercheck/bandercheck/internal/store"
	"github.com/bandercheck/bandercheck/sources"
)

// CheckPackageKey tells whether key may be downloaded or deleted: a clean
// relative path under web/packages/ (no empty, "." or ".." segment, no NUL,
// valid UTF-8, no segment over 255 bytes), not in bandercheck's staging
// folder. A plan is input: apply checks every row with this before acting.
func CheckPackageKey(key string) error {
	rest, ok := strings.CutPrefix(key, "web/packages/")
	if !ok || rest == "" {
		return fmt.Errorf("refused: %q is not a path under web/packages/", key)
	}
	if err := checkClean(key); err != nil {
		return err
	}
	if rest == store.TempDir || strings.HasPrefix(rest, store.TempDir+"/") {
		return fmt.Errorf("refused: %q is in bandercheck's staging folder", key)
	}
	return nil
}

// CheckDeleteKey tells whether key may be deleted: a package key, or a temp
// file directly in web/json/, web/pypi/ or web/simple/ (a name beginning
// with ".", left by a sync that was killed while rewriting a document).
func CheckDeleteKey(key string) error {
	for _, dir := range []string{"web/json/", "web/pypi/", "web/simple/"} {
		name, ok := strings.CutPrefix(key, dir)
		if !ok {
			continue
		}
		if !strings.HasPrefix(name, ".") || strings.Contains(name, "/") || name == "." || name == ".." || name == ".lock" {
			return fmt.Errorf("refused: %q is neither under web/packages/ nor a temp file (a name beginning with \".\") in %s", key, dir)
		}
		return checkClean(key)
	}
	return CheckPackageKey(key)
}

func checkClean(key string) error {
	if err := safefs.CheckRel(key); err != nil {
		return fmt.Errorf("refused: %w", err)
	}
	if !utf8.ValidString(key) {
		return fmt.Errorf("refused: path %q is not valid UTF-8", key)
	}
	if len(key) > sources.MaxPathBytes {
		return fmt.Errorf("refused: path of %d bytes is longer than %d", len(key), sources.MaxPathBytes)
	}
	for _, seg := range strings.Split(key, "/") {
		if len(seg) > sources.MaxNameBytes {
			return fmt.Errorf("refused: path %q has a name longer than %d bytes", key, sources.MaxNameBytes)
		}
	}
	return nil
}

// CheckRemoval tells whether path may be removed as part of project
// (normalized): only the project's own web/json/<name>, web/pypi/<name>/ and
// simple folder (web/simple/<project>/ or, with hash-index,
// web/simple/<c>/<project>/), where <name> normalizes to project.
func CheckRemoval(project, path string) error {
	if project == "" || sources.Normalize(project) != project || strings.HasPrefix(project, ".") || strings.Contains(project, "/") {
		return fmt.Errorf("refused: %q is not a normalized project name", project)
	}
	if err := checkClean(strings.TrimSuffix(path, "/")); err != nil {
		return err
	}
	own := func(name string) bool {
		return name != "" && !strings.Contains(name, "/") && !strings.HasPrefix(name, ".") && sources.Normalize(name) == project
	}
	switch {
	case strings.HasPrefix(path, "web/json/"):
		if own(strings.TrimPrefix(path, "web/json/")) {
			return nil
		}
	case strings.HasPrefix(path, "web/pypi/"):
		name, ok := strings.CutSuffix(strings.TrimPrefix(path, "web/pypi/"), "/")
		if ok && own(name) {
			return nil
		}
	case path == sources.SimplePath(project, false) || path == sources.SimplePath(project, true):
		return nil
	}
	return errors.New("refused: " + path + " is not one of project " + project + "'s own metadata paths (web/json/<name>, web/pypi/<name>/, its simple folder)")
}
