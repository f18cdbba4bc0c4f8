package pipeline

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"text/tabwriter"
	"time"
)

// PlanSummary is STATE/plan/summary.json.
type PlanSummary struct {
	PlanID         string       `json:"plan_id"`
	RunID          string       `json:"run_id"`
	Created        time.Time    `json:"created"`
	StorageStarted time.Time    `json:"storage_scan_started"`
	GraceCutoff    time.Time    `json:"grace_cutoff"`
	Join           *JoinSummary `json:"files"`
	Upstream       bool         `json:"upstream_checked"`
	LocalProjects  int64        `json:"local_projects"`
	// RemovedProjects are local projects upstream lacks.
	RemovedProjects int64 `json:"removed_projects"`
	// RemovalsRefused is set when --max-remove-projects held every removal back.
	RemovalsRefused    bool  `json:"removals_refused"`
	MaxRemoveProjects  int64 `json:"max_remove_projects"`
	RemoveProjectsRows int64 `json:"remove_projects_rows"`
	// ProblemsWithoutFallback counts projects whose metadata no source could read.
	ProblemsWithoutFallback int64 `json:"problems_without_fallback"`
}

// SummaryFileName is the summary's name inside STATE/plan.
const SummaryFileName = "summary.json"

// ReadPlanSummary reads STATE/plan/summary.json.
func ReadPlanSummary(stateDir string) (*PlanSummary, error) {
	path := filepath.Join(stateDir, "plan", SummaryFileName)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	var s PlanSummary
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return &s, nil
}

// WritePlanSummary writes summary.json into a plan folder.
func WritePlanSummary(planDir string, s *PlanSummary) error {
	return writeJSONAtomic(filepath.Join(planDir, SummaryFileName), s)
}

// PrintTable writes the summary as a table.
func (s *PlanSummary) PrintTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "action\treason\tfiles\tbytes\t")
	rows := func(action string, m map[string]*Tally) {
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
		fmt.Fprintf(w, ", %d removed upstream", s.RemovedProjects)
	}
	fmt.Fprintln(w)
	if s.RemovalsRefused {
		fmt.Fprintf(w, "project removals refused: %d projects exceed --max-remove-projects %d\n", s.RemovedProjects, s.MaxRemoveProjects)
	}
	if s.ProblemsWithoutFallback > 0 {
		fmt.Fprintf(w, "%d metadata problems without a fallback: apply will refuse deletes unless --allow-problems\n", s.ProblemsWithoutFallback)
	}
	return nil
}
