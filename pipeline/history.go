package pipeline

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// HistoryFileName is STATE/history.csv: one line per run, so a report can
// draw how the mirror's health moves over time. It survives a new check.
const HistoryFileName = "history.csv"

// HistoryKeep is how many lines the history keeps (the newest).
const HistoryKeep = 400

// HistoryEntry is one run's line: what its plan found, and what apply did.
type HistoryEntry struct {
	Time                      time.Time
	PlanID                    string
	Missing, Corrupt, Unowned int64 // planned downloads (missing; size or hash mismatch), unowned files
	ProjectRemoved            int64 // files of projects gone upstream
	Repaired, Deleted, Failed int64 // applied: downloaded, deleted, failed rows
}

var historyHeader = []string{"time", "plan_id", "missing", "corrupt", "unowned", "project_removed", "repaired", "deleted", "failed"}

// AppendHistory adds e to STATE/history.csv (replaced atomically), keeping
// the newest HistoryKeep lines.
func (s *State) AppendHistory(e HistoryEntry) error {
	old, err := s.History()
	if err != nil {
		return err
	}
	old = append(old, e)
	if len(old) > HistoryKeep {
		old = old[len(old)-HistoryKeep:]
	}
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	_ = w.Write(historyHeader)
	for _, h := range old {
		n := func(v int64) string { return strconv.FormatInt(v, 10) }
		_ = w.Write([]string{h.Time.UTC().Format(time.RFC3339), h.PlanID, n(h.Missing), n(h.Corrupt), n(h.Unowned), n(h.ProjectRemoved), n(h.Repaired), n(h.Deleted), n(h.Failed)})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return err
	}
	return WriteFileAtomic(filepath.Join(s.dir, HistoryFileName), b.Bytes())
}

// History reads STATE/history.csv, oldest first; none is no lines.
func (s *State) History() ([]HistoryEntry, error) {
	path := filepath.Join(s.dir, HistoryFileName)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var out []HistoryEntry
	for i, r := range rows {
		if i == 0 || len(r) < len(historyHeader) {
			continue
		}
		t, err := time.Parse(time.RFC3339, r[0])
		if err != nil {
			return nil, fmt.Errorf("%s line %d: %w", path, i+1, err)
		}
		e := HistoryEntry{Time: t, PlanID: r[1]}
		for j, p := range []*int64{&e.Missing, &e.Corrupt, &e.Unowned, &e.ProjectRemoved, &e.Repaired, &e.Deleted, &e.Failed} {
			if *p, err = strconv.ParseInt(r[2+j], 10, 64); err != nil {
				return nil, fmt.Errorf("%s line %d: %w", path, i+1, err)
			}
		}
		out = append(out, e)
	}
	return out, nil
}
