package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/bandercheck/bandercheck/internal/testutil"
)

// chromium finds a headless-capable Chromium, or skips the test saying how
// to get one.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no Chromium on this machine (scripts/test.sh installs Debian's chromium where it can): the report is not checked in a browser here")
	return ""
}

// theBrowser is one Chromium for every page the tests load, each in a tab of
// its own (a launch costs seconds of CPU); TestMain closes it.
var theBrowser struct {
	sync.Mutex
	ctx   context.Context // the first tab, which holds the browser
	close func()
}

// sharedBrowser starts the Chromium at path the first time it is asked for,
// and returns the context from which new tabs are opened.
func sharedBrowser(t *testing.T, path string) context.Context {
	t.Helper()
	theBrowser.Lock()
	defer theBrowser.Unlock()
	if theBrowser.ctx == nil {
		opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox)
		actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		bctx, cancel := chromedp.NewContext(actx)
		if err := chromedp.Do(bctx); err != nil { // starts the browser
			cancel()
			cancelAlloc()
			t.Fatalf("start Chromium (%s): %v", path, err)
		}
		theBrowser.ctx, theBrowser.close = bctx, func() { cancel(); cancelAlloc() }
	}
	return theBrowser.ctx
}

// browse loads page in headless Chromium, fails the test on any console
// error or warning and any uncaught exception, saves a screenshot beside it
// and returns the text of the page and the number of bars in its chart.
func browse(t *testing.T, browser, page string) (string, int) {
	t.Helper()
	ctx, cancel := chromedp.NewContext(sharedBrowser(t, browser)) // a tab of its own
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	var mu sync.Mutex
	var problems []string
	note := func(s string) { mu.Lock(); problems = append(problems, s); mu.Unlock() }
	if err := chromedp.Listen(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning {
				note(fmt.Sprintf("console %s", ev.Type))
			}
		case *runtime.EventExceptionThrown:
			note("exception: " + ev.ExceptionDetails.Text)
		case *cdplog.EventEntryAdded:
			if ev.Entry.Level == cdplog.EntryLevelError || ev.Entry.Level == cdplog.EntryLevelWarning {
				note(fmt.Sprintf("log %s: %s %s", ev.Entry.Level, ev.Entry.Text, ev.Entry.URL))
			}
		}
	}); err != nil {
		t.Fatalf("start Chromium (%s): %v", browser, err)
	}
	fail := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("load %s in Chromium: %v", page, err)
		}
	}
	_, err := chromedp.Call(ctx, cdplog.Enable, cdp.Empty{})
	fail(err)
	_, err = chromedp.Call(ctx, runtime.Enable, cdp.Empty{})
	fail(err)
	fail(chromedp.Do(ctx, chromedp.Navigate("file://"+page), chromedp.WaitReady(chromedp.CSS("body"))))
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
	fail(err)
	bars, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSSAll("svg rect"), chromedp.AtLeast(0)))
	fail(err)
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(90))
	fail(err)
	mu.Lock()
	if len(problems) > 0 {
		t.Errorf("%s: %s", page, strings.Join(problems, "; "))
	}
	mu.Unlock()
	jpg := strings.TrimSuffix(page, ".html") + ".jpg"
	if err := os.WriteFile(jpg, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot of %s: %s (%d bytes)", page, jpg, len(shot))
	return text, len(bars)
}

// topDownloadBySum is the project with the most bytes in plan/download,
// summed here from the manifest itself.
func topDownloadBySum(t *testing.T, state string) (string, int64) {
	t.Helper()
	sums := map[string]int64{}
	for _, line := range strings.Split(strings.TrimSpace(catState(t, state, "plan/download")), "\n")[1:] {
		f := strings.Split(line, ",")
		size, _ := strconv.ParseInt(f[2], 10, 64)
		name := f[0][strings.LastIndexByte(f[0], '/')+1:]
		sums[normalizeForTest(projectPart(name))] += size
	}
	names := make([]string, 0, len(sums))
	for n := range sums {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		if sums[names[i]] != sums[names[j]] {
			return sums[names[i]] > sums[names[j]]
		}
		return names[i] < names[j]
	})
	if len(names) == 0 {
		return "", 0
	}
	return names[0], sums[names[0]]
}

// projectPart is a distribution file name up to its version.
func projectPart(name string) string {
	for i := 0; i+1 < len(name); i++ {
		if name[i] == '-' && (name[i+1] >= '0' && name[i+1] <= '9' || strings.HasSuffix(name, ".whl")) {
			return name[:i]
		}
	}
	return name
}

// The report renders without a console error for an empty plan, a normal
// plan and a plan a guard refused, and says what each is; its figures are
// the manifests'.
func TestReportRendersInABrowser(t *testing.T) {
	t.Parallel()
	browser := chromium(t)

	// a normal plan, then the same mirror with every removal refused
	m := generate(t, 100)
	url := m.serve(t, nil)
	normal := filepath.Join(t.TempDir(), "normal")
	mustBC(t, nil, "--mirror", m.root, "--state", normal, "run", "--dry-run", "--hash", "--upstream", url, "--grace", "0s", "--max-remove-projects", "50%")
	page := filepath.Join(t.TempDir(), "normal.html")
	mustBC(t, nil, "--state", normal, "report", "--out", page)
	text, bars := browse(t, browser, page)
	top, bytes := topDownloadBySum(t, normal)
	for _, want := range []string{"download: missing", "delete: unowned", top, strconv.FormatInt(bytes, 10), "problems/metadata"} {
		if !strings.Contains(text, want) {
			t.Errorf("the normal plan's report lacks %q", want)
		}
	}
	if strings.Contains(text, "Refused") || bars == 0 {
		t.Errorf("the normal plan's report says Refused or draws no bars (%d):\n%s", bars, text)
	}

	refused := filepath.Join(t.TempDir(), "refused")
	r := bc(t, nil, "--mirror", m.root, "--state", refused, "run", "--dry-run", "--upstream", url, "--grace", "0s", "--max-remove-projects", "0")
	if r.code != 3 {
		t.Fatalf("run with --max-remove-projects 0: exit %d, want 3\n%s", r.code, r.stderr)
	}
	page = filepath.Join(t.TempDir(), "refused.html")
	mustBC(t, nil, "--state", refused, "report", "--out", page)
	if text, _ := browse(t, browser, page); !strings.Contains(text, "Refused") || !strings.Contains(text, "--max-remove-projects") {
		t.Errorf("the refused plan's report does not say so:\n%s", text)
	}

	// a clean mirror: an empty plan
	clean := filepath.Join(t.TempDir(), "clean")
	out, err := exec.Command(testutil.Binary(t, "./cmd/genmirror"), "mirror", "--out", filepath.Join(clean, "m"), "--upstream", filepath.Join(clean, "up"),
		"--projects", "50", "--missing", "0", "--orphans", "0", "--size-mismatch", "0", "--hash-mismatch", "0", "--removed", "0").CombinedOutput()
	if err != nil {
		t.Fatalf("genmirror: %v\n%s", err, out)
	}
	st := filepath.Join(clean, "st")
	mustBC(t, nil, "--mirror", filepath.Join(clean, "m"), "--state", st, "run", "--dry-run", "--hash", "--grace", "0s")
	page = filepath.Join(t.TempDir(), "empty.html")
	mustBC(t, nil, "--state", st, "report", "--out", page)
	if text, _ := browse(t, browser, page); !strings.Contains(text, "The plan is empty") || !strings.Contains(text, "Nothing to download") {
		t.Errorf("the empty plan's report does not say so:\n%s", text)
	}
}
