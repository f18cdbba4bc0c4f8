package stages

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a terminal stand-in that the bar's goroutine and the
// logger write at once.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// On a terminal a log line written while the bar is drawn starts on a
// cleared line (it never lands inside the bar), and the bar shows no rate
// before there is one (not "0 files/hr").
func TestLogLinesNeverLandInsideTheBar(t *testing.T) {
	term := &lockedBuffer{}
	g := &Env{Progress: "always", Stderr: term}
	rep := g.reporter("scan storage", "files")
	time.Sleep(600 * time.Millisecond) // the bar draws, with nothing done yet
	logf(g, "first log line")
	rep.Add(3, 300)
	time.Sleep(1200 * time.Millisecond)
	logf(g, "second log line")
	rep.Finish()
	out := term.String()
	if strings.Contains(out, "/hr") || strings.Contains(out, " 0 files/s") {
		t.Errorf("the bar shows a rate before the first item:\n%q", out)
	}
	for _, msg := range []string{"first log line", "second log line"} {
		i := strings.Index(out, msg)
		if i < 0 {
			t.Fatalf("%q was not logged:\n%q", msg, out)
		}
		line := out[strings.LastIndexByte(out[:i], '\n')+1 : i]
		start := strings.Index(line, "time=")
		if start < 0 {
			t.Fatalf("no log line around %q:\n%q", msg, out)
		}
		// what a terminal shows before the log line on its row: the text after the last carriage return and clear
		shown := line[:start]
		if k := strings.LastIndex(shown, "\r\x1b[2K"); k >= 0 {
			shown = shown[k+len("\r\x1b[2K"):]
		}
		if strings.TrimSpace(shown) != "" {
			t.Errorf("the log line %q lands inside the bar: the row shows %q before it", msg, shown)
		}
	}
}
