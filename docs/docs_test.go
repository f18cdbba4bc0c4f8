// Package docs holds the reference documentation; its test keeps the front
// page short and every link inside the repository.
package docs

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestFrontPage: the README is read in five minutes (at most 12 KB), has the
// sections a newcomer needs, links only files of the repository (which
// exist), and tells no project history.
func TestFrontPage(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if len(readme) > 12<<10 {
		t.Errorf("README.md is %d bytes, more than 12 KB: move reference material to docs/", len(readme))
	}
	for _, h := range []string{"## Install", "## Quick start", "[mirror]", "## Running it on a schedule", "systemd", "cron", "Kubernetes", "## Reading the plan", "## Guards and exit codes"} {
		if !strings.Contains(string(readme), h) {
			t.Errorf("README.md lacks %q", h)
		}
	}
	files, _ := filepath.Glob("*.md")
	files = append(files, "../README.md")
	link := regexp.MustCompile(`\]\(([^)]+)\)`)
	history := regexp.MustCompile(`(?i)\bround [0-9]|\(round\b|\bissue [0-9]+|\.\./shared|DESIGN\.md`)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range link.FindAllStringSubmatch(string(b), -1) {
			target := strings.SplitN(m[1], "#", 2)[0]
			if strings.Contains(target, "://") {
				t.Errorf("%s links outside the repository: %s", f, m[1])
				continue
			}
			if target == "" {
				continue
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(f), target)); err != nil {
				t.Errorf("%s links %s, which does not exist", f, m[1])
			}
		}
		if h := history.FindString(string(b)); h != "" {
			t.Errorf("%s tells the project's history (%q): say what is, not how it came to be", f, h)
		}
	}
}
