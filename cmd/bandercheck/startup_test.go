package main

import (
	"bufio"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/bandercheck/bandercheck/internal/testutil"
)

// initCost is what the runtime's init trace says one package's init did.
type initCost struct {
	bytes, allocs int
}

// initTrace runs bandercheck args with GODEBUG=inittrace=1 and returns
// each package's init, by import path.
func initTrace(t *testing.T, args ...string) map[string]initCost {
	t.Helper()
	cmd := exec.Command(testutil.Binary(t, "./cmd/bandercheck"), args...)
	cmd.Env = append(cleanEnv(), "GODEBUG=inittrace=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("bandercheck %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	inits := map[string]initCost{}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		// init PKG @0.6 ms, 0.11 ms clock, 15072 bytes, 95 allocs
		f := strings.Fields(sc.Text())
		if len(f) != 11 || f[0] != "init" || f[8] != "bytes," || f[10] != "allocs" {
			continue
		}
		b, err1 := strconv.Atoi(f[7])
		a, err2 := strconv.Atoi(f[9])
		if err1 != nil || err2 != nil {
			t.Fatalf("an init trace line that does not parse: %q", sc.Text())
		}
		inits[f[1]] = initCost{b, a}
	}
	if len(inits) < 50 {
		t.Fatalf("%d inits traced: the trace did not come out\n%s", len(inits), out)
	}
	return inits
}

// Every process pays for the package inits before it does anything, and
// on this kind of machine a fresh page costs far more than the CPU time.
// The binary carries no Prometheus client (its default registry registered
// the Go and process collectors at init); it writes the metrics file with
// the format library alone. Our own packages build their tables, templates
// and regexps when first used (the report page, the filters' patterns, the
// partition table, the upload-time pattern), so none of their inits
// allocates more than a few small values. Before: internal/stages 1,146
// allocations (the report template), internal/filters 484, sinks/mirrorfiles
// 272, sources 125, internal/partition 16 KiB.
func TestStartupInitsStayCheap(t *testing.T) {
	t.Parallel()
	inits := initTrace(t, "--version")
	for pkg := range inits {
		if strings.HasPrefix(pkg, "github.com/prometheus/client_golang") || strings.HasPrefix(pkg, "github.com/prometheus/procfs") {
			t.Errorf("%s is initialized: the binary is to write its metrics without the Prometheus client", pkg)
		}
	}
	ours := 0
	for pkg, c := range inits {
		if pkg != "main" && !strings.HasPrefix(pkg, "github.com/bandercheck/bandercheck/") {
			continue
		}
		ours++
		if c.allocs > 40 || c.bytes > 4<<10 {
			t.Errorf("init of %s: %d allocations, %d bytes; build what it needs at its first use", pkg, c.allocs, c.bytes)
		}
	}
	if ours < 5 {
		t.Errorf("only %d of our packages in the init trace", ours)
	}
}

// The version is asked for twice in every process (kong's ${version}, the
// stages' Env); the build info behind it is parsed once, not at each call
// (the module list: over a hundred allocations each time).
func TestVersionReadsTheBuildInfoOnce(t *testing.T) {
	first := versionString()
	if n := testing.AllocsPerRun(10, func() {
		if versionString() != first {
			t.Fatal("the version changed")
		}
	}); n > 10 {
		t.Errorf("versionString allocates %v values after its first call: the build info is parsed again", n)
	}
}
