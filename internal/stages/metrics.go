package stages

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"golang.org/x/sys/unix"

	"github.com/bandercheck/bandercheck/internal/safefs"
	"github.com/bandercheck/bandercheck/pipeline"
)

// Metric names of the --metrics-file, in the Prometheus textfile-collector
// format (node_exporter's --collector.textfile.directory).
const (
	metricLastSuccess = "bandercheck_last_success_timestamp_seconds"
	metricExitCode    = "bandercheck_exit_code"
)

// stageTiming is how long a stage took in this process.
type stageTiming struct {
	stage string
	took  time.Duration
}

// StageFinished records a stage's time and, with --metrics-file, writes the
// metrics as they stand (the command's exit code comes with its last write).
func (g *Env) StageFinished(stage string, took time.Duration) {
	g.timings = append(g.timings, stageTiming{stage, took})
	if g.MetricsFile != "" {
		if err := g.writeMetrics("", -1); err != nil {
			logf(g, "metrics: %v", err)
		}
	}
}

// RecordMetadata hands the metrics what a scan metadata of this process
// read and reused (its result); the metrics written next report it.
func (g *Env) RecordMetadata(r ScanMetadataResult) {
	if r.Scanned {
		g.metadata = &r
	}
}

// WriteMetrics writes --metrics-file for a command that ended with exitCode,
// after err (nil when it succeeded). It does nothing without a metrics file.
func (g *Env) WriteMetrics(command string, exitCode int, err error) error {
	if g.MetricsFile == "" {
		return nil
	}
	var re *pipeline.RefusedError
	if errors.As(err, &re) {
		g.refused = re.Guards
	}
	return g.writeMetrics(command, exitCode)
}

// writeMetrics gathers what STATE says (manifests, the plan, what was
// applied) and what this process measured, and replaces the metrics file
// atomically. The last success of each command is carried over from the
// file it replaces.
func (g *Env) writeMetrics(command string, exitCode int) error {
	var set gaugeSet
	gauge := set.gauge
	duration := gauge("bandercheck_stage_duration_seconds", "Seconds each stage took in the last bandercheck process.", "stage")
	for _, t := range g.timings {
		duration.with(t.stage).set(t.took.Seconds())
	}
	rows := gauge("bandercheck_manifest_rows", "Rows in each manifest of the state directory.", "manifest")
	manifestBytes := gauge("bandercheck_manifest_bytes", "Compressed bytes of each manifest's shards.", "manifest")
	done := gauge("bandercheck_manifest_done", "1 when the stage writing the manifest has finished, 0 while it is under way.", "manifest")
	for _, m := range pipeline.ManifestNames {
		sf, err := g.StateDir().StageFile(m)
		if err != nil {
			continue
		}
		rows.with(m).set(float64(sf.Rows))
		var b int64
		for _, sh := range sf.Shards {
			b += sh.Bytes
		}
		manifestBytes.with(m).set(float64(b))
		done.with(m).set(boolValue(sf.State == pipeline.StateDone))
	}
	if sum, err := g.StateDir().PlanSummary(); err == nil && sum.Join != nil {
		files := gauge("bandercheck_plan_files", "Files in the plan, by action and reason (held back: kept by the grace period).", "action", "reason")
		planBytes := gauge("bandercheck_plan_bytes", "Bytes of the files in the plan, by action and reason.", "action", "reason")
		for action, m := range map[string]map[string]*pipeline.Tally{"download": sum.Join.Download, "delete": sum.Join.Delete, "held-back": sum.Join.HeldBack} {
			for reason, t := range m {
				files.with(action, reason).set(float64(t.Files))
				planBytes.with(action, reason).set(float64(t.Bytes))
			}
		}
		gauge("bandercheck_plan_remove_projects_rows", "Paths of removed projects in the plan.").with().set(float64(sum.RemoveProjectsRows))
		gauge("bandercheck_stored_files", "Files the storage scan found.").with().set(float64(sum.Join.Stored.Files))
		gauge("bandercheck_stored_bytes", "Bytes of the files the storage scan found.").with().set(float64(sum.Join.Stored.Bytes))
		gauge("bandercheck_designated_files", "Files the metadata says the mirror should hold.").with().set(float64(sum.Join.Designated.Files))
		proven := gauge("bandercheck_proven_files", "Designated files stored with the right size, by how their content was proven: etag, metadata, content or size (nothing but the size).", "by")
		for by, n := range sum.Join.Proven {
			proven.with(by).set(float64(n))
		}
		provenBytes := gauge("bandercheck_proven_bytes", "Bytes of the designated files stored with the right size, by how their content was proven: etag, metadata, content or size (nothing but the size).", "by")
		for by, n := range sum.Join.ProvenBytes {
			provenBytes.with(by).set(float64(n))
		}
		etagMismatch := gauge("bandercheck_etag_mismatches", "ETag mismatches read in full before planning: confirmed (planned as hash-mismatch) or refuted.", "result")
		for res, n := range sum.Join.ETagMismatches {
			etagMismatch.with(res).set(float64(n))
		}
		gauge("bandercheck_metadata_problems_without_fallback", "Projects whose metadata no source could read.").with().set(float64(sum.ProblemsWithoutFallback))
		gauge("bandercheck_plan_created_timestamp_seconds", "When the plan was made.").with().set(float64(sum.Created.Unix()))
		planRefused := gauge("bandercheck_plan_refused", "1 when a plan guard held work back: max-remove-projects (removals left out), max-download (apply refuses the plan).", "guard")
		planRefused.with("max-remove-projects").set(boolValue(sum.RemovalsRefused))
		planRefused.with("max-download").set(boolValue(sum.DownloadsRefused))
	}
	if t := g.metadata; t != nil {
		m := gauge("bandercheck_metadata_projects", "Projects the last scan metadata in this process read (documents changed or new) or reused (rows of the previous scan taken, documents unchanged).", "how")
		m.with("read").set(float64(t.Read))
		m.with("reused").set(float64(t.Reused))
		gauge("bandercheck_metadata_documents_read", "Documents the last scan metadata in this process opened.").with().set(float64(t.Documents))
	}
	applied := gauge("bandercheck_applied_files", "Plan rows apply carried out, by action and result (ok, present, skipped, failed).", "action", "result")
	for _, a := range []string{"download", "delete", "remove-projects"} {
		counts, err := appliedCounts(g.StateDir(), a)
		if err != nil {
			continue
		}
		for _, r := range []string{resultOK, resultPresent, resultSkipped, resultFailed} {
			applied.with(a, r).set(float64(counts[r]))
		}
	}
	if command != "" {
		refused := gauge("bandercheck_guard_refused", "1 for each safety guard that refused the last command (exit code 3).", "command", "guard")
		for _, guard := range g.refused {
			refused.with(command, guard).set(1)
		}
		gauge(metricExitCode, "Exit code of the last bandercheck command: 0 done, 1 failure, 2 usage or configuration error, 3 refused by a safety guard.", "command").with(command).set(float64(exitCode))
		gauge("bandercheck_last_run_timestamp_seconds", "When the last bandercheck command ended.", "command").with(command).set(float64(time.Now().Unix()))
	}
	success := gauge(metricLastSuccess, "When each command last ended with exit code 0.", "command")
	for cmd, ts := range previousSuccesses(g.MetricsFile) {
		success.with(cmd).set(ts)
	}
	if command != "" && exitCode == 0 {
		success.with(command).set(float64(time.Now().Unix()))
	}
	if err := writeTextfile(g.MetricsFile, set.families()); err != nil {
		return fmt.Errorf("write --metrics-file %s: %w", g.MetricsFile, err)
	}
	return nil
}

// maxMetricsFile bounds the metrics file read back: ours is a few KB.
const maxMetricsFile = 4 << 20

// previousSuccesses reads the last-success times from an earlier metrics
// file, by command; an absent or unreadable file has none.
func previousSuccesses(path string) map[string]float64 {
	out := map[string]float64{}
	// opened without blocking, regular files only, and read within a bound:
	// a FIFO or a huge file there has nothing to carry over (it is replaced)
	f, err := safefs.OpenRegular(path)
	if err != nil {
		return out
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || st.Size() > maxMetricsFile {
		return out
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(io.LimitReader(f, maxMetricsFile))
	if err != nil {
		return out
	}
	if fam := fams[metricLastSuccess]; fam != nil {
		for _, m := range fam.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "command" {
					out[l.GetValue()] = m.GetGauge().GetValue()
				}
			}
		}
	}
	return out
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// gaugeSet holds the gauges of one metrics file, as a client library's
// registry would gather them for the text format: a family of gauges per
// name, one metric per distinct set of label values. The file is all it is
// for, so it keeps the protocol-buffer families expfmt writes and nothing
// else (no default registry, no collectors of the process).
type gaugeSet struct {
	fams []*gaugeVec
}

// gaugeVec is one family of gauges and the names of its labels.
type gaugeVec struct {
	fam    *dto.MetricFamily
	labels []string // label names, in the order values are given
	order  []int    // indexes into labels, sorted by label name
}

// gaugeValue is one gauge of a family.
type gaugeValue struct{ m *dto.Metric }

// gauge declares the family name with its help text and label names. A name
// declared twice is a bug of the caller (a registry refuses it too).
func (s *gaugeSet) gauge(name, help string, labels ...string) *gaugeVec {
	for _, v := range s.fams {
		if v.fam.GetName() == name {
			panic("metrics: gauge " + name + " declared twice")
		}
	}
	order := make([]int, len(labels))
	for i := range order {
		order[i] = i
	}
	// label pairs are written sorted by name, as a registry sorts them
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(labels[a], labels[b]) })
	v := &gaugeVec{fam: &dto.MetricFamily{Name: new(name), Help: new(help), Type: dto.MetricType_GAUGE.Enum()}, labels: labels, order: order}
	s.fams = append(s.fams, v)
	return v
}

// with is the gauge of the family with these label values, one for each
// label name in the order declared; it is made at 0 the first time.
func (v *gaugeVec) with(values ...string) gaugeValue {
	if len(values) != len(v.labels) {
		panic(fmt.Sprintf("metrics: %s has %d labels, given %d values", v.fam.GetName(), len(v.labels), len(values)))
	}
next:
	for _, m := range v.fam.Metric { // a family holds a few dozen gauges at most
		for i, j := range v.order {
			if m.Label[i].GetValue() != values[j] {
				continue next
			}
		}
		return gaugeValue{m}
	}
	m := &dto.Metric{Gauge: &dto.Gauge{Value: new(0.0)}}
	for _, j := range v.order {
		m.Label = append(m.Label, &dto.LabelPair{Name: new(v.labels[j]), Value: new(values[j])})
	}
	v.fam.Metric = append(v.fam.Metric, m)
	return gaugeValue{m}
}

// set sets the gauge to x.
func (g gaugeValue) set(x float64) { *g.m.Gauge.Value = x }

// families are the families holding a gauge, in the order a registry's
// Gather gives them: by name, and the gauges of each by their label values
// taken in label-name order.
func (s *gaugeSet) families() []*dto.MetricFamily {
	var out []*dto.MetricFamily
	for _, v := range s.fams {
		if len(v.fam.Metric) == 0 {
			continue
		}
		slices.SortFunc(v.fam.Metric, func(a, b *dto.Metric) int {
			for i := range a.Label {
				if c := strings.Compare(a.Label[i].GetValue(), b.Label[i].GetValue()); c != 0 {
					return c
				}
			}
			return 0
		})
		out = append(out, v.fam)
	}
	slices.SortFunc(out, func(a, b *dto.MetricFamily) int { return strings.Compare(a.GetName(), b.GetName()) })
	return out
}

// writeTextfile replaces path with fams in the Prometheus text format, as
// client_golang's WriteToTextfile does: through a temporary file in the same
// folder, made readable by all (0644, for a node exporter running as another
// user) and renamed over path, so a collector reads the old file or the new
// one, never a part. The temporary name does not end in .prom, so a textfile
// collector never picks it up.
func writeTextfile(path string, fams []*dto.MetricFamily) error {
	var text bytes.Buffer
	for _, f := range fams {
		if _, err := expfmt.MetricFamilyToText(&text, f); err != nil {
			return fmt.Errorf("encode %s: %w", f.GetName(), err)
		}
	}
	dir, err := safefs.OpenRoot(filepath.Dir(path), "")
	if err != nil {
		return err
	}
	defer dir.Close()
	base := filepath.Base(path)
	f, tmp, err := dir.CreateTempMode(base+".", ".tmp", 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(text.Bytes())
	if err == nil {
		err = f.Chmod(0o644) // whatever the umask, as WriteToTextfile does
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		if err = unix.Renameat(dir.Fd(), tmp, dir.Fd(), base); err != nil {
			err = &os.PathError{Op: "rename", Path: path, Err: err}
		}
	}
	if err != nil {
		_ = unix.Unlinkat(dir.Fd(), tmp, 0)
		return err
	}
	return nil
}
