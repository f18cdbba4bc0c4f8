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
	var classes []metrics.Sample
	for _, d := range metrics.All() {
		if strings.HasPrefix(d.Name, "/memory/classes/") || d.Name == "/sched/goroutines:goroutines" {
			classes = append(classes, metrics.Sample{Name: d.Name})
		}
	}
	var written, most uint64
	write := func() {
		f, err := os.Create(path + ".tmp")
		if err != nil {
			return
		}
		err = pprof.Lookup("heap").WriteTo(f, 0)
		if cerr := f.Close(); err == nil && cerr == nil {
			_ = os.Rename(path+".tmp", path)
		}
	}
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
				var b strings.Builder
				for _, c := range classes {
					if c.Value.Kind() == metrics.KindUint64 {
						fmt.Fprintf(&b, "%s %d\n", c.Name, c.Value.Uint64())
					}
				}
				_ = os.WriteFile(path+".classes", []byte(b.String()), 0o666)
			}
		}
	}()
	return func() { close(done); <-finished }
}
