package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/bandercheck/bandercheck/internal/synth"
)

// TestRunHoldsNothingOfScanStorage: in run, what scan storage wrote is not
// held into the stages after it. Its result pointed into the scan, which
// kept the scan's stage and the stage's list of every shard it had written
// (an entry, a name and a cursor a shard: strings made amid the listing's
// garbage, one to a span) alive to the end of run: at 10% of PyPI (210
// shards) scan upstream started with 5.6 MB of the heap's spans unused
// around what they held (2.8 with the copy, as at 1%), and that is what the
// stages after it grew by from 1% to 100%.
// Here the storage manifest is cut into shards of 3 rows (some 2,000
// shards); the live heap objects at the start of each stage after scan
// storage (BANDERCHECK_MEMPROFILE's record of them, once run has collected
// what the stages before freed) are compared with those at its start. The
// stages keep a few hundred objects between them whatever the mirror (the
// goroutines' descriptors, the S3 client's certificate pool when
// AWS_CA_BUNDLE names one): they must keep less than one object a shard
// (here 450-1,100 for 2,487 shards); with the shard list kept they kept
// 2.6 a shard.
func TestRunHoldsNothingOfScanStorage(t *testing.T) {
	t.Parallel()
	srv, env := startSynth(t, synth.Config{Seed: 11, Projects: 300})
	bin, dir, state, conf := profiledRunFiles(t)
	prof := filepath.Join(dir, "mem.prof")
	cmd := exec.Command(bin, "--config", conf, "--mirror", "s3://mirror/root", "--state", state,
		"run", "--dry-run", "--hash=etag", "--grace", "0s", "--max-remove-projects", "100%", "--upstream", srv.UpstreamURL)
	cmd.Env = append(cleanEnv(), env...)
	cmd.Env = append(cmd.Env, "BANDERCHECK_MEMPROFILE="+prof, "BANDERCHECK_SHARD_ROWS=3")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(state, "storage", "_stage.json"))
	if err != nil {
		t.Fatal(err)
	}
	var sf struct {
		Journal int `json:"journal"`
	}
	if err := json.Unmarshal(b, &sf); err != nil {
		t.Fatal(err)
	}
	if sf.Journal < 1000 {
		t.Fatalf("scan storage wrote %d shards: the test wants 1,000 or more", sf.Journal)
	}
	start := func(stage string) int64 {
		return memoryClass(t, prof+"."+strings.ReplaceAll(stage, " ", "-")+".start.classes", "/gc/heap/objects:objects")
	}
	base := start("scan storage")
	for _, stage := range []string{"scan metadata", "scan upstream", "plan"} {
		kept := start(stage) - base
		t.Logf("%s starts with %d heap objects more than scan storage (%d shards)", stage, kept, sf.Journal)
		if kept >= int64(sf.Journal) {
			t.Errorf("%s starts with %d heap objects more than scan storage did, for %d storage shards: what scan storage wrote is still held", stage, kept, sf.Journal)
		}
	}
}

// memoryClass is the value of name in a memory-classes record of
// BANDERCHECK_MEMPROFILE.
func memoryClass(t *testing.T, path, name string) int64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if n, v, ok := strings.Cut(line, " "); ok && n == name {
			x, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatalf("%s: %q", path, line)
			}
			return x
		}
	}
	t.Fatalf("%s: no %s:\n%s", path, name, b)
	return 0
}
