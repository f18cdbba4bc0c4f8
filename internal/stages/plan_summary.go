package stages

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/bandercheck/bandercheck/pipeline"
)

// printPlanSummary writes a plan summary as a table.
func printPlanSummary(w io.Writer, s *pipeline.PlanSummary) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "action\treason\tfiles\tbytes\t")
	rows := func(action string, m map[string]*pipeline.Tally) {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t\n", action, k, m[k].Files, m[k].Bytes)
		}
	}
	rows("download", s.Join.Download)
	rows("delete", s.Join.Delete)
	rows("held back", s.Join.HeldBack)
	fmt.Fprintf(tw, "remove-projects\t\t%d\t\t\n", s.RemoveProjectsRows)
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "stored %d files (%d bytes), designated %d files, %d local projects", s.Join.Stored.Files, s.Join.Stored.Bytes, s.Join.Designated.Files, s.LocalProjects)
	if s.Upstream {
		fmt.Fprintf(w, ", %d removed upstream", s.RemovedProjects-s.FilteredProjects)
	}
	if s.FilteredProjects > 0 {
		fmt.Fprintf(w, ", %d excluded by the filters", s.FilteredProjects)
	}
	fmt.Fprintln(w)
	if line := provenLine(s.Join); line != "" {
		fmt.Fprintln(w, line)
	}
	if s.RemovalsRefused {
		fmt.Fprintf(w, "project removals refused: %d projects exceed --max-remove-projects %d\n", s.RemovedProjects, s.MaxRemoveProjects)
	}
	if s.DownloadsRefused {
		fmt.Fprintf(w, "plan refused: more downloads than --max-download %s; apply will not run it\n", s.MaxDownload)
	}
	if s.ProblemsWithoutFallback > 0 {
		fmt.Fprintf(w, "%d metadata problems without a fallback: apply will refuse deletes unless --allow-problems\n", s.ProblemsWithoutFallback)
	}
	return nil
}

// provenOrder is the order the ways of proving a file are told in.
var provenOrder = []string{pipeline.VerifiedETag, pipeline.VerifiedMetadata, pipeline.VerifiedContent, pipeline.ProvenBySize}

// provenLine says how the content of the stored designated files was
// proven: "proven: 900 files (1.2 GiB) by etag, 80 (3.0 MiB) by metadata,
// 17 (2.0 KiB) by size only (no digest to compare); 2 ETag mismatches read
// in full: 1 confirmed, 1 refuted (the bytes were right)", or "" for a plan
// made before plans counted it. The bytes are missing from a plan made
// before plans counted them.
func provenLine(j *pipeline.JoinSummary) string {
	if j == nil || len(j.Proven) == 0 {
		return ""
	}
	var parts []string
	for _, k := range provenOrder {
		n := j.Proven[k]
		if n == 0 {
			continue
		}
		what := fmt.Sprint(n)
		if len(parts) == 0 {
			what += " files"
		}
		if b, ok := j.ProvenBytes[k]; ok {
			what += " (" + humanBytes(b) + ")"
		}
		if k == pipeline.ProvenBySize {
			what += " by size only (no digest to compare)"
		} else {
			what += " by " + k
		}
		parts = append(parts, what)
	}
	line := "proven: " + strings.Join(parts, ", ")
	if c, r := j.ETagMismatches["confirmed"], j.ETagMismatches["refuted"]; c+r > 0 {
		line += fmt.Sprintf("; %d ETag mismatches read in full: %d confirmed, %d refuted (the bytes were right)", c+r, c, r)
	}
	return line
}
