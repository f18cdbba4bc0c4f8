package main

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestReportAnswersIsMyMirrorHealthy: the page opens with a verdict (what
// is to be done and the command, then "Healthy" once repaired), keeps
// unowned files out of the projects table, heads its size columns, and
// draws the history of the runs as a trend, rendered in headless Chromium.
func TestReportAnswersIsMyMirrorHealthy(t *testing.T) {
	t.Parallel()
	browser := chromium(t)
	m := generate(t, 100)
	url := m.serve(t, nil)
	state := filepath.Join(t.TempDir(), "st")
	args := runArgs(m.root, state, url, "--grace", "0s")
	mustBC(t, nil, append(args, "--dry-run")...)
	unowned := strings.Count(catState(t, state, "plan/delete"), ",unowned\n")
	if unowned == 0 {
		t.Fatal("the generated mirror has no unowned file")
	}

	page := filepath.Join(t.TempDir(), "before.html")
	mustBC(t, nil, "--state", state, "report", "--out", page)
	text, _ := browse(t, browser, page)
	first := strings.SplitN(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(text), "bandercheck report")), "\n", 2)[0]
	if !strings.Contains(first, "files to download") || !strings.Contains(first, "apply") {
		t.Errorf("the report does not open with a verdict naming the work and the command; first line %q", first)
	}
	if !strings.Contains(text, "Unowned files") || !strings.Contains(text, strconv.Itoa(unowned)+" files") {
		t.Errorf("the report does not count the %d unowned files apart:\n%s", unowned, text)
	}
	if !strings.Contains(text, "bytes\tsize") && !strings.Contains(text, "bytes size") {
		t.Errorf("the size column has no header:\n%s", text)
	}

	mustBC(t, nil, args...) // applies the plan
	mustBC(t, nil, args...) // a new check: nothing left
	page = filepath.Join(t.TempDir(), "after.html")
	mustBC(t, nil, "--state", state, "report", "--out", page)
	text, _ = browse(t, browser, page)
	first = strings.SplitN(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(text), "bandercheck report")), "\n", 2)[0]
	if !strings.HasPrefix(first, "Healthy") {
		t.Errorf("after the repair the verdict is %q, want Healthy", first)
	}
	for _, series := range []string{"missing", "corrupt", "unowned", "repaired"} {
		if !strings.Contains(text, series+" (last: ") {
			t.Errorf("the trend has no %s line:\n%s", series, text)
		}
	}
	if !strings.Contains(text, "repaired (last: 0)") || !strings.Contains(text, "unowned (last: 0)") {
		t.Errorf("the trend's last point is not the clean check:\n%s", text)
	}
}
