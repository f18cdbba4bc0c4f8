package stages

import (
	"fmt"
	"html/template"
	"strings"

	"github.com/bandercheck/bandercheck/pipeline"
)

// reportVerdict is the report's first line: is the mirror healthy, and if
// not, what is to be done and the command that does it.
type reportVerdict struct {
	Class   string // ok, todo, refused
	Text    string
	Command string
}

// verdict reads the plan in STATE and what apply did with it.
func verdict(state *pipeline.State, run *pipeline.Run, sum *pipeline.PlanSummary, cmd func(string) string) reportVerdict {
	dl, del := pipeline.Total(sum.Join.Download), pipeline.Total(sum.Join.Delete)
	when := sum.Created.UTC().Format("2006-01-02 15:04 MST")
	switch {
	case sum.DownloadsRefused || sum.RemovalsRefused:
		return reportVerdict{Class: "refused", Text: fmt.Sprintf("Needs you: a guard refused the plan of %s (see below).", when), Command: cmd("plan --show")}
	case dl.Files == 0 && del.Files == 0 && sum.RemoveProjectsRows == 0:
		return reportVerdict{Class: "ok", Text: fmt.Sprintf("Healthy: the mirror holds exactly what its metadata says (%d files, checked %s).", sum.Join.Stored.Files, when)}
	}
	if run.Option(applyFinished) == sum.PlanID {
		var ok, failed int64
		for _, a := range []string{"download", "delete", "remove-projects"} {
			if counts, err := appliedCounts(state, a); err == nil {
				ok += counts[resultOK] + counts[resultPresent]
				failed += counts[resultFailed]
			}
		}
		if failed > 0 {
			return reportVerdict{Class: "refused", Text: fmt.Sprintf("Repaired in part: %d of the plan's rows done, %d failed (checked %s).", ok, failed, when), Command: cmd("cat applied/download") + " | grep ,failed,"}
		}
		return reportVerdict{Class: "ok", Text: fmt.Sprintf("Repaired: %d files downloaded again, %d deleted (checked %s); the next run checks again.", dl.Files, del.Files, when)}
	}
	return reportVerdict{Class: "todo", Text: fmt.Sprintf("%d files to download (%s), %d to delete (%s), %d project paths to remove (checked %s). Apply with:",
		dl.Files, humanBytes(dl.Bytes), del.Files, humanBytes(del.Bytes), sum.RemoveProjectsRows, when), Command: cmd("apply")}
}

// trendSeries are the history's lines the trend draws, with their colours.
var trendSeries = []struct {
	name, color string
	value       func(pipeline.HistoryEntry) int64
}{
	{"missing", "#2f6fb3", func(e pipeline.HistoryEntry) int64 { return e.Missing }},
	{"corrupt", "#8e44ad", func(e pipeline.HistoryEntry) int64 { return e.Corrupt }},
	{"unowned", "#c0392b", func(e pipeline.HistoryEntry) int64 { return e.Unowned }},
	{"repaired", "#2e7d32", func(e pipeline.HistoryEntry) int64 { return e.Repaired }},
}

// trendChart draws files missing, corrupt, unowned and repaired over the
// last runs (one point per plan: a dry run and the run that applied it are
// one) as an inline SVG line chart, so a slowly rotting mirror shows.
func trendChart(hist []pipeline.HistoryEntry) template.HTML {
	var runs []pipeline.HistoryEntry
	for _, h := range hist {
		if n := len(runs); n > 0 && runs[n-1].PlanID == h.PlanID {
			runs[n-1] = h // the later line of the same plan knows what was applied
			continue
		}
		runs = append(runs, h)
	}
	if len(runs) > 60 {
		runs = runs[len(runs)-60:]
	}
	if len(runs) == 0 {
		return ""
	}
	const width, height, left, top, plotW, plotH = 900, 240, 60, 10, 700, 180
	var most int64 = 1
	for _, r := range runs {
		for _, s := range trendSeries {
			most = max(most, s.value(r))
		}
	}
	x := func(i int) float64 {
		if len(runs) == 1 {
			return left + plotW/2
		}
		return left + float64(i)*plotW/float64(len(runs)-1)
	}
	y := func(v int64) float64 { return top + plotH - float64(v)*plotH/float64(most) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="files missing, corrupt, unowned and repaired over the last %d runs" width="%d" height="%d" viewBox="0 0 %d %d">`, len(runs), width, height, width, height)
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#999"/>`, left, top+plotH, left+plotW, top+plotH)
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#999"/>`, left, top, left, top+plotH)
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="12" text-anchor="end">%d</text>`, left-6, top+10, most)
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="12" text-anchor="end">0</text>`, left-6, top+plotH)
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="12">%s</text>`, left, top+plotH+18, runs[0].Time.UTC().Format("2006-01-02"))
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="12" text-anchor="end">%s</text>`, left+plotW, top+plotH+18, runs[len(runs)-1].Time.UTC().Format("2006-01-02"))
	for k, s := range trendSeries {
		var pts []string
		for i, r := range runs {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(i), y(s.value(r))))
		}
		fmt.Fprintf(&b, `<polyline class="trend-%s" fill="none" stroke="%s" stroke-width="2" points="%s"/>`, s.name, s.color, strings.Join(pts, " "))
		for i, r := range runs {
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"><title>%s: %d %s</title></circle>`, x(i), y(s.value(r)), s.color, r.Time.UTC().Format("2006-01-02 15:04"), s.value(r), s.name)
		}
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="12" height="12" fill="%s"/><text x="%d" y="%d" font-size="13">%s (last: %d)</text>`,
			left+plotW+20, top+k*22, s.color, left+plotW+38, top+k*22+11, s.name, s.value(runs[len(runs)-1]))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // built from numbers, dates and fixed names only
}
