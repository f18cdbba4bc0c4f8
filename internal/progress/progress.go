// Package progress reports a stage's progress on stderr: a live bar on a
// terminal, otherwise a log line every 10 seconds (text or JSON).
package progress

import (
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
)

// Reporter counts a stage's work. Methods are safe for concurrent use.
type Reporter interface {
	// Add counts items done and their bytes.
	Add(items, bytes int64)
	// SetTotal sets the number of items expected, when it becomes known.
	SetTotal(items int64)
	// Fail counts a failed item.
	Fail()
	// Finish stops the reporter and prints a last line.
	Finish()
}

// Options choose how a Reporter shows itself.
type Options struct {
	Stage    string        // "scan storage"
	Unit     string        // "files", "projects", "rows"
	Live     bool          // a bar on a terminal
	JSON     bool          // log lines as JSON
	Interval time.Duration // between log lines; 10s when 0
	Out      io.Writer     // stderr
}

// New starts a Reporter.
func New(o Options) Reporter {
	if o.Interval == 0 {
		o.Interval = 10 * time.Second
	}
	r := &reporter{o: o, start: time.Now(), stop: make(chan struct{})}
	if o.Live {
		r.bar = progressbar.NewOptions64(-1,
			progressbar.OptionSetWriter(o.Out),
			progressbar.OptionSetDescription(o.Stage),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString(o.Unit),
			progressbar.OptionThrottle(200*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		)
	}
	r.wg.Go(r.loop)
	return r
}

type reporter struct {
	o                   Options
	start               time.Time
	items, bytes, total atomic.Int64
	fails               atomic.Int64
	bar                 *progressbar.ProgressBar
	stop                chan struct{}
	wg                  sync.WaitGroup
	once                sync.Once
}

func (r *reporter) Add(items, bytes int64) {
	r.items.Add(items)
	r.bytes.Add(bytes)
}

func (r *reporter) SetTotal(items int64) { r.total.Store(items) }
func (r *reporter) Fail()                { r.fails.Add(1) }

func (r *reporter) loop() {
	tick := time.NewTicker(r.o.Interval)
	if r.bar != nil {
		tick.Reset(250 * time.Millisecond)
	}
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			r.show(false)
		case <-r.stop:
			return
		}
	}
}

func (r *reporter) show(final bool) {
	items, bytes, total := r.items.Load(), r.bytes.Load(), r.total.Load()
	if r.bar != nil && !final {
		if total > 0 && r.bar.GetMax64() != total {
			r.bar.ChangeMax64(total)
		}
		_ = r.bar.Set64(items)
		r.bar.Describe(fmt.Sprintf("%s %s", r.o.Stage, mib(bytes)))
		return
	}
	if r.bar != nil {
		_ = r.bar.Finish()
	}
	el := time.Since(r.start).Seconds()
	rate := float64(items) / max(el, 1e-9)
	if r.o.JSON {
		line, _ := json.Marshal(map[string]any{
			"time": time.Now().UTC().Format(time.RFC3339), "stage": r.o.Stage, r.o.Unit: items, "total": total,
			"bytes": bytes, "per_second": int64(rate), "failures": r.fails.Load(), "final": final,
		})
		fmt.Fprintln(r.o.Out, string(line))
		return
	}
	eta := ""
	if total > 0 && rate > 0 && items < total {
		eta = fmt.Sprintf(", ETA %s", time.Duration(float64(total-items)/rate*float64(time.Second)).Round(time.Second))
	}
	of := ""
	if total > 0 {
		of = fmt.Sprintf(" of %d", total)
	}
	fails := ""
	if f := r.fails.Load(); f > 0 {
		fails = fmt.Sprintf(", %d failed", f)
	}
	fmt.Fprintf(r.o.Out, "%s: %d%s %s, %s, %.0f %s/s, %.1f MB/s%s%s\n", r.o.Stage, items, of, r.o.Unit, mib(bytes), rate, r.o.Unit, float64(bytes)/1e6/max(el, 1e-9), eta, fails)
}

func (r *reporter) Finish() {
	r.once.Do(func() {
		close(r.stop)
		r.wg.Wait()
		r.show(true)
	})
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
