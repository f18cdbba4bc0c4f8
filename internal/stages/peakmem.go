package stages

import (
	"bytes"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"syscall"
)

// resetPeakMemory starts a stage's own peak: the heap the stages before
// left is returned to the system, and the kernel's high-water mark of
// resident memory (VmHWM) is reset, so that one process running every
// stage shows (and holds) each stage's peak, not their sum. It reports
// whether the mark could be reset (Linux).
func resetPeakMemory() bool {
	// two collections: the first moves what sync.Pools hold (scan metadata's
	// document buffers, the zstd coders of its listing) to their victim
	// caches, which only the second frees; one left them resident into the
	// next stage's peak
	runtime.GC()
	debug.FreeOSMemory()
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// peakMemoryMiB is the resident memory high-water mark since the last
// resetPeakMemory (or the start), in MiB; 0 when unknown.
func peakMemoryMiB() float64 {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	_, rest, ok := bytes.Cut(status, []byte("\nVmHWM:"))
	if !ok {
		return 0
	}
	line, _, _ := bytes.Cut(rest, []byte("\n"))
	kb, err := strconv.ParseFloat(string(bytes.TrimSpace(bytes.TrimSuffix(bytes.TrimSpace(line), []byte("kB")))), 64)
	if err != nil {
		return 0
	}
	return kb / 1024
}

// peakRSSMiB is this process's peak resident memory as the kernel counts
// it for getrusage (reset with VmHWM on Linux; run keeps the maximum).
func peakRSSMiB() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Maxrss) / 1024
}
