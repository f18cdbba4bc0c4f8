package pipeline

import (
	"path/filepath"
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
	// RemovedProjects are local projects upstream lacks, or (with
	// --remove-filtered-projects) a project filter excludes; FilteredProjects
	// counts the latter.
	RemovedProjects  int64 `json:"removed_projects"`
	FilteredProjects int64 `json:"filtered_projects"`
	// RemovalsRefused is set when --max-remove-projects held every removal back.
	RemovalsRefused    bool  `json:"removals_refused"`
	MaxRemoveProjects  int64 `json:"max_remove_projects"`
	RemoveProjectsRows int64 `json:"remove_projects_rows"`
	// DownloadsRefused is set when the plan downloads more than --max-download
	// (MaxDownload) allows: apply refuses such a plan.
	DownloadsRefused bool   `json:"downloads_refused"`
	MaxDownload      string `json:"max_download"`
	// ProblemsWithoutFallback counts projects whose metadata no source could read.
	ProblemsWithoutFallback int64 `json:"problems_without_fallback"`
}

// SummaryFileName is the summary's name inside STATE/plan.
const SummaryFileName = "summary.json"

// WritePlanSummary writes summary.json into a plan folder.
func WritePlanSummary(planDir string, s *PlanSummary) error {
	return writeJSONAtomic(filepath.Join(planDir, SummaryFileName), s)
}
