package stages

import (
	"bytes"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/bandercheck/bandercheck/pipeline"
)

// The binary writes its metrics without client_golang (whose init and
// default registry every process paid for); client_golang is the oracle
// here. Random declarations and settings are applied both to a registry
// and to a gaugeSet: the files WriteToTextfile and writeTextfile make are
// the same bytes. The cases cover label names declared out of order
// (written and sorted by name), label values that need escaping or sort
// as strings ("10" before "9"), a gauge set twice, families declared and
// never set (left out), gauges without labels, help text with a newline
// and a backslash, and NaN, infinities and -0.
func TestMetricsFileAsClientGolangWritesIt(t *testing.T) {
	names := []string{"bandercheck_b", "bandercheck_a", "bandercheck_c_total", "bandercheck_aa", "bandercheck_z"}
	labelNames := []string{"command", "guard", "action", "reason", "by", "a"}
	values := []string{"", "run", "apply", "10", "9", `a "quoted" one`, `back\slash`, "two\nlines", "ünïcode", "max-delete", "z"}
	numbers := []float64{0, 1, -1, 0.1, 1e21, 1712345678, math.NaN(), math.Inf(1), math.Inf(-1), math.Copysign(0, -1), 123.456}
	dir := t.TempDir()
	for seed := range uint64(200) {
		r := rand.New(rand.NewPCG(seed, 23))
		reg := prometheus.NewRegistry()
		var set gaugeSet
		for i, name := range names[:1+r.IntN(len(names))] {
			var labels []string
			for _, k := range r.Perm(len(labelNames))[:r.IntN(4)] {
				labels = append(labels, labelNames[k])
			}
			help := []string{"Plain help.", "Help with a \\ and a\nnewline.", ""}[i%3]
			want := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
			reg.MustRegister(want)
			got := set.gauge(name, help, labels...)
			sets := r.IntN(12)
			if len(labels) == 0 {
				sets = r.IntN(3) // one gauge at most, set again
			}
			for range sets {
				lv := make([]string, len(labels))
				for j := range lv {
					lv[j] = values[r.IntN(len(values))]
				}
				x := numbers[r.IntN(len(numbers))]
				want.WithLabelValues(lv...).Set(x)
				got.with(lv...).set(x)
			}
		}
		oracle, ours := filepath.Join(dir, "oracle.prom"), filepath.Join(dir, "ours.prom")
		if err := prometheus.WriteToTextfile(oracle, reg); err != nil {
			t.Fatal(err)
		}
		if err := writeTextfile(ours, set.families()); err != nil {
			t.Fatal(err)
		}
		a, _ := os.ReadFile(oracle)
		b, _ := os.ReadFile(ours)
		if !bytes.Equal(a, b) {
			t.Fatalf("seed %d: client_golang writes\n%s\nwe write\n%s", seed, a, b)
		}
	}
	if left, _ := os.ReadDir(dir); len(left) != 2 {
		t.Errorf("%d files in the folder: a temporary file is left", len(left))
	}
}

// The metrics file is readable by all (a node exporter runs as another
// user) whatever the umask, as WriteToTextfile leaves it, and replaces a
// link at its path rather than writing through it. Not parallel: the umask
// is the process's.
func TestMetricsFileModeAndReplace(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "elsewhere")
	if err := os.WriteFile(target, []byte("keep me\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "bandercheck.prom")
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
	old := syscall.Umask(0o077)
	var set gaugeSet
	set.gauge("bandercheck_x", "X.").with().set(1)
	err := writeTextfile(path, set.families())
	syscall.Umask(old)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Lstat(path)
	if err != nil || st.Mode() != 0o644 {
		t.Fatalf("the metrics file: %v, %v; want a regular file, mode 0644", st.Mode(), err)
	}
	if b, _ := os.ReadFile(target); string(b) != "keep me\n" {
		t.Errorf("the link's target was written through: %q", b)
	}
	if b, _ := os.ReadFile(path); string(b) != "# HELP bandercheck_x X.\n# TYPE bandercheck_x gauge\nbandercheck_x 1\n" {
		t.Errorf("the metrics file holds %q", b)
	}
}

// writeMetrics on a real state (plan, apply, a refused guard, a metadata
// scan, a previous file carrying other commands' successes) writes what a
// client_golang registry fed the same gauges writes: every family of the
// file is put back into a registry and written by WriteToTextfile.
func TestWriteMetricsAsRegistryWould(t *testing.T) {
	t.Parallel()
	f, _, _, _ := planFixture(t)
	if err := (&ScanUpstreamOptions{Upstream: upstreamIndex(t, "alpha", "beta"), Timeout: DefaultScanUpstreamOptions().Timeout, Attempts: 1}).Run(f.ctx, f.env); err != nil {
		t.Fatal(err)
	}
	if err := (&PlanOptions{MaxRemoveProjects: Limit{Percent: 50, IsPct: true}, Memory: 64 << 20}).Run(f.ctx, f.env); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	f.env.MetricsFile = filepath.Join(dir, "bandercheck.prom")
	if err := os.WriteFile(f.env.MetricsFile, []byte("# TYPE bandercheck_last_success_timestamp_seconds gauge\n"+
		"bandercheck_last_success_timestamp_seconds{command=\"scan\"} 1.7e+09\n"+
		"bandercheck_last_success_timestamp_seconds{command=\"apply\"} 1.6e+09\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f.env.RecordMetadata(ScanMetadataResult{Scanned: true, Reused: 3, Read: 2, Documents: 2})
	f.env.StageFinished("scan storage", 1500*time.Millisecond)
	f.env.StageFinished("plan", 20*time.Millisecond)
	err := f.env.WriteMetrics("apply", 3, &pipeline.RefusedError{Msg: "refused", Guards: []string{"max-delete", "max-download"}})
	if err != nil {
		t.Fatal(err)
	}
	ours, err := os.ReadFile(f.env.MetricsFile)
	if err != nil {
		t.Fatal(err)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(ours))
	if err != nil {
		t.Fatalf("the metrics file does not parse: %v\n%s", err, ours)
	}
	for _, want := range []string{"bandercheck_plan_files", "bandercheck_guard_refused", "bandercheck_metadata_projects", "bandercheck_stage_duration_seconds", "bandercheck_manifest_rows", "bandercheck_last_success_timestamp_seconds"} {
		if len(fams[want].GetMetric()) == 0 {
			t.Errorf("the metrics file lacks %s:\n%s", want, ours)
		}
	}
	carried := map[string]float64{}
	for _, m := range fams["bandercheck_last_success_timestamp_seconds"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "command" {
				carried[l.GetValue()] = m.GetGauge().GetValue()
			}
		}
	}
	if len(carried) != 2 || carried["scan"] != 1.7e9 || carried["apply"] != 1.6e9 {
		t.Errorf("last successes %v, want scan's 1.7e+09 and apply's 1.6e+09 carried over", carried)
	}
	reg := prometheus.NewRegistry()
	for _, fam := range fams {
		var labels []string
		for _, l := range fam.GetMetric()[0].GetLabel() {
			labels = append(labels, l.GetName())
		}
		v := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: fam.GetName(), Help: fam.GetHelp()}, labels)
		reg.MustRegister(v)
		for _, m := range fam.GetMetric() {
			v.With(labelMap(m)).Set(m.GetGauge().GetValue())
		}
	}
	oracle := filepath.Join(dir, "oracle.prom")
	if err := prometheus.WriteToTextfile(oracle, reg); err != nil {
		t.Fatal(err)
	}
	if want, _ := os.ReadFile(oracle); !bytes.Equal(ours, want) {
		t.Errorf("we write\n%s\na registry with the same gauges writes\n%s", ours, want)
	}
}

func labelMap(m *dto.Metric) prometheus.Labels {
	out := prometheus.Labels{}
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}
