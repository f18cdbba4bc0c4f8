package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/bandercheck/bandercheck/internal/crashpoint"
	"github.com/bandercheck/bandercheck/internal/stages"
	"github.com/bandercheck/bandercheck/internal/testutil"
	"github.com/bandercheck/bandercheck/sources"
)

// result is one run of the built binary.
type cmdResult struct {
	code           int
	stdout, stderr string
}

// bc runs the built bandercheck with args and extra environment.
func bc(t *testing.T, env []string, args ...string) cmdResult {
	t.Helper()
	cmd := exec.Command(testutil.Binary(t, "./cmd/bandercheck"), args...)
	cmd.Env = append(runEnv(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := cmdResult{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return r
}

// mustBC runs bandercheck and fails the test unless it exits 0.
func mustBC(t *testing.T, env []string, args ...string) string {
	t.Helper()
	r := bc(t, env, args...)
	if r.code != 0 {
		t.Fatalf("bandercheck %s: exit %d\n%s", strings.Join(args, " "), r.code, r.stderr)
	}
	return r.stdout
}

// catState is what bandercheck --state STATE cat MANIFEST prints, run in
// this process: the cat command's own code, without a process to start
// (cat_test.go runs the binary's cat, exit codes and messages included).
func catState(t *testing.T, state, manifest string) string {
	t.Helper()
	var out bytes.Buffer
	if err := (&CatCmd{Manifest: manifest}).Run(&stages.Env{State: state, Stdout: &out}); err != nil {
		t.Fatalf("bandercheck --state %s cat %s: %v", state, manifest, err)
	}
	return out.String()
}

func sha256hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// cleanEnv is the test's environment without BANDERCHECK_ settings, with progress off.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "BANDERCHECK_") {
			env = append(env, kv)
		}
	}
	return append(env, "BANDERCHECK_PROGRESS=never")
}

// runEnv is cleanEnv with the collector off until a heap of 256 MiB
// (GOGC=off, GOMEMLIMIT), for a run of the binary whose outputs a test
// checks. A run on a test's mirror of 100-300 projects allocates tens of
// MB in all, and the stages' lowered targets collected it from a heap of a
// few MB: a quarter of these processes' CPU, a seventh of the package's
// (78.5 -> 67.1 s of CPU, 2 runs each). What a run writes, prints and exits
// with does not depend on when the collector runs; the stages' own tests
// hold the collector's targets (internal/stages: TestStagesOnlyLowerTheGCTarget,
// TestPlanHeapStaysCloseToWhatItHolds), and the tests of bounded memory
// (bcWithin) run with the runtime's defaults.
func runEnv() []string {
	return append(cleanEnv(), "GOGC=off", "GOMEMLIMIT=256MiB")
}

// crashAtEveryPoint runs bandercheck with args again and again, each run
// crashing (SIGKILL to itself, see internal/crashpoint) the first time it
// reaches the point named, until a run finishes by itself. So every crash
// point of that kind is visited once, in order, whatever the machine's speed.
// Points whose crash undoes the commit ("renamed", "journaled", "partial") crash at their
// second reach, so each run gets one commit further. It returns the number of
// crashes, and fails the test when there were none.
func crashAtEveryPoint(t *testing.T, env []string, point string, args ...string) int {
	t.Helper()
	at := point + ":1"
	if point == "renamed" || point == "journaled" || point == "partial" {
		at = point + ":2"
	}
	return crashUntilDone(t, env, func(int) string { return at }, args...)
}

// crashAtRandomPoints is crashAtEveryPoint with each run crashing at the Nth
// reach of point, N drawn from 1 to most by a seeded generator: random
// places, a bounded number of runs, and every crash lands.
func crashAtRandomPoints(t *testing.T, env []string, point string, most int, args ...string) int {
	t.Helper()
	rng := rand.New(rand.NewPCG(uint64(len(args)), 99))
	return crashUntilDone(t, env, func(int) string { return fmt.Sprintf("%s:%d", point, 1+rng.IntN(most)) }, args...)
}

func crashUntilDone(t *testing.T, env []string, at func(run int) string, args ...string) int {
	t.Helper()
	bin := testutil.Binary(t, "./cmd/bandercheck")
	crashes := 0
	for run := 0; ; run++ {
		if run > 2000 {
			t.Fatal("never finished")
		}
		cmd := exec.Command(bin, args...)
		// GOGC=off: a crash run lives tens of milliseconds on a small
		// fixture, and a collection there is about a sixth of its CPU; the
		// garbage collector has no part in what is on disk when it dies
		cmd.Env = append(append(cleanEnv(), "GOGC=off"), append(env, crashpoint.Env+"="+at(run))...)
		var errb bytes.Buffer
		cmd.Stderr = &errb
		err := cmd.Run()
		if err == nil {
			if crashes == 0 {
				t.Fatalf("bandercheck %s never reached a crash point", strings.Join(args, " "))
			}
			return crashes
		}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
				crashes++
				continue
			}
		}
		t.Fatalf("bandercheck %s failed after %d crashes: %v\n%s", strings.Join(args, " "), crashes, err, errb.String())
	}
}

func execCommand(name string, args ...string) ([]byte, error) {
	return exec.Command(name, args...).CombinedOutput()
}

func normalizeForTest(name string) string { return sources.Normalize(name) }
