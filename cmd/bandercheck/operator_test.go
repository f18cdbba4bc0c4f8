package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bandercheck/bandercheck/internal/testutil"
	"github.com/bandercheck/bandercheck/pipeline"
)

// bcWithin runs bandercheck and fails the test if it has not ended within d
// (a hang is a failure, not a stuck suite).
func bcWithin(t *testing.T, d time.Duration, args ...string) cmdResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	cmd := exec.CommandContext(ctx, testutil.Binary(t, "./cmd/bandercheck"), args...)
	cmd.Env = cleanEnv()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("bandercheck %s did not end within %s", strings.Join(args, " "), d)
	}
	r := cmdResult{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	}
	return r
}

func TestScanMetadataSkipsAFIFO(t *testing.T) {
	t.Parallel()
	m := generate(t, 200)
	if err := syscall.Mkfifo(filepath.Join(m.root, "web/json/fifo-project"), 0o644); err != nil {
		t.Fatal(err)
	}
	state := t.TempDir() + "/st"
	r := bcWithin(t, 2*time.Minute, "--mirror", m.root, "--state", state, "scan", "metadata")
	if r.code != 0 {
		t.Fatalf("scan metadata with a FIFO: exit %d\n%s", r.code, r.stderr)
	}
	if p := catState(t, state, "problems/metadata"); !strings.Contains(p, "web/json/fifo-project") || !strings.Contains(p, "not a regular file") {
		t.Errorf("the FIFO is not a problem row:\n%s", p)
	}
}

func TestSIGTERMStopsApplyWithinSeconds(t *testing.T) {
	t.Parallel()
	m := generate(t, 200)
	miss := m.truth["missing"][0]
	arrived := make(chan struct{}, 1)
	url := m.serve(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if "web"+r.URL.Path == miss {
				select {
				case arrived <- struct{}{}:
				default:
				}
				<-r.Context().Done() // a download that never ends
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	state := t.TempDir() + "/st"
	scanAndPlan(t, nil, m.root, state, url)
	// as shells and systemd expect: 128 + the signal's number
	for _, sig := range []struct {
		s    syscall.Signal
		code int
	}{{syscall.SIGINT, 130}, {syscall.SIGTERM, 143}} {
		cmd := exec.Command(testutil.Binary(t, "./cmd/bandercheck"), "--mirror", m.root, "--state", state, "apply", "--download-base", url, "--jobs", "1")
		cmd.Env = cleanEnv()
		var errb bytes.Buffer
		cmd.Stderr = &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-arrived:
		case err := <-done:
			t.Fatalf("apply ended before the hanging download: %v\n%s", err, errb.String())
		case <-time.After(2 * time.Minute):
			cmd.Process.Kill()
			t.Fatal("the hanging download was never asked for")
		}
		cmd.Process.Signal(sig.s)
		select {
		case err := <-done:
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != sig.code || !strings.Contains(errb.String(), "stopped by a signal ("+sig.s.String()) {
				t.Errorf("after %v: %v, want exit %d\n%s", sig.s, err, sig.code, errb.String())
			}
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("apply did not stop within 20 s of %v\n%s", sig.s, errb.String())
		}
	}
	if _, err := os.Stat(filepath.Join(m.root, "web/packages/.bandercheck-tmp")); err == nil {
		t.Errorf("the staging folder is left after SIGTERM")
	}
	// the next apply (the upstream healed) finishes the job
	clean := m.serve(t, nil)
	mustBC(t, nil, "--mirror", m.root, "--state", state, "apply", "--download-base", clean)
	m.verify(t, m.root)
}

func TestUsageErrorsExit2(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	testutil.WriteFiles(t, dir, map[string]string{
		"file":         "not a folder",
		"mirror/web/x": "",
		"bad.conf":     "[mirror]\ndirectory = " + dir + "/no/such/mirror\n",
	})
	mirror := filepath.Join(dir, "mirror")
	os.MkdirAll(filepath.Join(mirror, "web/packages"), 0o755)
	st := filepath.Join(dir, "st")
	cases := map[string][]string{
		"missing mirror":         {"--mirror", dir + "/nothing", "--state", st, "scan", "storage"},
		"mirror is a file":       {"--mirror", dir + "/file", "--state", st, "scan", "storage"},
		"state is a file":        {"--mirror", mirror, "--state", dir + "/file", "scan", "storage"},
		"config dir missing":     {"--config", dir + "/bad.conf", "--state", st, "scan", "storage"},
		"max-delete NaN":         {"--mirror", mirror, "--state", st, "apply", "--max-delete", "NaN%"},
		"negative grace":         {"--mirror", mirror, "--state", st, "plan", "--grace", "-1h"},
		"negative run grace":     {"--mirror", mirror, "--state", st, "run", "--grace", "-1h"},
		"jobs 0":                 {"--mirror", mirror, "--state", st, "apply", "--jobs", "0"},
		"scan jobs -1":           {"--mirror", mirror, "--state", st, "scan", "metadata", "--jobs", "-1"},
		"jobs a hundred million": {"--mirror", mirror, "--state", st, "apply", "--jobs", "100000000"},
		"scan jobs huge":         {"--mirror", mirror, "--state", st, "scan", "storage", "--jobs", "2000000"},
		"partition +1/2":         {"--mirror", mirror, "--state", st, "scan", "storage", "--partition", "+1/2"},
		"partition 01/02":        {"--mirror", mirror, "--state", st, "scan", "storage", "--partition", "01/02"},
		"negative rate":          {"--mirror", mirror, "--state", st, "apply", "--rate", "-1"},
		"NaN rate":               {"--mirror", mirror, "--state", st, "apply", "--rate", "NaN"},
		"zero timeout":           {"--mirror", mirror, "--state", st, "apply", "--timeout", "0s"},
		"ftp download base":      {"--mirror", mirror, "--state", st, "apply", "--download-base", "ftp://m.example/"},
		"download base no host":  {"--mirror", mirror, "--state", st, "run", "--download-base", "/just/a/path"},
		"upstream not a URL":     {"--mirror", mirror, "--state", st, "scan", "upstream", "--upstream", "localhost:8080"},
	}
	saying := map[string]string{ // what the message must name, where another check could refuse first
		"jobs a hundred million": "--jobs 100000000: give 1 to 1024",
		"scan jobs huge":         "--jobs 2000000: give 1 to 1024",
		"partition +1/2":         "plain digits",
		"partition 01/02":        "plain digits",
	}
	for name, args := range cases {
		t.Run(name, func(t *testing.T) {
			r := bc(t, nil, args...)
			if r.code != 2 || strings.Contains(r.stderr, "goroutine") || strings.Count(strings.TrimSpace(r.stderr), "\n") > 20 {
				t.Errorf("exit %d, want 2 with one clear message:\n%s", r.code, r.stderr)
			}
			if want, ok := saying[name]; ok && !strings.Contains(r.stderr, want) {
				t.Errorf("stderr does not say %q:\n%s", want, r.stderr)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "nothing")); err == nil {
		t.Errorf("a usage error created the missing mirror")
	}
}

func TestBadAppliedCursorIsAnErrorNotAPanic(t *testing.T) {
	t.Parallel()
	m, url, state := plannedMirror(t, 100)
	mustBC(t, nil, "--mirror", m.root, "--state", state, "apply", "--download-base", url, "--only", "download")
	stageFile := filepath.Join(state, "applied/download", pipeline.StageFileName)
	data, _ := os.ReadFile(stageFile)
	var sf map[string]any
	if err := json.Unmarshal(data, &sf); err != nil {
		t.Fatal(err)
	}
	sf["state"], sf["cursor"] = "running", "99999"
	data, _ = json.Marshal(sf)
	os.WriteFile(stageFile, data, 0o644)
	r := bc(t, nil, "--mirror", m.root, "--state", state, "apply", "--download-base", url)
	if r.code != 1 || strings.Contains(r.stderr, "panic") || !strings.Contains(r.stderr, stageFile) {
		t.Fatalf("a bad cursor: exit %d, want 1 naming %s:\n%s", r.code, stageFile, r.stderr)
	}
}

func TestMessagesSayWhatIsTrue(t *testing.T) {
	t.Parallel()
	m, url, state := plannedMirror(t, 100)
	// --only delete under a refusal: no downloads ran, and it does not say they did
	r := bc(t, nil, "--mirror", m.root, "--state", state, "apply", "--only", "delete", "--max-delete", "0")
	if r.code != 3 || strings.Contains(r.stderr, "downloads ran") {
		t.Errorf("--only delete refused: exit %d\n%s", r.code, r.stderr)
	}
	// the lock refusal does not promise to wait
	lock, _ := os.OpenFile(filepath.Join(m.root, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	syscall.Flock(int(lock.Fd()), syscall.LOCK_EX)
	r = bc(t, nil, "--mirror", m.root, "--state", state, "apply", "--download-base", url)
	lock.Close()
	if r.code != 3 || strings.Contains(r.stderr, "waits") {
		t.Errorf("lock refusal: exit %d\n%s", r.code, r.stderr)
	}
	// a damaged plan shard names a command that exists
	shards, _ := filepath.Glob(filepath.Join(state, "plan/download/*.csv.zst"))
	os.WriteFile(shards[0], []byte("not zstd"), 0o644)
	r = bc(t, nil, "--mirror", m.root, "--state", state, "apply", "--download-base", url)
	if r.code != 1 || strings.Contains(r.stderr, "plan --fresh") || !strings.Contains(r.stderr, "run bandercheck plan again") {
		t.Errorf("damaged plan shard: exit %d\n%s", r.code, r.stderr)
	}
}

func TestWebPackagesMayBeALinkToAnotherVolume(t *testing.T) {
	t.Parallel()
	m := generate(t, 200)
	url := m.serve(t, nil)
	volume := filepath.Join(t.TempDir(), "volume")
	if err := os.Rename(filepath.Join(m.root, "web/packages"), volume); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(volume, filepath.Join(m.root, "web/packages")); err != nil {
		t.Fatal(err)
	}
	state := t.TempDir() + "/st"
	mustBC(t, nil, runArgs(m.root, state, url)...)
	m.verify(t, m.root)
	if fi, err := os.Lstat(filepath.Join(m.root, "web/packages")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("web/packages is no longer the link: %v", err)
	}
}

func TestSimplePageFilesAreDownloadedFromTheUpstream(t *testing.T) {
	t.Parallel()
	m := generate(t, 200)
	url := m.serve(t, nil)
	state := t.TempDir() + "/st"
	g := []string{"--mirror", m.root, "--state", state}
	mustBC(t, nil, append(g, "scan", "storage", "--hash")...)
	mustBC(t, nil, append(g, "scan", "metadata", "--from", "simple")...)
	mustBC(t, nil, append(g, "scan", "upstream", "--upstream", url)...)
	mustBC(t, nil, append(g, "plan", "--max-remove-projects", "10%")...)
	if dl := catState(t, state, "plan/download"); !strings.Contains(dl, ",/packages/") {
		t.Fatalf("simple-page downloads do not carry absolute paths:\n%s", head(dl))
	}
	// no --download-base: the files come from the upstream
	mustBC(t, nil, append(g, "apply", "--upstream", url)...)
	m.verify(t, m.root)
}

func TestRemovedProjectGoesUnderEverySpelling(t *testing.T) {
	t.Parallel()
	m := generate(t, 100)
	url := m.serve(t, nil)
	gone := m.truth["removed-project"][0]
	docs, _ := filepath.Glob(filepath.Join(m.root, "web/json/*"))
	var listed string
	for _, d := range docs {
		if normalizeForTest(filepath.Base(d)) == gone {
			listed = filepath.Base(d)
		}
	}
	if listed == "" {
		t.Fatalf("no web/json document for removed project %s", gone)
	}
	other := strings.ToUpper(gone[:1]) + strings.ReplaceAll(gone[1:], "-", "_")
	if other == listed {
		other = strings.ToUpper(gone)
	}
	if normalizeForTest(other) != gone || other == listed {
		t.Fatalf("spelling %q of %q", other, gone)
	}
	data, _ := os.ReadFile(filepath.Join(m.root, "web/json", listed))
	testutil.WriteFiles(t, m.root, map[string]string{"web/json/" + other: string(data), "web/pypi/" + other + "/json": string(data)})
	// synced long ago, as the rest of the mirror: not a change apply must respect
	old := time.Now().Add(-time.Hour)
	for _, p := range []string{"web/json/" + other, "web/pypi/" + other + "/json"} {
		os.Chtimes(filepath.Join(m.root, p), old, old)
	}
	state := t.TempDir() + "/st"
	mustBC(t, nil, runArgs(m.root, state, url)...)
	for _, p := range []string{"web/json/" + listed, "web/json/" + other, "web/pypi/" + other, "web/pypi/" + listed} {
		if _, err := os.Lstat(filepath.Join(m.root, p)); err == nil {
			t.Errorf("removed project %s still has %s", gone, p)
		}
	}
}

// TestBadFilterConfigExitsTwo: a bad filter setting stops every command with
// exit 2, naming the file, section and key, before the mirror is read.
func TestBadFilterConfigExitsTwo(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	conf := filepath.Join(dir, "bandersnatch.conf")
	for _, c := range []struct{ text, want string }{
		{"[plugins]\nenabled = exclude_platforms\n", "[plugins] enabled: unknown plugin \"exclude_platforms\""},
		{"[plugins]\nenabled = regex_release\n[filter_regex]\nreleases = (?=x)\n", "[filter_regex] releases"},
		{"[plugins]\nenabled = latest_release\n", "[latest_release] keep: plugin latest_release is enabled but this setting is missing"},
		{"[mirror]\njson = maybe\n", "[mirror] json"},
	} {
		os.WriteFile(conf, []byte(c.text), 0o644)
		for _, args := range [][]string{{"scan", "storage"}, {"run", "--dry-run"}} {
			r := bc(t, nil, append([]string{"--config", conf, "--mirror", filepath.Join(dir, "no-mirror"), "--state", filepath.Join(dir, "st")}, args...)...)
			if r.code != 2 || !strings.Contains(r.stderr, conf) || !strings.Contains(r.stderr, c.want) {
				t.Errorf("%q, %v: exit %d: %s", c.text, args, r.code, r.stderr)
			}
		}
	}
}

// TestArmedCrashPointSaysSo: a BANDERCHECK_CRASH_AT left set in the
// environment never kills without a word: one stderr line names it.
func TestArmedCrashPointSaysSo(t *testing.T) {
	t.Parallel()
	r := bc(t, []string{"BANDERCHECK_CRASH_AT=shard:3"}, "--state", t.TempDir(), "status")
	if !strings.Contains(r.stderr, "BANDERCHECK_CRASH_AT=shard:3 is set") || strings.Count(r.stderr, "CRASH_AT") != 1 {
		t.Errorf("stderr with a crash point armed:\n%s", r.stderr)
	}
	if r := bc(t, nil, "--state", t.TempDir(), "status"); strings.Contains(r.stderr, "CRASH_AT") {
		t.Errorf("stderr without a crash point:\n%s", r.stderr)
	}
}
