package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bandercheck/bandercheck/pipeline"
)

// writeManifest writes rows as a finished stage's manifest.
func writeManifest(t *testing.T, state, name string, rows [][]string) {
	t.Helper()
	st, err := pipeline.NewState(state).Stage("test "+name, true, pipeline.StageOptions{ShardRows: 3}, pipeline.MustSpec(name))
	if err != nil {
		t.Fatal(err)
	}
	cols := len(pipeline.MustSpec(name).Columns)
	for i, r := range rows {
		for len(r) < cols { // columns a test does not care about stay empty
			r = append(r, "")
		}
		if err := st.Write(0, r...); err != nil {
			t.Fatal(err)
		}
		if err := st.EndUnit(strings.Repeat("x", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Finish(); err != nil {
		t.Fatal(err)
	}
}

func planState(t *testing.T, storage [][]string, upstream []string) string {
	state := t.TempDir() + "/st"
	if _, err := pipeline.NewState(state).OpenRun("/srv/mirror"); err != nil {
		t.Fatal(err)
	}
	old := "2020-01-01T00:00:00Z"
	for i := range storage {
		if storage[i][2] == "" {
			storage[i][2] = old
		}
	}
	writeManifest(t, state, "storage", storage)
	writeManifest(t, state, "projects", [][]string{
		{"Alive", "alive", "web/json/Alive", "1", "2"}, {"gone", "gone", "web/json/gone", "2", "2"}, {"Other", "other", "web/json/Other", "3", "1"},
	})
	d := func(path, project, size string) []string {
		return []string{path, project, size, "", "https://files.example.invalid/" + strings.TrimPrefix(path, "web/"), "2020-01-01T00:00:00Z"}
	}
	writeManifest(t, state, "designated", [][]string{
		d("web/packages/aa/a-1.tar.gz", "alive", "5"), d("web/packages/aa/shared.whl", "alive", "3"),
		d("web/packages/bb/g-1.tar.gz", "gone", "4"), d("web/packages/aa/shared.whl", "gone", "3"),
		d("web/packages/cc/o-1.tar.gz", "other", "7"),
	})
	if upstream != nil {
		var rows [][]string
		for _, u := range upstream {
			rows = append(rows, []string{u})
		}
		writeManifest(t, state, "upstream", rows)
	}
	return state
}

func TestPlanEndToEnd(t *testing.T) {
	t.Parallel()
	storage := [][]string{
		{"web/packages/aa/a-1.tar.gz", "5", "", ""},
		{"web/packages/aa/orphan.zip", "1", "", ""},
		{"web/packages/aa/shared.whl", "3", "", ""},
		{"web/packages/bb/g-1.tar.gz", "4", "", ""},
		{"web/packages/cc/o-1.tar.gz", "6", "", ""},
		{"web/packages/dd/fresh.whl", "2", time.Now().UTC().Add(time.Hour).Format(time.RFC3339), ""},
	}
	for _, unsorted := range []bool{false, true} {
		rows := slices.Clone(storage)
		for i := range rows {
			rows[i] = slices.Clone(rows[i])
		}
		if unsorted {
			slices.Reverse(rows)
		}
		state := planState(t, rows, []string{"alive", "other", "zzz"})
		r := bc(t, nil, "--state", state, "plan", "--max-remove-projects", "50%", "--max-download", "100%")
		if r.code != 0 {
			t.Fatalf("plan: exit %d: %s", r.code, r.stderr)
		}
		dl := catState(t, state, "plan/download")
		wantDL := "path,url,size,sha256,reason,upload_time\nweb/packages/cc/o-1.tar.gz,https://files.example.invalid/packages/cc/o-1.tar.gz,7,,size-mismatch,2020-01-01T00:00:00Z\n"
		if dl != wantDL {
			t.Errorf("download plan (unsorted=%v)\n%s\nwant\n%s", unsorted, dl, wantDL)
		}
		del := catState(t, state, "plan/delete")
		wantDel := "path,size,reason\nweb/packages/aa/orphan.zip,1,unowned\nweb/packages/bb/g-1.tar.gz,4,project-removed\n"
		if del != wantDel {
			t.Errorf("delete plan\n%s\nwant\n%s", del, wantDel)
		}
		rm := catState(t, state, "plan/remove-projects")
		if rm != "project,path\ngone,web/json/gone\ngone,web/pypi/gone/\ngone,web/simple/gone/\n" {
			t.Errorf("remove-projects plan\n%s", rm)
		}
		if !strings.Contains(r.stdout, "held back") || !strings.Contains(r.stdout, "grace:unowned") {
			t.Errorf("table does not show the file held back by --grace:\n%s", r.stdout)
		}
		var sum pipeline.PlanSummary
		data, err := os.ReadFile(filepath.Join(state, "plan", "summary.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(data, &sum); err != nil {
			t.Fatal(err)
		}
		if sum.Join.HeldBack["grace:unowned"].Files != 1 || sum.RemovedProjects != 1 || sum.Join.Delete["unowned"].Files != 1 {
			t.Errorf("summary: %s", data)
		}
		if unsorted && !strings.Contains(r.stderr, "sorting storage") {
			t.Errorf("unsorted storage was not reported: %s", r.stderr)
		}
	}
}

func TestPlanRefusesMassRemoval(t *testing.T) {
	t.Parallel()
	state := planState(t, [][]string{{"web/packages/aa/a-1.tar.gz", "5", "", ""}}, []string{"alive"})
	r := bc(t, nil, "--state", state, "plan", "--max-download", "100%")
	if r.code != 3 || !strings.Contains(r.stderr, "--max-remove-projects") || !strings.Contains(r.stderr, "2 of 3") {
		t.Fatalf("exit %d, stderr %s", r.code, r.stderr)
	}
	if rm := catState(t, state, "plan/remove-projects"); rm != "project,path\n" {
		t.Errorf("refused removals still planned: %s", rm)
	}
	if del := catState(t, state, "plan/delete"); strings.Contains(del, "project-removed") {
		t.Errorf("files of refused removals planned for deletion: %s", del)
	}
}

func TestPlanWithoutUpstreamNeverRemovesProjects(t *testing.T) {
	t.Parallel()
	state := planState(t, [][]string{{"web/packages/bb/g-1.tar.gz", "4", "", ""}}, nil)
	mustBC(t, nil, "--state", state, "plan", "--max-download", "100%")
	if del := catState(t, state, "plan/delete"); del != "path,size,reason\n" {
		t.Errorf("delete plan without upstream: %s", del)
	}
}

func TestPlanNeedsScans(t *testing.T) {
	t.Parallel()
	state := t.TempDir() + "/st"
	pipeline.NewState(state).OpenRun("/m")
	r := bc(t, nil, "--state", state, "plan")
	if r.code != 2 || !strings.Contains(r.stderr, "run bandercheck scan storage first") {
		t.Errorf("exit %d: %s", r.code, r.stderr)
	}
}

// TestPlanMaxDownloadExitCode: a plan with more downloads than --max-download
// (default 10% of designated files) exits 3 naming the flag, and apply
// refuses that plan with exit 3 too.
func TestPlanMaxDownloadExitCode(t *testing.T) {
	t.Parallel()
	state := planState(t, [][]string{{"web/packages/bb/g-1.tar.gz", "4", "", ""}}, nil)
	r := bc(t, nil, "--state", state, "plan")
	if r.code != 3 || !strings.Contains(r.stderr, "--max-download 10%") {
		t.Fatalf("plan: exit %d: %s", r.code, r.stderr)
	}
	r = bc(t, nil, "--mirror", "/srv/mirror", "--state", state, "apply", "--dry-run")
	if r.code != 3 || !strings.Contains(r.stderr, "--max-download") {
		t.Errorf("apply of a refused plan: exit %d: %s", r.code, r.stderr)
	}
}
