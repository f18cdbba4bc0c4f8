package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// readMetrics parses a metrics file back with Prometheus's own parser.
func readMetrics(t *testing.T, path string) map[string]*dto.MetricFamily {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(f)
	if err != nil {
		t.Fatalf("%s does not parse: %v", path, err)
	}
	return fams
}

// value is the gauge of name whose labels include every pair of labels
// ("k=v"), or -1 when there is none.
func value(fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	fam := fams[name]
	if fam == nil {
		return -1
	}
next:
	for _, m := range fam.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for _, kv := range labels {
			k, v, _ := strings.Cut(kv, "=")
			if have[k] != v {
				continue next
			}
		}
		return m.GetGauge().GetValue()
	}
	return -1
}

// The metrics file carries the figures of a known run: the plan by reason
// as the truth of the generated mirror has it, what was applied, the exit
// code and the last success; a refused guard and a failed download show up,
// and the last success of run survives them.
func TestMetricsFileTellsWhatHappened(t *testing.T) {
	t.Parallel()
	m := generate(t, 100)
	miss := m.truth["missing"]
	f := &faults{calls: map[string]int{}, notFound: miss[0]}
	url := m.serve(t, f.wrap)
	state := filepath.Join(t.TempDir(), "st")
	metrics := filepath.Join(t.TempDir(), "bandercheck.prom")
	g := []string{"--mirror", m.root, "--state", state, "--metrics-file", metrics}

	before := float64(time.Now().Unix())
	mustBC(t, nil, append(g, "run", "--dry-run", "--hash", "--upstream", url, "--grace", "0s", "--max-remove-projects", "10%")...)
	fams := readMetrics(t, metrics)
	for reason, kind := range map[string]string{"missing": "missing", "unowned": "orphan", "hash-mismatch": "hash-mismatch"} {
		action := "download"
		if reason == "unowned" {
			action = "delete"
		}
		if got, want := value(fams, "bandercheck_plan_files", "action="+action, "reason="+reason), float64(len(m.truth[kind])); got < want {
			t.Errorf("bandercheck_plan_files{%s,%s} = %v, the mirror has %v", action, reason, got, want)
		}
	}
	if value(fams, "bandercheck_exit_code", "command=run") != 0 || value(fams, "bandercheck_last_success_timestamp_seconds", "command=run") < before {
		t.Errorf("a run that succeeded: exit code %v, last success %v", value(fams, "bandercheck_exit_code", "command=run"), value(fams, "bandercheck_last_success_timestamp_seconds", "command=run"))
	}
	for _, stage := range []string{"scan storage", "scan metadata", "scan upstream", "plan"} {
		if value(fams, "bandercheck_stage_duration_seconds", "stage="+stage) < 0 {
			t.Errorf("no duration for stage %s", stage)
		}
	}
	if value(fams, "bandercheck_manifest_done", "manifest=storage") != 1 || value(fams, "bandercheck_manifest_rows", "manifest=storage") <= 0 {
		t.Errorf("the storage manifest is not reported finished with its rows")
	}
	lastRun := value(fams, "bandercheck_last_success_timestamp_seconds", "command=run")

	// a guard refuses: exit 3, the guard named, run's last success kept
	r := bc(t, nil, append(g, "apply", "--download-base", url, "--max-delete", "0")...)
	if r.code != 3 {
		t.Fatalf("apply --max-delete 0: exit %d, want 3\n%s", r.code, r.stderr)
	}
	fams = readMetrics(t, metrics)
	if value(fams, "bandercheck_guard_refused", "command=apply", "guard=max-delete") != 1 || value(fams, "bandercheck_exit_code", "command=apply") != 3 {
		t.Errorf("a refused guard is not in the metrics: guard %v, exit code %v", value(fams, "bandercheck_guard_refused", "command=apply", "guard=max-delete"), value(fams, "bandercheck_exit_code", "command=apply"))
	}
	if value(fams, "bandercheck_last_success_timestamp_seconds", "command=run") != lastRun {
		t.Errorf("run's last success was lost by a failed apply")
	}
	// one download fails upstream (404): exit 1, one failed download counted
	if value(fams, "bandercheck_applied_files", "action=download", "result=failed") != 1 {
		t.Errorf("bandercheck_applied_files{download,failed} = %v, want 1", value(fams, "bandercheck_applied_files", "action=download", "result=failed"))
	}
	var planned float64
	for _, m := range fams["bandercheck_plan_files"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "action" && l.GetValue() == "download" {
				planned += m.GetGauge().GetValue()
			}
		}
	}
	if ok := value(fams, "bandercheck_applied_files", "action=download", "result=ok"); ok != planned-1 || planned < 10 {
		t.Errorf("bandercheck_applied_files{download,ok} = %v of %v planned downloads, one of which fails", ok, planned)
	}
	r = bc(t, nil, append(g, "apply", "--download-base", url, "--only", "download")...)
	if r.code != 1 {
		t.Fatalf("apply with a failing download: exit %d, want 1\n%s", r.code, r.stderr)
	}
	fams = readMetrics(t, metrics)
	if value(fams, "bandercheck_exit_code", "command=apply") != 1 || value(fams, "bandercheck_applied_files", "action=download", "result=failed") != 1 {
		t.Errorf("a failed download: exit code %v, failed %v", value(fams, "bandercheck_exit_code", "command=apply"), value(fams, "bandercheck_applied_files", "action=download", "result=failed"))
	}
	if left, _ := os.ReadDir(filepath.Dir(metrics)); len(left) != 1 {
		t.Errorf("the metrics folder holds %d files: a temporary one is left beside the real one", len(left))
	}
}
