package stages

import (
	"bytes"
	"container/heap"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bandercheck/bandercheck/pipeline"
	"github.com/bandercheck/bandercheck/sources"
)

// Report writes one self-contained HTML page about a state directory: the
// stages and their times, the plan by action and reason as a bar chart, the
// projects with the most bytes to download or delete, the first problems,
// and for each figure the command that gives it from the manifests. It
// reads the state only, with memory bounded as every stage's is.
type ReportOptions struct {
	// Out is where the page goes: a file, "-" for stdout, or
	// "STATE/report.html" for report.html in the state directory.
	Out string
	// Top is how many projects the tables of bytes to download and to
	// delete list.
	Top int
}

// DefaultReportOptions are report's defaults.
func DefaultReportOptions() ReportOptions {
	return ReportOptions{Out: "STATE/report.html", Top: 20}
}

// Validate refuses options no page can be written with.
func (c ReportOptions) Validate() error {
	if c.Top < 0 {
		return usage("--top %d: give 0 or more", c.Top)
	}
	if c.Out == "" {
		return usage("--out is empty: give a file, or - for stdout")
	}
	return nil
}

// Run implements the command.
func (c *ReportOptions) Run(ctx context.Context, g *Env) error {
	if err := c.Validate(); err != nil {
		return err
	}
	if err := pipeline.CheckNoLinks(g.State); err != nil {
		return err // report writes in STATE/tmp: nothing below STATE is followed
	}
	if _, err := os.Stat(filepath.Join(g.State, pipeline.RunFileName)); err != nil {
		return &pipeline.UsageError{Msg: fmt.Sprintf("report: %s holds no bandercheck state (%v): pass the --state a run wrote", g.State, err)}
	}
	// the sort by project makes garbage of every row it reads: keep the heap
	// near the sorter's 32 MiB (as plan does) instead of letting it double
	defer lowerGCPercent(40)()
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(80 << 20))
	data, err := c.gather(ctx, g)
	if err != nil {
		return err
	}
	out := c.Out
	if out == "STATE/report.html" {
		out = filepath.Join(g.State, "report.html")
	}
	if out == "-" {
		return reportPage().Execute(g.stdout(), data)
	}
	var page bytes.Buffer // a few tens of KB: top-N tables and the first problems
	if err := reportPage().Execute(&page, data); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := pipeline.WriteFileAtomic(out, page.Bytes()); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	fmt.Fprintf(g.stdout(), "report written to %s\n", out)
	return nil
}

type reportData struct {
	Verdict                         reportVerdict
	Trend                           template.HTML
	Unowned                         pipeline.Tally
	State, Mirror, RunID, Generated string
	Stages                          []reportStage
	Plan                            *reportPlan
	Refusals                        []string
	TopDownload, TopDelete          []projectBytes
	Top                             int
	Problems                        []reportProblems
	Cmd                             func(string) string
}

type reportStage struct {
	Manifest, Stage, State string
	Rows                   int64
	Started, Finished      string
	Seconds                string
}

type reportPlan struct {
	Rows                 []reportPlanRow
	Chart                template.HTML
	Stored, Designated   pipeline.Tally
	LocalProjects        int64
	RemoveProjects       int64
	Created, GraceCutoff string
	// Proven is how the stored designated files were proven, one row a
	// way (etag, metadata, content, size only), with a total row last
	Proven []reportProvenRow
	// ETagMismatches are the ETag mismatches read in full: confirmed, refuted
	ETagConfirmed, ETagRefuted int64
}

// reportProvenRow is the stored designated files proven one way.
type reportProvenRow struct {
	By, What                 string
	Files, Bytes             int64
	Size, FilesPct, BytesPct string
}

type reportPlanRow struct {
	Action, Reason string
	Files, Bytes   int64
	Size           string
}

type reportProblems struct {
	Manifest string
	Rows     int64
	First    [][]string
	Columns  []string
}

type projectBytes struct {
	Project string
	Files   int64
	Bytes   int64
	Size    string
}

func (c *ReportOptions) gather(ctx context.Context, g *Env) (*reportData, error) {
	run, err := g.StateDir().Run()
	if err != nil {
		return nil, err
	}
	state, _ := filepath.Abs(g.State)
	d := &reportData{State: state, Mirror: run.Mirror, RunID: run.ID, Generated: time.Now().UTC().Format(time.RFC3339), Top: c.Top,
		Cmd: func(s string) string { return "bandercheck --state " + shellQuote(state) + " " + s }}
	for _, m := range pipeline.ManifestNames {
		sf, err := g.StateDir().StageFile(m)
		if err != nil {
			continue
		}
		st := reportStage{Manifest: m, Stage: sf.Stage, State: sf.State, Rows: sf.Rows, Started: sf.Started.UTC().Format(time.RFC3339)}
		if sf.Finished != nil {
			st.Finished = sf.Finished.UTC().Format(time.RFC3339)
			st.Seconds = fmt.Sprintf("%.1f", sf.Finished.Sub(sf.Started).Seconds())
		}
		d.Stages = append(d.Stages, st)
	}
	if sum, err := g.StateDir().PlanSummary(); err == nil && sum.Join != nil {
		p := &reportPlan{Stored: sum.Join.Stored, Designated: sum.Join.Designated, LocalProjects: sum.LocalProjects, RemoveProjects: sum.RemoveProjectsRows,
			Created: sum.Created.UTC().Format(time.RFC3339), GraceCutoff: sum.GraceCutoff.UTC().Format(time.RFC3339)}
		for _, a := range []struct {
			name string
			m    map[string]*pipeline.Tally
		}{{"download", sum.Join.Download}, {"delete", sum.Join.Delete}, {"held back", sum.Join.HeldBack}} {
			reasons := make([]string, 0, len(a.m))
			for r := range a.m {
				reasons = append(reasons, r)
			}
			sort.Strings(reasons)
			for _, r := range reasons {
				p.Rows = append(p.Rows, reportPlanRow{Action: a.name, Reason: r, Files: a.m[r].Files, Bytes: a.m[r].Bytes, Size: humanBytes(a.m[r].Bytes)})
			}
		}
		p.Chart = barChart(p.Rows)
		p.Proven = provenRows(sum.Join)
		p.ETagConfirmed, p.ETagRefuted = sum.Join.ETagMismatches["confirmed"], sum.Join.ETagMismatches["refuted"]
		d.Plan = p
		if sum.RemovalsRefused {
			d.Refusals = append(d.Refusals, fmt.Sprintf("--max-remove-projects: %d of %d local projects are to be removed, more than the %d allowed; the removals were left out of the plan.", sum.RemovedProjects, sum.LocalProjects, sum.MaxRemoveProjects))
		}
		if sum.DownloadsRefused {
			d.Refusals = append(d.Refusals, fmt.Sprintf("--max-download %s: the plan downloads more than allowed; apply refuses it.", sum.MaxDownload))
		}
		if sum.ProblemsWithoutFallback > 0 {
			d.Refusals = append(d.Refusals, fmt.Sprintf("%d projects' metadata could not be read by any source: apply refuses every delete unless --allow-problems.", sum.ProblemsWithoutFallback))
		}
		// a folder of its own: report may run beside a stage that sorts in STATE/tmp
		if err := os.MkdirAll(filepath.Join(g.State, "tmp"), 0o700); err != nil {
			return nil, err
		}
		tmp, err := os.MkdirTemp(filepath.Join(g.State, "tmp"), "report-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		if d.TopDownload, err = topProjects(ctx, g.StateDir(), tmp, "plan/download", pipeline.DownloadSize, c.Top); err != nil {
			return nil, err
		}
		if d.TopDelete, err = topProjects(ctx, g.StateDir(), tmp, "plan/delete", pipeline.DeleteSize, c.Top); err != nil {
			return nil, err
		}
		if t := sum.Join.Delete["unowned"]; t != nil {
			d.Unowned = *t
		}
		d.Verdict = verdict(g.StateDir(), run, sum, d.Cmd)
	} else {
		d.Verdict = reportVerdict{Class: "refused", Text: "Not checked yet: no plan in this state.", Command: d.Cmd("run --dry-run")}
	}
	hist, err := g.StateDir().History()
	if err != nil {
		return nil, err
	}
	d.Trend = trendChart(hist)
	for _, m := range []string{"problems/storage", "problems/metadata"} {
		sf, err := g.StateDir().StageFile(m)
		if err != nil {
			continue
		}
		pr := reportProblems{Manifest: m, Rows: sf.Rows, Columns: pipeline.Columns[m]}
		errStop := errors.New("stop")
		err = g.StateDir().EachRow(m, func(row []string) error {
			if len(pr.First) >= 20 {
				return errStop
			}
			pr.First = append(pr.First, slices.Clone(row)) // the reader reuses row
			return nil
		})
		if err != nil && !errors.Is(err, errStop) {
			return nil, err
		}
		d.Problems = append(d.Problems, pr)
	}
	return d, nil
}

// provenRows tells, for the report, how many stored designated files and
// bytes were proven each way, with their shares and a total row; none for a
// plan made before plans counted it.
func provenRows(j *pipeline.JoinSummary) []reportProvenRow {
	if len(j.Proven) == 0 {
		return nil
	}
	what := map[string]string{
		pipeline.VerifiedETag:     "the listed ETag is the MD5 upstream gives (no request)",
		pipeline.VerifiedMetadata: "the sha256 the uploader stored beside the object (a claim, not the bytes)",
		pipeline.VerifiedContent:  "the bytes were read and their sha256 compared",
		pipeline.ProvenBySize:     "size only: no digest to compare",
	}
	var files, bytes int64
	for _, k := range provenOrder {
		files += j.Proven[k]
		bytes += j.ProvenBytes[k]
	}
	pct := func(n, of int64) string {
		if of == 0 {
			return ""
		}
		return fmt.Sprintf("%.1f%%", 100*float64(n)/float64(of))
	}
	var rows []reportProvenRow
	for _, k := range provenOrder {
		n, b := j.Proven[k], j.ProvenBytes[k]
		rows = append(rows, reportProvenRow{By: k, What: what[k], Files: n, Bytes: b, Size: humanBytes(b), FilesPct: pct(n, files), BytesPct: pct(b, bytes)})
	}
	return append(rows, reportProvenRow{By: "total", Files: files, Bytes: bytes, Size: humanBytes(bytes), FilesPct: pct(files, files), BytesPct: pct(bytes, bytes)})
}

// projectOfFile reads a project from a distribution's file name: a wheel's
// name ends at its first "-", an sdist's at the "-" before its version.
func projectOfFile(path string) string {
	name := path[strings.LastIndexByte(path, '/')+1:]
	for i := 0; i < len(name)-1; i++ {
		if name[i] == '-' && (name[i+1] >= '0' && name[i+1] <= '9' || strings.HasSuffix(name, ".whl")) {
			return sources.Normalize(name[:i])
		}
	}
	return sources.Normalize(name)
}

// topProjects sums a plan manifest's sizes by project (sorted on disk by
// project name, so memory does not grow with the plan) and keeps the top n.
func topProjects(ctx context.Context, state *pipeline.State, tmp, manifest string, sizeCol, n int) ([]projectBytes, error) {
	if _, err := state.StageFile(manifest); err != nil {
		return nil, nil
	}
	s := pipeline.NewSorter(tmp, 32<<20, 2, 0)
	add := cancellable(ctx, s.Add)
	err := state.EachRow(manifest, func(row []string) error {
		if manifest == "plan/delete" && row[pipeline.DeleteReason] != "project-removed" {
			return nil // an unowned file has no project: it is counted apart, not filed under a guess
		}
		return add([]string{projectOfFile(row[0]), row[sizeCol]})
	})
	if err != nil {
		return nil, errors.Join(err, s.Close())
	}
	sorted, err := s.Sort()
	if err != nil {
		return nil, err
	}
	defer sorted.Close()
	top := &projectHeap{}
	var cur projectBytes
	flush := func() {
		if cur.Project == "" {
			return
		}
		heap.Push(top, cur)
		if top.Len() > n {
			heap.Pop(top)
		}
	}
	for {
		row, err := sorted.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if row[0] != cur.Project {
			flush()
			cur = projectBytes{Project: row[0]}
		}
		size, _ := strconv.ParseInt(row[1], 10, 64)
		cur.Files++
		cur.Bytes += size
	}
	flush()
	out := make([]projectBytes, top.Len())
	for i := len(out) - 1; i >= 0; i-- {
		p := heap.Pop(top).(projectBytes)
		p.Size = humanBytes(p.Bytes)
		out[i] = p
	}
	return out, nil
}

// projectHeap is a min-heap by bytes (ties: the later name is smaller), so
// its root is the first to drop when a bigger project comes.
type projectHeap []projectBytes

func (h projectHeap) Len() int { return len(h) }
func (h projectHeap) Less(i, j int) bool {
	if h[i].Bytes != h[j].Bytes {
		return h[i].Bytes < h[j].Bytes
	}
	return h[i].Project > h[j].Project
}
func (h projectHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *projectHeap) Push(x any)   { *h = append(*h, x.(projectBytes)) }
func (h *projectHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// barChart draws the plan's bytes by action and reason as an inline SVG of
// horizontal bars, each labelled with its files and bytes.
func barChart(rows []reportPlanRow) template.HTML {
	if len(rows) == 0 {
		return ""
	}
	var most int64 = 1
	for _, r := range rows {
		most = max(most, r.Bytes)
	}
	const width, barMax, rowH, labelW = 900, 420, 26, 260
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="plan by action and reason" width="%d" height="%d" viewBox="0 0 %d %d">`, width, rowH*len(rows)+10, width, rowH*len(rows)+10)
	for i, r := range rows {
		y := 5 + i*rowH
		w := int(float64(barMax) * float64(r.Bytes) / float64(most))
		if r.Bytes > 0 {
			w = max(w, 2)
		}
		color := map[string]string{"download": "#2f6fb3", "delete": "#c0392b"}[r.Action]
		if color == "" {
			color = "#8e8e8e"
		}
		fmt.Fprintf(&b, `<text x="0" y="%d" font-size="13">%s</text>`, y+16, template.HTMLEscapeString(r.Action+": "+r.Reason))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="18" fill="%s"/>`, labelW, y+3, w, color)
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="12">%d files, %s</text>`, labelW+w+6, y+16, r.Files, template.HTMLEscapeString(r.Size))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // built from escaped text and numbers only
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

//go:embed report.html.tmpl
var reportTemplate string

// reportPage is the parsed page, made by the report command alone: parsed
// at init, it cost every process (sync included) 1,132 allocations.
var reportPage = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("report").Parse(reportTemplate))
})
