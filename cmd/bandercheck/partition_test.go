package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bandercheck/bandercheck/internal/s3proxy"
	"github.com/bandercheck/bandercheck/internal/synth"
	"github.com/bandercheck/bandercheck/internal/testutil"
	"github.com/klauspost/compress/zstd"
)

var planManifests = []string{"plan/download", "plan/delete", "plan/remove-projects"}

// planShards reads every shard file of the plan manifests of state, by name,
// decompressed (header lines included).
func planShards(t *testing.T, state string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	dec, err := zstd.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	for _, m := range planManifests {
		files, err := filepath.Glob(filepath.Join(state, m, "*.csv.zst"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if out[m+"/"+filepath.Base(f)], err = dec.DecodeAll(b, nil); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
		}
	}
	return out
}

// samePlan fails unless got's plan shards are byte for byte want's, shard
// for shard (decompressed).
func samePlan(t *testing.T, what string, want, got map[string][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d plan shards, one scan gave %d", what, len(got), len(want))
	}
	for name, b := range want {
		if !bytes.Equal(got[name], b) {
			t.Fatalf("%s: %s differs from one scan's:\n%s\nwant:\n%s", what, name, got[name], b)
		}
	}
}

// scanParts runs the N partitions of mirror as N processes at once, each into
// dir/part-K with run's scan options (--hash, …), and returns dir.
func scanParts(t *testing.T, env []string, mirror string, n int, scan ...string) string {
	t.Helper()
	dir := t.TempDir()
	bin := testutil.Binary(t, "./cmd/bandercheck")
	var wg sync.WaitGroup
	errs := make([]error, n)
	for k := range n {
		wg.Go(func() {
			args := append([]string{"--mirror", mirror, "--state", filepath.Join(dir, fmt.Sprintf("part-%d", k)),
				"--partition", fmt.Sprintf("%d/%d", k, n), "run", "--dry-run"}, scan...)
			cmd := exec.Command(bin, args...)
			cmd.Env = append(runEnv(), env...)
			if out, err := cmd.CombinedOutput(); err != nil {
				errs[k] = fmt.Errorf("part %d/%d: %v\n%s", k, n, err, out)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// planParts scans upstream into a fresh planning state, plans the parts into
// it and returns it.
func planParts(t *testing.T, env []string, mirror, url string, parts ...string) string {
	t.Helper()
	state := filepath.Join(t.TempDir(), "plan")
	mustBC(t, env, "--mirror", mirror, "--state", state, "scan", "upstream", "--upstream", url)
	mustBC(t, env, "--state", state, "plan", "--grace", "0s", "--max-remove-projects", "10%", "--partitions", strings.Join(parts, ","))
	return state
}

// testPartitionsPlanAsOneScan: one process scanning and planning the whole
// mirror (with env) and N processes each scanning a partition, planned
// together (with planEnv), give the same plan shards, byte for byte.
// Shards of 5 rows make every place a shard is cut count.
func testPartitionsPlanAsOneScan(t *testing.T, env, planEnv []string, mirror, url string, scan ...string) {
	env = append(append([]string{}, env...), "BANDERCHECK_SHARD_ROWS=5")
	planEnv = append(append([]string{}, planEnv...), "BANDERCHECK_SHARD_ROWS=5")
	one := filepath.Join(t.TempDir(), "one")
	mustBC(t, env, append(append([]string{"--mirror", mirror, "--state", one, "run", "--dry-run"}, scan...), "--upstream", url, "--grace", "0s", "--max-remove-projects", "10%")...)
	want := planShards(t, one)
	if len(want) < 6 {
		t.Fatalf("one scan planned too little to compare: %d shards", len(want))
	}
	for _, n := range []int{1, 3, 7} {
		dir := scanParts(t, env, mirror, n, scan...)
		samePlan(t, fmt.Sprintf("%d parts", n), want, planShards(t, planParts(t, planEnv, mirror, url, dir)))
	}
}

// N partitions scanned at once by N processes, then planned together, plan
// byte for byte what one scan plans; a part killed at every shard and rerun
// changes nothing.
func TestPartitionsPlanAsOneScanPOSIX(t *testing.T) {
	t.Parallel()
	m := generate(t, 100)
	url := m.serve(t, nil)
	testPartitionsPlanAsOneScan(t, nil, nil, m.root, url, "--hash")

	dir := scanParts(t, nil, m.root, 3, "--hash")
	want := planShards(t, planParts(t, nil, m.root, url, dir))
	killed := filepath.Join(dir, "part-1")
	if err := os.RemoveAll(killed); err != nil {
		t.Fatal(err)
	}
	kills := crashAtEveryPoint(t, []string{"BANDERCHECK_SHARD_ROWS=50"}, "shard", "--mirror", m.root, "--state", killed, "--partition", "1/3", "run", "--dry-run", "--hash")
	t.Logf("part 1/3 killed %d times", kills)
	// the killed part wrote smaller shards: the same rows, so the same plan
	samePlan(t, "a part killed and rerun", want, planShards(t, planParts(t, nil, m.root, url, dir)))
}

func TestPartitionsPlanAsOneScanS3(t *testing.T) {
	t.Parallel()
	testutil.NeedVersity(t) // before the mirror is generated: a skip costs nothing
	m := generate(t, 100)
	url := m.serve(t, nil)
	_, env := m.uploadToVersity(t)
	testPartitionsPlanAsOneScan(t, env, env, "s3://pypi/mirror", url, "--hash")
}

// TestPartitionsPlanAsOneScanETag: with --hash=etag the plan reads each
// object whose ETag is not the designated md5 to confirm the mismatch. The
// partitions' plan does so through 40 ms of latency, one process straight
// from the (synthetic) bucket: the shards are still byte for byte the same.
// Before, deletes went into the plan while a download waited behind its
// confirmation, so plan/download and plan/delete were cut at other rows.
func TestPartitionsPlanAsOneScanETag(t *testing.T) {
	t.Parallel()
	srv, env := startSynth(t, synth.Config{Seed: 5, Projects: 150, Missing: 0.02, Orphan: 0.08, SizeMismatch: 0.01, HashMismatch: 0.04, Removed: 0.04})
	proxy, err := s3proxy.Start(s3proxy.Options{Target: srv.S3URL, Delay: 40 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	slow := append(append([]string{}, env...), "BANDERCHECK_S3_ENDPOINT="+proxy.URL)
	testPartitionsPlanAsOneScan(t, env, slow, "s3://mirror/root", srv.UpstreamURL, "--hash=etag", "--from", "json")
	if n := proxy.Stats().Requests["GET"]; n == 0 {
		t.Fatal("the partitions' plan read no object through the slow proxy: no ETag mismatch was confirmed, the test proves nothing")
	}
}

// A partition is refused where it cannot mean anything, and a set of parts
// that is not one whole scan is refused before anything is planned.
func TestPartitionsRefused(t *testing.T) {
	t.Parallel()
	m := generate(t, 100)
	dir := scanParts(t, nil, m.root, 3, "--hash")
	st := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--mirror", m.root, "--state", st, "--partition", "1/3", "run"}, "add --dry-run"},
		{[]string{"--mirror", m.root, "--state", st, "--partition", "3/3", "scan", "storage"}, "K counts from 0"},
		{[]string{"--mirror", m.root, "--state", st, "--partition", "1/3", "apply"}, "works on the whole mirror"},
		{[]string{"--state", st, "plan", "--partitions", filepath.Join(dir, "part-0") + "," + filepath.Join(dir, "part-2")}, "give all 3 parts"},
		{[]string{"--state", st, "plan", "--partitions", filepath.Join(dir, "part-0") + "," + filepath.Join(dir, "part-0") + "," + filepath.Join(dir, "part-2")}, "part 1/3 is missing"},
		{[]string{"--state", filepath.Join(dir, "part-0"), "plan", "--partitions", dir}, "is --state itself"},
	} {
		r := bc(t, nil, c.args...)
		if r.code != 2 || !strings.Contains(r.stderr, c.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 {
			t.Errorf("bandercheck %s: exit %d, stderr %q; want exit 2 and one line saying %q", strings.Join(c.args, " "), r.code, r.stderr, c.want)
		}
	}
}

// Through a proxy that answers 2% of requests with 503 SlowDown and resets
// 1% of connections, a hashing run gives the manifests of a run without
// faults: no request lost, no row doubled.
func TestS3FaultsChangeNothing(t *testing.T) {
	t.Parallel()
	testutil.NeedVersity(t) // before the mirror is generated: a skip costs nothing
	m := generate(t, 100)
	url := m.serve(t, nil)
	srv, env := m.uploadToVersity(t)
	proxy, err := s3proxy.Start(s3proxy.Options{Target: srv.Endpoint, SlowDownRate: 0.02, ResetRate: 0.01, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	// the SDK's waits between attempts (up to 5 s each) are shortened: the
	// faults are the proxy's, and the outcome must not depend on the wait
	faulty := append(append([]string{}, env...), "BANDERCHECK_S3_ENDPOINT="+proxy.URL, "BANDERCHECK_S3_MAX_BACKOFF=50ms")
	for _, hash := range []string{"--hash=metadata", "--hash=content"} {
		clean, bad := filepath.Join(t.TempDir(), "clean"), filepath.Join(t.TempDir(), "faults")
		args := func(state string) []string {
			return []string{"--mirror", "s3://pypi/mirror", "--state", state, "run", "--dry-run", hash, "--upstream", url, "--grace", "0s", "--max-remove-projects", "10%"}
		}
		mustBC(t, env, args(clean)...)
		proxy.Reset()
		mustBC(t, faulty, args(bad)...)
		stats := proxy.Stats()
		t.Logf("%s through the proxy: %s", hash, stats)
		if stats.SlowDowns == 0 || stats.Resets == 0 {
			t.Fatalf("%s: the proxy injected no fault (%s): the test proves nothing", hash, stats)
		}
		for _, m := range []string{"storage", "designated", "projects", "problems/storage", "problems/metadata", "plan/download", "plan/delete", "plan/remove-projects"} {
			want, got := catState(t, clean, m), catState(t, bad, m)
			if m == "storage" {
				want = columnsOf(t, want, "path", "size", "modified", "sha256", "etag")
				got = columnsOf(t, got, "path", "size", "modified", "sha256", "etag")
			}
			if got != want {
				t.Errorf("%s: %s through faults differs from a run without (%d lines, want %d)", hash, m, strings.Count(got, "\n"), strings.Count(want, "\n"))
			}
		}
	}
}
