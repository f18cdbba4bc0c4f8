package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

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
	cmd.Env = append(cleanEnv(), env...)
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

// killUntilDone runs bandercheck with args, SIGKILLs it after a random short
// time, and runs it again until it finishes by itself. It returns the number
// of kills.
func killUntilDone(t *testing.T, env []string, args ...string) int {
	t.Helper()
	return killUntilDoneWithin(t, env, 60*time.Millisecond, args...)
}

// killUntilDoneWithin is killUntilDone with kills at random times up to most after each start.
func killUntilDoneWithin(t *testing.T, env []string, most time.Duration, args ...string) int {
	t.Helper()
	most = max(most, 20*time.Millisecond)
	bin := testutil.Binary(t, "./cmd/bandercheck")
	rng := rand.New(rand.NewPCG(uint64(len(args)), 99))
	kills := 0
	for attempt := 0; ; attempt++ {
		if attempt > 500 {
			t.Fatal("never finished")
		}
		cmd := exec.Command(bin, args...)
		cmd.Env = append(cleanEnv(), env...)
		var errb bytes.Buffer
		cmd.Stderr = &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("bandercheck %s failed after %d kills: %v\n%s", strings.Join(args, " "), kills, err, errb.String())
			}
			return kills
		// mostly short, sometimes up to 8 times longer: stages that cannot
		// checkpoint (plan, scan upstream) must be able to finish sometimes
		case <-time.After(8*time.Millisecond + time.Duration(rng.Int64N(int64(most)))<<rng.IntN(4)):
			cmd.Process.Signal(syscall.SIGKILL)
			<-done
			kills++
		}
	}
}

func execCommand(name string, args ...string) ([]byte, error) {
	return exec.Command(name, args...).CombinedOutput()
}

func normalizeForTest(name string) string { return sources.Normalize(name) }
