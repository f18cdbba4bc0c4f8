package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPlanKeepsWhatApplyDid: plan --show and status read the plan and what
// apply did without changing STATE; a new plan over an apply that stopped
// halfway is refused without --force (exit 3), and with it, or over a
// finished apply, the applied results are kept in STATE/previous/applied.
func TestPlanKeepsWhatApplyDid(t *testing.T) {
	t.Parallel()
	m := generate(t, 100)
	url := m.serve(t, nil)
	state := t.TempDir() + "/st"
	env := []string{"BANDERCHECK_SHARD_ROWS=5"}
	scanAndPlan(t, env, m.root, state, url)
	g := []string{"--mirror", m.root, "--state", state}
	// apply is killed after a dozen downloads: a few plan shards are recorded
	r := bc(t, append(env, "BANDERCHECK_CRASH_AT=download:12"), append(g, "apply", "--download-base", url, "--jobs", "1")...)
	if r.code == 0 {
		t.Fatalf("apply was not killed: %s", r.stderr)
	}
	applied := filepath.Join(state, "applied", "download")
	before := treeDigest(t, applied, ".")
	if len(before) < 2 {
		t.Fatalf("no applied shard was recorded before the kill")
	}
	summary, _ := os.ReadFile(filepath.Join(state, "plan", "summary.json"))

	for _, args := range [][]string{{"plan", "--show"}, {"status"}} {
		out := mustBC(t, env, append(g, args...)...)
		for _, want := range []string{"download", "missing", "applied (this plan):", "failed"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s does not show %q:\n%s", args, want, out)
			}
		}
	}
	r = bc(t, env, append(g, "plan", "--max-remove-projects", "10%")...)
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	if r.code != 3 || !strings.Contains(lines[len(lines)-1], "partly applied") || !strings.Contains(lines[len(lines)-1], "--force") {
		t.Errorf("plan over a half-done apply: exit %d, want 3 naming --force:\n%s", r.code, r.stderr)
	}
	if after := treeDigest(t, applied, "."); len(after) != len(before) {
		t.Errorf("reading or refusing changed the applied results: %d files, were %d", len(after), len(before))
	}
	if now, _ := os.ReadFile(filepath.Join(state, "plan", "summary.json")); string(now) != string(summary) {
		t.Error("plan --show, status or a refused plan changed the plan")
	}

	mustBC(t, env, append(g, "plan", "--max-remove-projects", "10%", "--force")...)
	kept := treeDigest(t, filepath.Join(state, "previous", "applied", "download"), ".")
	if len(kept) != len(before) {
		t.Errorf("plan --force kept %d applied files in STATE/previous, want %d", len(kept), len(before))
	}
	mustBC(t, env, append(g, "apply", "--download-base", url)...)
	mustBC(t, env, append(g, "plan", "--max-remove-projects", "10%")...) // over a finished apply: no --force needed
	if out := mustBC(t, env, append(g, "plan", "--show")...); !strings.Contains(out, "applied (the last check's plan") {
		t.Errorf("the finished apply's results are not shown after a new plan:\n%s", out)
	}
}
