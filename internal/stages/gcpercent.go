package stages

import "runtime/debug"

// lowerGCPercent sets the collector's target to percent for a stage that
// keeps its heap near its live set, and returns what restores the setting
// before it. A process already running with a lower target keeps it, and
// one running with the collector off (GOGC=off: an operator's choice for a
// short run, or a test's crash runs) keeps it off: the stage only ever
// lowers the target. It used to set percent whatever was set, so GOGC=off
// collected twice in a 60 ms crash run.
func lowerGCPercent(percent int) (restore func()) {
	old := debug.SetGCPercent(percent)
	if old < 0 || old <= percent {
		debug.SetGCPercent(old)
	}
	return func() { debug.SetGCPercent(old) }
}
