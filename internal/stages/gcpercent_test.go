package stages

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"testing"
)

// gcPercent is the collector's target now (-1: off).
func gcPercent() int {
	p := debug.SetGCPercent(-1)
	debug.SetGCPercent(p)
	return p
}

// TestStagesOnlyLowerTheGCTarget: a stage lowers the collector's target
// (scan storage to 60, plan and report to 40) but keeps a lower one, and
// keeps GOGC=off off: a listing scan with the collector off collected
// twice in a 60 ms crash run. Not parallel: the target is the process's.
func TestStagesOnlyLowerTheGCTarget(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	for _, c := range []struct{ before, during int }{{-1, -1}, {20, 20}, {60, 60}, {100, 60}, {400, 60}} {
		debug.SetGCPercent(c.before)
		restore := lowerGCPercent(60)
		if got := gcPercent(); got != c.during {
			t.Errorf("GOGC=%d: %d during the stage, want %d", c.before, got, c.during)
		}
		restore()
		if got := gcPercent(); got != c.before {
			t.Errorf("GOGC=%d: %d after the stage", c.before, got)
		}
	}

	files := map[string]string{}
	for i := range 600 {
		files[fmt.Sprintf("web/packages/%02x/%02x/p%d/p%d-1.0.tar.gz", i%256, i/256, i, i)] = fmt.Sprint(i)
	}
	f := newFixture(t, files)
	runtime.GC()
	debug.SetGCPercent(-1)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, err := (&ScanStorageOptions{Jobs: 2, Hash: HashContent}).Run(f.ctx, f.env); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if n := (after.NumGC - after.NumForcedGC) - (before.NumGC - before.NumForcedGC); n != 0 {
		t.Errorf("scan storage --hash collected %d times with the collector off (%d MiB allocated)", n, (after.TotalAlloc-before.TotalAlloc)>>20)
	}
	if got := gcPercent(); got != -1 {
		t.Errorf("the collector is at %d after the scan, want off", got)
	}
}
