package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/bandercheck/bandercheck/internal/testutil"
)

// timerMirror is a generated mirror whose defects the shipped schedules'
// default guards let through (few removed projects), with a bandersnatch.conf
// that names it, its upstream and the upstream's files.
func timerMirror(t *testing.T) (m *genMirror, conf string) {
	t.Helper()
	m = generate(t, 300, "--removed", "0.005")
	url := m.serve(t, nil)
	conf = filepath.Join(t.TempDir(), "bandersnatch.conf")
	text := "[mirror]\ndirectory = " + m.root + "\nmaster = " + url + "\ndownload-mirror = " + url + "\ndownload-mirror-no-fallback = true\n"
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return m, conf
}

// rooted maps an absolute path of a shipped unit or manifest below root, so
// that the shipped command line runs unchanged but writes under the test's folder.
func rooted(root, arg string) string {
	if filepath.IsAbs(arg) {
		return filepath.Join(root, arg)
	}
	return arg
}

// damage deletes one stored release file and corrupts another (same size,
// other bytes), as a disk or an operator's mistake would, and returns them.
func damage(t *testing.T, m *genMirror) (deleted, corrupted string) {
	t.Helper()
	var files []string
	for k := range m.expected(t) {
		if !strings.HasSuffix(k, ".metadata") {
			files = append(files, k)
		}
	}
	slices.Sort(files)
	deleted, corrupted = files[len(files)/3], files[2*len(files)/3]
	if err := os.Remove(filepath.Join(m.root, deleted)); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(m.root, corrupted)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] ^= 0x5a
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return deleted, corrupted
}

// agePlan makes the plan in state look made `by` ago.
func agePlan(t *testing.T, state string, by time.Duration) {
	t.Helper()
	p := filepath.Join(state, "plan", "summary.json")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var sum map[string]any
	if err := json.Unmarshal(b, &sum); err != nil {
		t.Fatal(err)
	}
	sum["created"] = time.Now().Add(-by).UTC().Format(time.RFC3339)
	if b, err = json.Marshal(sum); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestSystemdTimerChecksEveryDay runs the shipped service's exact command
// line (its ExecStart, with the absolute paths moved below the test's
// folder) on three simulated days: day 1 repairs the mirror; on day 2 a
// deleted and a corrupted file are found and repaired; on day 3, after an
// operator's dry run that is now older than --max-plan-age, it starts a new
// check (not exit 3) and repairs what was damaged since.
func TestSystemdTimerChecksEveryDay(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join(testutil.ModuleRoot(), "deploy", "systemd", "bandercheck.service"))
	if err != nil {
		t.Fatal(err)
	}
	var execStart []string
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "ExecStart="); ok {
			execStart = strings.Fields(rest)
		}
	}
	if len(execStart) < 2 {
		t.Fatalf("no ExecStart in the unit")
	}
	m, conf := timerMirror(t)
	root := t.TempDir()
	var args []string
	for _, a := range execStart[1:] {
		args = append(args, rooted(root, a))
	}
	if i := slices.Index(execStart, "--config"); i < 0 {
		t.Fatal("the unit names no --config")
	} else if err := os.MkdirAll(filepath.Dir(args[i]), 0o755); err != nil {
		t.Fatal(err)
	} else if b, err := os.ReadFile(conf); err != nil {
		t.Fatal(err)
	} else if err := os.WriteFile(args[i], b, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, a := range args {
		if strings.HasPrefix(a, root) {
			_ = os.MkdirAll(filepath.Dir(a), 0o755) // StateDirectory= and the collector's folder exist
		}
	}
	state := args[slices.Index(execStart, "--state")]
	day := func(n int) cmdResult {
		t.Helper()
		r := bc(t, nil, args...)
		if r.code != 0 {
			t.Fatalf("day %d: bandercheck %s: exit %d\n%s", n, strings.Join(args, " "), r.code, r.stderr)
		}
		return r
	}

	day(1)
	m.verify(t, m.root)

	deleted, corrupted := damage(t, m)
	day(2)
	for _, p := range []string{deleted, corrupted} {
		if got := treeDigest(t, m.root, p); len(got) != 1 {
			t.Errorf("day 2: %s is still missing", p)
		}
	}
	m.verify(t, m.root)
	if !fileExists(filepath.Join(state, "previous", "applied", "download")) {
		t.Error("day 2: the applied results of day 1 were not kept in STATE/previous")
	}

	// an operator reviews a dry run, and nobody applies it for two days
	dry := append(slices.Clone(args), "--dry-run")
	if r := bc(t, nil, dry...); r.code != 0 {
		t.Fatalf("dry run: exit %d\n%s", r.code, r.stderr)
	}
	agePlan(t, state, 48*time.Hour)
	deleted, corrupted = damage(t, m)
	r := day(3)
	if !strings.Contains(r.stderr, "starting a new check") {
		t.Errorf("day 3 does not say it starts a new check:\n%s", r.stderr)
	}
	m.verify(t, m.root)
}

// TestKubernetesJobsCheckEveryDay runs the shipped Jobs' containers (their
// args and environment, paths moved below the test's folder, the config a
// local mirror's) in order on three simulated days: the Indexed scan Job's
// pods, then the plan-apply Job's init containers and container. Every day
// finds and repairs what was damaged since the day before.
func TestKubernetesJobsCheckEveryDay(t *testing.T) {
	t.Parallel()
	m, conf := timerMirror(t)
	root := t.TempDir()
	var scan, planApply batchv1.Job
	for name, into := range map[string]any{"scan-job.yaml": &scan, "plan-apply-job.yaml": &planApply} {
		b, err := os.ReadFile(filepath.Join(testutil.ModuleRoot(), "deploy", "kubernetes", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := yaml.UnmarshalStrict(b, into); err != nil {
			t.Fatal(err)
		}
	}
	run := func(day int, c corev1.Container, vars map[string]string) {
		t.Helper()
		var env []string
		for _, e := range c.Env {
			if e.ValueFrom != nil {
				continue
			}
			v := expandVars(e.Value, vars)
			if e.Name == "BANDERCHECK_CONFIG" {
				v = conf // the ConfigMap's names a bucket
			} else {
				v = rooted(root, v)
			}
			env = append(env, e.Name+"="+v)
		}
		if r := bc(t, env, c.Args...); r.code != 0 {
			t.Fatalf("day %d: container %s: bandercheck %s: exit %d\n%s", day, c.Name, strings.Join(c.Args, " "), r.code, r.stderr)
		}
	}
	pa := planApply.Spec.Template.Spec
	day := func(n int) {
		t.Helper()
		for k := range int(*scan.Spec.Completions) {
			for _, c := range scan.Spec.Template.Spec.Containers {
				run(n, c, map[string]string{"JOB_COMPLETION_INDEX": itoa64(int64(k))})
			}
		}
		for _, c := range append(slices.Clone(pa.InitContainers), pa.Containers...) {
			args := slices.Clone(c.Args)
			for i, a := range args {
				args[i] = rooted(root, a)
			}
			c.Args = args
			run(n, c, nil)
		}
	}
	day(1)
	m.verify(t, m.root)
	for n := 2; n <= 3; n++ {
		deleted, corrupted := damage(t, m)
		day(n)
		for _, p := range []string{deleted, corrupted} {
			if got := treeDigest(t, m.root, p); len(got) != 1 {
				t.Errorf("day %d: %s is still missing", n, p)
			}
		}
		m.verify(t, m.root)
	}
}

// expandVars resolves $(VAR) as the kubelet does, from vars.
func expandVars(s string, vars map[string]string) string {
	return regexp.MustCompile(`\$\(([A-Z_]+)\)`).ReplaceAllStringFunc(s, func(m string) string {
		return vars[m[2:len(m)-1]]
	})
}
