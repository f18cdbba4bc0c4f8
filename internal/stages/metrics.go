package stages

import (
	"errors"
	"fmt"
	"github.com/bandercheck/bandercheck/internal/safefs"
	"io"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

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
	reg := prometheus.NewRegistry()
	gauge := func(name, help string, labels ...string) *prometheus.GaugeVec {
		v := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
		reg.MustRegister(v)
		return v
	}
	duration := gauge("bandercheck_stage_duration_seconds", "Seconds each stage took in the last bandercheck process.", "stage")
	for _, t := range g.timings {
		duration.WithLabelValues(t.stage).Set(t.took.Seconds())
	}
	rows := gauge("bandercheck_manifest_rows", "Rows in each manifest of the state directory.", "manifest")
	bytes := gauge("bandercheck_manifest_bytes", "Compressed bytes of each manifest's shards.", "manifest")
	done := gauge("bandercheck_manifest_done", "1 when the stage writing the manifest has finished, 0 while it is under way.", "manifest")
	for _, m := range pipeline.ManifestNames {
		sf, err := g.StateDir().StageFile(m)
		if err != nil {
			continue
		}
		rows.WithLabelValues(m).Set(float64(sf.Rows))
		var b int64
		for _, sh := range sf.Shards {
			b += sh.Bytes
		}
		bytes.WithLabelValues(m).Set(float64(b))
		done.WithLabelValues(m).Set(boolValue(sf.State == pipeline.StateDone))
	}
	if sum, err := g.StateDir().PlanSummary(); err == nil && sum.Join != nil {
		files := gauge("bandercheck_plan_files", "Files in the plan, by action and reason (held back: kept by the grace period).", "action", "reason")
		planBytes := gauge("bandercheck_plan_bytes", "Bytes of the files in the plan, by action and reason.", "action", "reason")
		for action, m := range map[string]map[string]*pipeline.Tally{"download": sum.Join.Download, "delete": sum.Join.Delete, "held-back": sum.Join.HeldBack} {
			for reason, t := range m {
				files.WithLabelValues(action, reason).Set(float64(t.Files))
				planBytes.WithLabelValues(action, reason).Set(float64(t.Bytes))
			}
		}
		gauge("bandercheck_plan_remove_projects_rows", "Paths of removed projects in the plan.").WithLabelValues().Set(float64(sum.RemoveProjectsRows))
		gauge("bandercheck_stored_files", "Files the storage scan found.").WithLabelValues().Set(float64(sum.Join.Stored.Files))
		gauge("bandercheck_stored_bytes", "Bytes of the files the storage scan found.").WithLabelValues().Set(float64(sum.Join.Stored.Bytes))
		gauge("bandercheck_designated_files", "Files the metadata says the mirror should hold.").WithLabelValues().Set(float64(sum.Join.Designated.Files))
		proven := gauge("bandercheck_proven_files", "Designated files stored with the right size, by how their content was proven: etag, metadata, content or size (nothing but the size).", "by")
		for by, n := range sum.Join.Proven {
			proven.WithLabelValues(by).Set(float64(n))
		}
		provenBytes := gauge("bandercheck_proven_bytes", "Bytes of the designated files stored with the right size, by how their content was proven: etag, metadata, content or size (nothing but the size).", "by")
		for by, n := range sum.Join.ProvenBytes {
			provenBytes.WithLabelValues(by).Set(float64(n))
		}
		etagMismatch := gauge("bandercheck_etag_mismatches", "ETag mismatches read in full before planning: confirmed (planned as hash-mismatch) or refuted.", "result")
		for res, n := range sum.Join.ETagMismatches {
			etagMismatch.WithLabelValues(res).Set(float64(n))
		}
		gauge("bandercheck_metadata_problems_without_fallback", "Projects whose metadata no source could read.").WithLabelValues().Set(float64(sum.ProblemsWithoutFallback))
		gauge("bandercheck_plan_created_timestamp_seconds", "When the plan was made.").WithLabelValues().Set(float64(sum.Created.Unix()))
		planRefused := gauge("bandercheck_plan_refused", "1 when a plan guard held work back: max-remove-projects (removals left out), max-download (apply refuses the plan).", "guard")
		planRefused.WithLabelValues("max-remove-projects").Set(boolValue(sum.RemovalsRefused))
		planRefused.WithLabelValues("max-download").Set(boolValue(sum.DownloadsRefused))
	}
	if t := g.metadata; t != nil {
		m := gauge("bandercheck_metadata_projects", "Projects the last scan metadata in this process read (documents changed or new) or reused (rows of the previous scan taken, documents unchanged).", "how")
		m.WithLabelValues("read").Set(float64(t.Read))
		m.WithLabelValues("reused").Set(float64(t.Reused))
		gauge("bandercheck_metadata_documents_read", "Documents the last scan metadata in this process opened.").WithLabelValues().Set(float64(t.Documents))
	}
	applied := gauge("bandercheck_applied_files", "Plan rows apply carried out, by action and result (ok, present, skipped, failed).", "action", "result")
	for _, a := range []string{"download", "delete", "remove-projects"} {
		counts, err := appliedCounts(g.StateDir(), a)
		if err != nil {
			continue
		}
		for _, r := range []string{resultOK, resultPresent, resultSkipped, resultFailed} {
			applied.WithLabelValues(a, r).Set(float64(counts[r]))
		}
	}
	if command != "" {
		refused := gauge("bandercheck_guard_refused", "1 for each safety guard that refused the last command (exit code 3).", "command", "guard")
		for _, guard := range g.refused {
			refused.WithLabelValues(command, guard).Set(1)
		}
		gauge(metricExitCode, "Exit code of the last bandercheck command: 0 done, 1 failure, 2 usage or configuration error, 3 refused by a safety guard.", "command").WithLabelValues(command).Set(float64(exitCode))
		gauge("bandercheck_last_run_timestamp_seconds", "When the last bandercheck command ended.", "command").WithLabelValues(command).Set(float64(time.Now().Unix()))
	}
	success := gauge(metricLastSuccess, "When each command last ended with exit code 0.", "command")
	for cmd, ts := range previousSuccesses(g.MetricsFile) {
		success.WithLabelValues(cmd).Set(ts)
	}
	if command != "" && exitCode == 0 {
		success.WithLabelValues(command).Set(float64(time.Now().Unix()))
	}
	if err := prometheus.WriteToTextfile(g.MetricsFile, reg); err != nil {
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
