package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strings"
	"time"
)

// heapMetric is the heap the runtime holds for objects (live and not yet swept).
const heapMetric = "/memory/classes/heap/objects:bytes"

// startMemProfile writes a heap profile (inuse_space) to path at the highest
// heap seen: it samples the heap every 20 ms and writes the profile again
// whenever the heap passes the one of the last profile by a sixteenth, so the
// file left at the end was taken near the peak (BANDERCHECK_MEMPROFILE; for
// finding what grows, not for production). Beside it, path.classes holds the
// runtime's memory classes when the most memory was held from the system. The returned stop ends the
// sampling and writes the final profile if none was written.
func startMemProfile(path string) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	sample := []metrics.Sample{{Name: heapMetric}}
	classes := memoryClasses()
	var written, most uint64
	write := func() { writeHeapProfile(path) }
	go func() {
		defer close(finished)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				if written == 0 {
					runtime.GC()
					write()
				}
				return
			case <-t.C:
			}
			metrics.Read(sample)
			if sample[0].Value.Kind() != metrics.KindUint64 {
				continue
			}
			if heap := sample[0].Value.Uint64(); heap > written+written/16 {
				written = heap
				write()
			}
			// the memory classes at the most the runtime held from the system
			metrics.Read(classes)
			var total, released uint64
			for _, c := range classes {
				switch c.Name {
				case "/memory/classes/total:bytes":
					total = c.Value.Uint64()
				case "/memory/classes/heap/released:bytes":
					released = c.Value.Uint64()
				}
			}
			if held := total - released; held > most {
				most = held
				_ = os.WriteFile(path+".classes", formatClasses(classes), 0o666)
			}
		}
	}()
	return func() { close(done); <-finished }
}

// memoryClasses are the samples of the runtime's memory classes, its count
// of live heap objects and of goroutines, to read with metrics.Read.
func memoryClasses() []metrics.Sample {
	var classes []metrics.Sample
	for _, d := range metrics.All() {
		if strings.HasPrefix(d.Name, "/memory/classes/") || d.Name == "/gc/heap/objects:objects" || d.Name == "/sched/goroutines:goroutines" {
			classes = append(classes, metrics.Sample{Name: d.Name})
		}
	}
	return classes
}

// formatClasses is a record of read samples: a name and a value a line.
func formatClasses(classes []metrics.Sample) []byte {
	var b strings.Builder
	for _, c := range classes {
		if c.Value.Kind() == metrics.KindUint64 {
			fmt.Fprintf(&b, "%s %d\n", c.Name, c.Value.Uint64())
		}
	}
	return []byte(b.String())
}

// writeHeapProfile writes the heap profile to path (through path.tmp).
func writeHeapProfile(path string) {
	f, err := os.Create(path + ".tmp")
	if err != nil {
		return
	}
	err = pprof.Lookup("heap").WriteTo(f, 0)
	if cerr := f.Close(); err == nil && cerr == nil {
		_ = os.Rename(path+".tmp", path)
	}
}

// memProfileAtStageStart is run's hook at the start of each of its stages
// (stages.Env.StageStarting) under BANDERCHECK_MEMPROFILE: once the stages
// before have been collected and their memory returned, it records what
// is still held, for the stage to come, beside path: path.STAGE.start.classes
// (the memory classes and the count of live heap objects, read first) and
// path.STAGE.start (a heap profile of the live objects), STAGE the stage's
// name with '-' for spaces. What one stage leaves to the next is found
// there (session 33: scan storage's shard list, in spans of its own).
func memProfileAtStageStart(path string) func(stage string) {
	return func(stage string) {
		base := path + "." + strings.ReplaceAll(stage, " ", "-") + ".start"
		classes := memoryClasses()
		metrics.Read(classes)
		_ = os.WriteFile(base+".classes", formatClasses(classes), 0o666)
		writeHeapProfile(base)
	}
}
