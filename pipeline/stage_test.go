package pipeline

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

var testSpecs = []Spec{MustSpec("designated"), MustSpec("problems/metadata")}

// unitRows gives the rows of unit u: 1 to 3 designated rows, and a problem row every 4th unit.
func unitRows(u int) (designated [][]string, problems [][]string) {
	for j := range u%3 + 1 {
		p := fmt.Sprintf("web/packages/%02x/x/proj%d-%d.tar.gz", u%256, u, j)
		designated = append(designated, []string{p, fmt.Sprintf("proj%d", u), "123", strings.Repeat("a", 64), "https://example.invalid/" + p, "2024-01-01T00:00:00Z", ""})
	}
	if u%4 == 0 {
		problems = append(problems, []string{fmt.Sprintf("web/json/proj%d", u), "metadata", "bad json", "simple"})
	}
	return
}

func unitCursor(u int) string { return fmt.Sprintf("u%06d", u) }

// writeUnits writes units from the stage's cursor up to (not including) stop.
func writeUnits(t *testing.T, st *Stage, stop int) {
	t.Helper()
	start := 0
	if c := st.Cursor(); c != "" {
		fmt.Sscanf(c, "u%06d", &start)
		start++
	}
	for u := start; u < stop; u++ {
		d, p := unitRows(u)
		for _, r := range d {
			if err := st.Write(0, r...); err != nil {
				t.Fatal(err)
			}
		}
		for _, r := range p {
			if err := st.Write(1, r...); err != nil {
				t.Fatal(err)
			}
		}
		if err := st.EndUnit(unitCursor(u)); err != nil {
			t.Fatal(err)
		}
	}
}

func openTestStage(t *testing.T, dir string) *Stage {
	t.Helper()
	st, err := NewState(dir).Stage("scan-metadata", false, StageOptions{ShardRows: 7}, testSpecs...)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func readAll(t *testing.T, dir, name string) [][]string {
	t.Helper()
	r, err := NewState(dir).Manifest(name)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var rows [][]string
	for {
		row, err := r.Next()
		if err == io.EOF {
			return rows
		}
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, slices.Clone(row))
	}
}

const totalUnits = 60

func uninterrupted(t *testing.T) (designated, problems [][]string) {
	dir := t.TempDir()
	st := openTestStage(t, dir)
	writeUnits(t, st, totalUnits)
	if err := st.Finish(); err != nil {
		t.Fatal(err)
	}
	return readAll(t, dir, "designated"), readAll(t, dir, "problems/metadata")
}

func TestStageResumesAfterCrashPoints(t *testing.T) {
	wantD, wantP := uninterrupted(t)
	if len(wantD) != 120 || len(wantP) != 15 {
		t.Fatalf("uninterrupted run wrote %d and %d rows", len(wantD), len(wantP))
	}
	crashes := map[string]func(t *testing.T, dir string){
		"open shard left as .tmp": func(t *testing.T, dir string) {},
		"shard renamed before _stage.json": func(t *testing.T, dir string) {
			d := filepath.Join(dir, "designated")
			tmps, _ := filepath.Glob(filepath.Join(d, "*.tmp"))
			sf, _ := NewState(dir).StageFile("designated")
			// A complete shard that _stage.json does not record yet.
			data, err := os.ReadFile(filepath.Join(d, sf.Shards[0].File))
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(d, shardName(len(sf.Shards)+1)), data, 0o644)
			for _, tmp := range tmps {
				os.Remove(tmp)
			}
		},
		"stray tmp": func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "designated", "000099.csv.zst.tmp"), []byte("junk"), 0o644)
			os.WriteFile(filepath.Join(dir, "designated", StageFileName+".tmp"), []byte("{"), 0o644)
		},
		"_stage.json missing": func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, "designated", StageFileName))
		},
		"journal appended, _stage.json not yet": func(t *testing.T, dir string) {
			// both manifests' journals hold entries (and a half-written
			// line) past the count their _stage.json records
			for _, m := range []string{"designated", "problems/metadata"} {
				old, err := os.ReadFile(filepath.Join(dir, "saved-"+strings.ReplaceAll(m, "/", "-")+"-stage.json"))
				if err != nil {
					t.Fatal(err)
				}
				os.WriteFile(filepath.Join(dir, m, StageFileName), old, 0o644)
				f, _ := os.OpenFile(filepath.Join(dir, m, ShardJournalName), os.O_WRONLY|os.O_APPEND, 0)
				f.WriteString(`{"file":"000099.csv.zst","ro`)
				f.Close()
			}
		},
		"second manifest one commit behind": func(t *testing.T, dir string) {
			// restore problems/metadata's state file from before the last commit
			old, err := os.ReadFile(filepath.Join(dir, "saved-problems-stage.json"))
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(dir, "problems", "metadata", StageFileName), old, 0o644)
		},
	}
	for name, crash := range crashes {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			st := openTestStage(t, dir)
			writeUnits(t, st, 20)
			saved, _ := os.ReadFile(filepath.Join(dir, "problems", "metadata", StageFileName))
			os.WriteFile(filepath.Join(dir, "saved-problems-stage.json"), saved, 0o644)
			os.WriteFile(filepath.Join(dir, "saved-problems-metadata-stage.json"), saved, 0o644)
			saved, _ = os.ReadFile(filepath.Join(dir, "designated", StageFileName))
			os.WriteFile(filepath.Join(dir, "saved-designated-stage.json"), saved, 0o644)
			writeUnits(t, st, 33)
			// kill: the stage is dropped without Close, its open shards stay as .tmp
			crash(t, dir)
			st = openTestStage(t, dir)
			if st.Done() {
				t.Fatal("stage reports done after a crash")
			}
			if tmps, _ := filepath.Glob(filepath.Join(dir, "*", "*.tmp")); len(tmps) > 0 {
				t.Fatalf("tmp files survive resume: %v", tmps)
			}
			writeUnits(t, st, totalUnits)
			if err := st.Finish(); err != nil {
				t.Fatal(err)
			}
			gotD, gotP := readAll(t, dir, "designated"), readAll(t, dir, "problems/metadata")
			if !slices.EqualFunc(gotD, wantD, slices.Equal) {
				t.Errorf("designated after resume: %d rows, want %d", len(gotD), len(wantD))
			}
			if !slices.EqualFunc(gotP, wantP, slices.Equal) {
				t.Errorf("problems after resume: %d rows, want %d", len(gotP), len(wantP))
			}
			if st := openTestStage(t, dir); !st.Done() {
				t.Error("finished stage not done when reopened")
			}
		})
	}
}

func TestShardsNeverSplitUnits(t *testing.T) {
	dir := t.TempDir()
	st := openTestStage(t, dir)
	writeUnits(t, st, totalUnits)
	if err := st.Finish(); err != nil {
		t.Fatal(err)
	}
	sf, err := NewState(dir).StageFile("designated")
	if err != nil {
		t.Fatal(err)
	}
	for _, sh := range sf.Shards {
		if sh.Rows > 7 {
			t.Errorf("shard %s has %d rows, limit 7", sh.File, sh.Rows)
		}
	}
	// every shard ends with the last row of its cursor's unit
	r, _ := NewState(dir).Manifest("designated")
	defer r.Close()
	for _, sh := range sf.Shards {
		var last []string
		for range sh.Rows {
			row, err := r.Next()
			if err != nil {
				t.Fatal(err)
			}
			last = slices.Clone(row)
		}
		var u int
		fmt.Sscanf(sh.Cursor, "u%06d", &u)
		d, _ := unitRows(u)
		if !slices.Equal(last, d[len(d)-1]) {
			t.Errorf("shard %s ends with %v, not with the last row of unit %s", sh.File, last[0], sh.Cursor)
		}
	}
}

func TestAwkwardPathsRoundTrip(t *testing.T) {
	dir := t.TempDir()
	st, err := NewState(dir).Stage("scan-storage", false, StageOptions{}, MustSpec("storage"))
	if err != nil {
		t.Fatal(err)
	}
	paths := []string{
		"web/packages/a,b/c.tar.gz", `web/packages/q"uote"/x.whl`, "web/packages/new\nline/x", "web/packages/cr\r\nlf/x",
		"web/packages/sp ace/x y.zip", "web/packages/ünïcödé/日本語-1.0.tar.gz", " leading space", "", `"`, "\"\n,",
	}
	for i, p := range paths {
		if err := st.Write(0, p, fmt.Sprint(i), "2024-01-01T00:00:00Z", "", "", "", "", "", ""); err != nil {
			t.Fatal(err)
		}
		if err := st.EndUnit(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Finish(); err != nil {
		t.Fatal(err)
	}
	rows := readAll(t, dir, "storage")
	if len(rows) != len(paths) {
		t.Fatalf("read %d rows, wrote %d", len(rows), len(paths))
	}
	for i, row := range rows {
		want := paths[i]
		if want == "web/packages/cr\r\nlf/x" {
			want = "web/packages/cr\nlf/x" // encoding/csv folds \r\n inside quoted fields (RFC 4180 readers differ here)
		}
		if row[0] != want {
			t.Errorf("row %d: path %q, want %q", i, row[0], want)
		}
	}
}

func TestCorruptShardIsNamed(t *testing.T) {
	for name, damage := range map[string]func(data []byte) []byte{
		"truncated":  func(d []byte) []byte { return d[:len(d)/2] },
		"bit flip":   func(d []byte) []byte { d = slices.Clone(d); d[len(d)/2] ^= 0x55; return d },
		"no trailer": func(d []byte) []byte { return d[:len(d)-4] },
		"empty":      func(d []byte) []byte { return nil },
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			st := openTestStage(t, dir)
			writeUnits(t, st, totalUnits)
			if err := st.Finish(); err != nil {
				t.Fatal(err)
			}
			shard := filepath.Join(dir, "designated", shardName(3))
			data, _ := os.ReadFile(shard)
			os.WriteFile(shard, damage(data), 0o644)
			r, _ := NewState(dir).Manifest("designated")
			defer r.Close()
			var err error
			n := 0
			for err == nil {
				_, err = r.Next()
				n++
			}
			if err == io.EOF {
				t.Fatalf("damaged shard read silently (%d rows)", n)
			}
			if !strings.Contains(err.Error(), shard) || !strings.Contains(err.Error(), "--fresh") {
				t.Errorf("error does not name the shard and the remedy: %v", err)
			}
		})
	}
}

func TestRunRecordRefusesChangedOptions(t *testing.T) {
	dir := t.TempDir()
	r, err := NewState(dir).OpenRun("/srv/mirror")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Require("metadata.from", "json", false); err != nil {
		t.Fatal(err)
	}
	r, err = NewState(dir).OpenRun("/srv/mirror")
	if err != nil {
		t.Fatal(err)
	}
	err = r.Require("metadata.from", "simple", false)
	var ue *UsageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "metadata.from") || !strings.Contains(err.Error(), "--fresh") {
		t.Fatalf("changed option not refused clearly: %v", err)
	}
	if _, err := NewState(dir).OpenRun("/srv/other"); !errors.As(err, &ue) || !strings.Contains(err.Error(), "/srv/mirror") {
		t.Fatalf("other mirror not refused clearly: %v", err)
	}
}

func TestForeignStateDirectoryUntouched(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "precious.txt"), []byte("mine"), 0o644)
	_, err := NewState(dir).OpenRun("/srv/mirror")
	var ue *UsageError
	if !errors.As(err, &ue) {
		t.Fatalf("foreign directory accepted: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("foreign directory was changed: %v", entries)
	}
}

func TestLargeUnitGetsItsOwnShardAndCanBeDiscarded(t *testing.T) {
	dir := t.TempDir()
	st, err := NewState(dir).Stage("scan-metadata", false, StageOptions{ShardRows: 100}, testSpecs...)
	if err != nil {
		t.Fatal(err)
	}
	big := func(tag string) {
		for i := range 20000 {
			if err := st.Write(0, fmt.Sprintf("web/packages/%s/%06d", tag, i), tag, "1", strings.Repeat("b", 64), strings.Repeat("u", 150), "", ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	writeUnits(t, st, 5)
	big("discarded")
	if err := st.DiscardUnit(); err != nil {
		t.Fatal(err)
	}
	writeUnits(t, st, 6) // unit 5
	big("kept")
	if err := st.EndUnit("u000005-big"); err != nil {
		t.Fatal(err)
	}
	if err := st.Finish(); err != nil {
		t.Fatal(err)
	}
	rows := readAll(t, dir, "designated")
	var kept int
	for _, r := range rows {
		if r[1] == "discarded" {
			t.Fatal("a discarded unit's rows were committed")
		}
		if r[1] == "kept" {
			kept++
		}
	}
	if kept != 20000 {
		t.Fatalf("large unit has %d rows, want 20000", kept)
	}
	sf, _ := NewState(dir).StageFile("designated")
	last := sf.Shards[len(sf.Shards)-1]
	if last.Rows != 20000 || last.Cursor != "u000005-big" {
		t.Errorf("large unit not in a shard of its own: %+v", last)
	}
}

func TestLargeUnitInTwoManifests(t *testing.T) {
	dir := t.TempDir()
	st, err := NewState(dir).Stage("scan-metadata", false, StageOptions{ShardRows: 100}, testSpecs...)
	if err != nil {
		t.Fatal(err)
	}
	writeUnits(t, st, 5)
	for i := range 20000 { // both manifests outgrow the unit buffer, one after the other
		st.Write(0, fmt.Sprintf("web/packages/big/%06d", i), "big", "1", strings.Repeat("b", 64), strings.Repeat("u", 150), "", "")
	}
	for i := range 30000 {
		st.Write(1, fmt.Sprintf("web/json/big%06d", i), "metadata", strings.Repeat("e", 150), "")
	}
	if err := st.EndUnit("u000005-big"); err != nil {
		t.Fatal(err)
	}
	writeUnits(t, st, 9)
	// a kill now: the reopened stage must hold whole units only
	st = openTestStage(t, dir)
	if st.Cursor() != "u000005-big" && st.Cursor() != "u000004" {
		t.Fatalf("resume cursor %q", st.Cursor())
	}
	d, p := readAll(t, dir, "designated"), readAll(t, dir, "problems/metadata")
	big, bigProblems := 0, 0
	for _, r := range d {
		if r[1] == "big" {
			big++
		}
	}
	for _, r := range p {
		if strings.HasPrefix(r[0], "web/json/big") {
			bigProblems++
		}
	}
	if want := map[bool]int{true: 20000, false: 0}[st.Cursor() == "u000005-big"]; big != want || bigProblems != want*3/2 {
		t.Fatalf("cursor %s: %d big designated and %d big problem rows committed, want %d and %d", st.Cursor(), big, bigProblems, want, want*3/2)
	}
}

// TestBeforeCommitRunsBeforeEachCommitIsRecorded: the hook that makes a
// commit's files durable runs once before every recorded commit, and a
// failure of it records nothing.
func TestBeforeCommitRunsBeforeEachCommitIsRecorded(t *testing.T) {
	dir := t.TempDir()
	calls := 0
	recordedAtCall := []int{}
	st, err := NewState(dir).Stage("scan-metadata", false, StageOptions{ShardRows: 7, BeforeCommit: func() error {
		calls++
		sf, err := NewState(dir).StageFile("designated")
		if err != nil {
			return err
		}
		recordedAtCall = append(recordedAtCall, len(sf.Shards))
		return nil
	}}, testSpecs...)
	if err != nil {
		t.Fatal(err)
	}
	writeUnits(t, st, totalUnits)
	if err := st.Finish(); err != nil {
		t.Fatal(err)
	}
	sf, _ := NewState(dir).StageFile("designated")
	if calls != sf.Commit || calls == 0 {
		t.Errorf("%d calls for %d commits", calls, sf.Commit)
	}
	for i, n := range recordedAtCall {
		if n > i { // (a commit may hold no new designated shard)
			t.Errorf("call %d saw %d shards recorded: the commit was recorded before the hook", i, n)
		}
	}

	dir2 := t.TempDir()
	st2, err := NewState(dir2).Stage("scan-metadata", false, StageOptions{ShardRows: 7, BeforeCommit: func() error { return fmt.Errorf("disk gone") }}, testSpecs...)
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	var werr error
	for u := 0; u < totalUnits && werr == nil; u++ {
		rows, probs := unitRows(u)
		for _, r := range rows {
			if werr = st2.Write(0, r...); werr != nil {
				break
			}
		}
		for _, r := range probs {
			st2.Write(1, r...)
		}
		if werr == nil {
			werr = st2.EndUnit(fmt.Sprintf("u%06d", u))
		}
	}
	if werr == nil || !strings.Contains(werr.Error(), "disk gone") {
		t.Errorf("a failing hook: %v", werr)
	}
	if sf, _ := NewState(dir2).StageFile("designated"); sf != nil && len(sf.Shards) != 0 {
		t.Errorf("a commit was recorded although its hook failed: %d shards", len(sf.Shards))
	}
}

// TestStageFileSizeDoesNotGrowWithShards: a commit rewrites _stage.json
// whole, so its size must not grow with the shards: with 105 and with 500
// shards (the same digits in every count) it is the same size. Listing the
// shards in it, as it did, made 2,100 commits of a manifest at the index's
// full size rewrite 532 KB each. The journal grows by one line a commit.
func TestStageFileSizeDoesNotGrowWithShards(t *testing.T) {
	dir := t.TempDir()
	clock := func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC) }
	st, err := NewState(dir).Stage("scan-storage", false, StageOptions{ShardRows: 1, Now: clock}, MustSpec("storage"))
	if err != nil {
		t.Fatal(err)
	}
	sizes := map[int]int64{}
	journal := map[int]int64{}
	for u := range 500 {
		if err := st.Write(0, fmt.Sprintf("web/packages/%06d", u), "1", "2024-01-01T00:00:00Z", "", "", "", "", "", ""); err != nil {
			t.Fatal(err)
		}
		if err := st.EndUnit(unitCursor(u)); err != nil {
			t.Fatal(err)
		}
		if n := u + 1; n == 105 || n == 106 || n == 500 {
			fi, err := os.Stat(filepath.Join(dir, "storage", StageFileName))
			if err != nil {
				t.Fatal(err)
			}
			ji, err := os.Stat(filepath.Join(dir, "storage", ShardJournalName))
			if err != nil {
				t.Fatal(err)
			}
			sizes[n], journal[n] = fi.Size(), ji.Size()
		}
	}
	if sizes[105] != sizes[500] {
		t.Errorf("_stage.json is %d bytes with 105 shards and %d with 500: it grows with the shards", sizes[105], sizes[500])
	}
	if line := journal[106] - journal[105]; line <= 0 || line > 200 || journal[500] != journal[105]+395*line {
		t.Errorf("journal: %d bytes at 105 shards, %d at 106, %d at 500: not one line a commit", journal[105], journal[106], journal[500])
	}
	if err := st.Finish(); err != nil {
		t.Fatal(err)
	}
	sf, err := NewState(dir).StageFile("storage")
	if err != nil || len(sf.Shards) != 500 || sf.Rows != 500 || sf.Shards[499].Cursor != unitCursor(499) {
		t.Fatalf("read back: %v, %+v", err, sf)
	}
	if rows := readAll(t, dir, "storage"); len(rows) != 500 {
		t.Errorf("read %d rows, want 500", len(rows))
	}
}

// toOldFormat rewrites manifest's state as bandercheck wrote it before the
// shard journal: every shard listed inside _stage.json, no journal.
func toOldFormat(t *testing.T, dir, manifest string) {
	t.Helper()
	sf, err := NewState(dir).StageFile(manifest)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(sf)
	var m map[string]any
	json.Unmarshal(b, &m)
	delete(m, "journal")
	if sf.Shards == nil {
		m["shards"] = []any{}
	}
	b, _ = json.MarshalIndent(m, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(manifest), StageFileName), b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, filepath.FromSlash(manifest), ShardJournalName)); err != nil {
		t.Fatal(err)
	}
}

// TestOldFormatStateIsReadAndResumed: a state directory whose _stage.json
// lists its shards (no journal) reads the same, resumes to the same
// manifests as an uninterrupted run, and is moved to a journal on the way.
func TestOldFormatStateIsReadAndResumed(t *testing.T) {
	wantD, wantP := uninterrupted(t)
	dir := t.TempDir()
	st := openTestStage(t, dir)
	writeUnits(t, st, 33)
	before, _ := NewState(dir).StageFile("designated")
	for _, m := range []string{"designated", "problems/metadata"} {
		toOldFormat(t, dir, m)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "designated", StageFileName)); !strings.Contains(string(data), `"000001.csv.zst"`) {
		t.Fatalf("not the old format:\n%s", data)
	}
	after, err := NewState(dir).StageFile("designated")
	if err != nil || !slices.Equal(after.Shards, before.Shards) || after.Rows != before.Rows || len(after.Shards) < 3 {
		t.Fatalf("old format read as %+v (%v), written as %+v", after, err, before)
	}
	if rows := readAll(t, dir, "designated"); len(rows) != int(before.Rows) {
		t.Fatalf("old format: %d rows read, %d recorded", len(rows), before.Rows)
	}
	st = openTestStage(t, dir)
	if data, _ := os.ReadFile(filepath.Join(dir, "designated", StageFileName)); strings.Contains(string(data), "csv.zst") {
		t.Errorf("a resumed old state still lists its shards in _stage.json:\n%s", data)
	}
	writeUnits(t, st, totalUnits)
	if err := st.Finish(); err != nil {
		t.Fatal(err)
	}
	if gotD := readAll(t, dir, "designated"); !slices.EqualFunc(gotD, wantD, slices.Equal) {
		t.Errorf("designated after resuming an old state: %d rows, want %d", len(gotD), len(wantD))
	}
	if gotP := readAll(t, dir, "problems/metadata"); !slices.EqualFunc(gotP, wantP, slices.Equal) {
		t.Errorf("problems after resuming an old state: %d rows, want %d", len(gotP), len(wantP))
	}
	// a finished old state reads too (status, cat, plan on a state left by the old version)
	toOldFormat(t, dir, "designated")
	if gotD := readAll(t, dir, "designated"); !slices.EqualFunc(gotD, wantD, slices.Equal) {
		t.Errorf("finished old state: %d rows, want %d", len(gotD), len(wantD))
	}
}

// TestMissingJournalIsDamageNotAFreshStart: a _stage.json that counts
// journal entries the journal does not hold is reported as damage, never
// taken for a manifest not yet started (which a resume would start over).
func TestMissingJournalIsDamageNotAFreshStart(t *testing.T) {
	dir := t.TempDir()
	st := openTestStage(t, dir)
	writeUnits(t, st, 20)
	journal := filepath.Join(dir, "designated", ShardJournalName)
	data, _ := os.ReadFile(journal)
	for name, damaged := range map[string][]byte{"missing": nil, "short": data[:len(data)/2]} {
		if damaged == nil {
			os.Remove(journal)
		} else {
			os.WriteFile(journal, damaged, 0o600)
		}
		_, err := NewState(dir).StageFile("designated")
		if err == nil || errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "--fresh") {
			t.Errorf("%s journal: %v", name, err)
		}
		if _, err := NewState(dir).Stage("scan-metadata", false, StageOptions{ShardRows: 7}, testSpecs...); err == nil {
			t.Errorf("%s journal: the stage resumed", name)
		}
	}
}

// TestJournalOrStageFileAsFIFOIsRefusedAtOnce: a FIFO put where the shard
// journal or _stage.json belongs is refused at once by every reader and by
// the stage's resume (which writes to the journal), never waited on: before,
// status and cat read the journal with a plain open and hung.
func TestJournalOrStageFileAsFIFOIsRefusedAtOnce(t *testing.T) {
	for _, name := range []string{ShardJournalName, StageFileName} {
		dir := t.TempDir()
		st := openTestStage(t, dir)
		writeUnits(t, st, 20)
		st.Close()
		path := filepath.Join(dir, "designated", name)
		os.Remove(path)
		if err := syscall.Mkfifo(path, 0o600); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 2)
		go func() { _, err := NewState(dir).StageFile("designated"); done <- err }()
		go func() {
			_, err := NewState(dir).Stage("scan-metadata", false, StageOptions{ShardRows: 7}, testSpecs...)
			done <- err
		}()
		for range 2 {
			select {
			case err := <-done:
				if err == nil {
					t.Errorf("%s as a FIFO: read as a state file", name)
				}
			case <-time.After(20 * time.Second):
				t.Fatalf("%s as a FIFO: still waiting on it", name)
			}
		}
	}
}

// TestClosedStageKeepsNoShardList: a closed stage lets go of its list of
// committed shards (whatever still holds the stage, run's result of scan
// storage did, held an entry a shard to the end of the process), and so
// refuses to write on: a shard written after Close would be numbered from
// an empty list, over the first. What it committed stays, and its counts
// still answer.
func TestClosedStageKeepsNoShardList(t *testing.T) {
	dir := t.TempDir()
	st := openTestStage(t, dir)
	writeUnits(t, st, 20)
	rows, cursor := st.Rows(0), st.Cursor()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	for _, p := range st.parts {
		if p.file.Shards != nil || p.ends != nil {
			t.Errorf("closed stage still holds %d shard entries of %s", len(p.file.Shards), p.spec.Name)
		}
	}
	if st.Rows(0) != rows || st.Cursor() != cursor {
		t.Errorf("closed stage: rows %d cursor %q, want %d %q", st.Rows(0), st.Cursor(), rows, cursor)
	}
	d, _ := unitRows(20)
	if err := st.Write(0, d[0]...); err == nil {
		t.Error("Write after Close: no error")
	}
	if err := st.EndUnit(unitCursor(20)); err == nil {
		t.Error("EndUnit after Close: no error")
	}
	if err := st.Finish(); err == nil {
		t.Error("Finish after Close: no error")
	}
	if err := st.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	st = openTestStage(t, dir)
	writeUnits(t, st, totalUnits)
	if err := st.Finish(); err != nil {
		t.Fatal(err)
	}
	wantD, wantP := uninterrupted(t)
	if gotD, gotP := readAll(t, dir, "designated"), readAll(t, dir, "problems/metadata"); !slices.EqualFunc(gotD, wantD, slices.Equal) || !slices.EqualFunc(gotP, wantP, slices.Equal) {
		t.Errorf("resumed after Close: %d and %d rows, want %d and %d", len(gotD), len(gotP), len(wantD), len(wantP))
	}
}
