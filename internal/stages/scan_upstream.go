package stages

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"time"

	"github.com/bandercheck/bandercheck/internal/progress"
	"github.com/bandercheck/bandercheck/internal/work"
	"github.com/bandercheck/bandercheck/pipeline"
	"github.com/bandercheck/bandercheck/sources"
)

// ScanUpstream lists the projects upstream has.
type ScanUpstreamOptions struct {
	// Upstream is the base URL of the upstream index (the one serving
	// /simple/); "": the config's [mirror] master.
	Upstream string
	// Timeout limits one attempt to fetch the index.
	Timeout time.Duration
	// Attempts before giving up.
	Attempts int
}

// DefaultScanUpstreamOptions are scan upstream's defaults.
func DefaultScanUpstreamOptions() ScanUpstreamOptions {
	return ScanUpstreamOptions{Timeout: 5 * time.Minute, Attempts: 4}
}

// Validate refuses options no scan can run with.
func (c ScanUpstreamOptions) Validate() error {
	switch {
	case c.Timeout <= 0:
		return usage("--timeout %v: give a positive duration such as 5m", c.Timeout)
	case c.Attempts < 1:
		return usage("--attempts %d: give at least 1", c.Attempts)
	}
	return checkHTTPURL(c.Upstream)
}

// Run implements the command.
func (c *ScanUpstreamOptions) Run(ctx context.Context, g *Env) error {
	if err := c.Validate(); err != nil {
		return err
	}
	if err := g.wholeMirror("scan upstream"); err != nil {
		return err
	}
	base, err := c.base(g)
	if err != nil {
		return err
	}
	if _, _, err := g.openRun(); err != nil {
		return err
	}
	client := &http.Client{Timeout: c.Timeout}
	tmp := filepath.Join(g.State, "tmp")
	err = work.Retry(ctx, c.Attempts, time.Second,
		func(err error, wait time.Duration) {
			logf(g, "scan upstream: attempt failed (%v); retrying in %s", err, wait)
		},
		func() error { return c.fetch(ctx, g, client, base, tmp) })
	var re *work.RetryableError
	if errors.As(err, &re) {
		return fmt.Errorf("scan upstream: %s did not answer in %d attempts (%w): check that it is up and reachable from here, and --upstream (or [mirror] master in the config)", base, max(c.Attempts, 1), err)
	}
	return err
}

func (c *ScanUpstreamOptions) base(g *Env) (string, error) {
	if c.Upstream != "" {
		return c.Upstream, nil
	}
	conf, err := g.config()
	if err != nil {
		return "", err
	}
	if conf.Master == "" {
		return "", &pipeline.UsageError{Msg: "scan upstream needs --upstream URL (or a --config whose [mirror] master names it)"}
	}
	return conf.Master, nil
}

// fetch makes one attempt: names are normalized, sorted and deduplicated
// into the upstream manifest, which is written only when the index was whole.
func (c *ScanUpstreamOptions) fetch(ctx context.Context, g *Env, client *http.Client, base, tmp string) error {
	_, err := writeUpstream(ctx, g, client, base, tmp, "scan upstream", pipeline.MustSpec("upstream"), lastRows(g, "upstream"))
	return err
}

// writeUpstream reads upstream's index into the manifest spec: one row per
// normal name with its serial (the highest of its spellings; empty when the
// index gives none), sorted; with three columns (sync/upstream) the name as
// upstream spells it goes between them. It returns the highest serial seen
// (sources.NoSerial when none). last is the row count of the manifest it
// replaces (0 when none): it sizes the sort (upstream grows by a few
// hundred projects a day).
func writeUpstream(ctx context.Context, g *Env, client *http.Client, base, tmp, stage string, spec pipeline.Spec, last int64) (int64, error) {
	top, _, err := sortUpstream(ctx, g, client, base, tmp, stage, spec, last)
	return top, err
}

// lastRows is the row count of manifest as STATE holds it, 0 when it holds none.
func lastRows(g *Env, manifest string) int64 {
	sf, err := g.StateDir().StageFile(manifest)
	if err != nil {
		return 0
	}
	return sf.Rows
}

// sortUpstream is writeUpstream; it also returns the most bytes its sort's
// arenas held.
func sortUpstream(ctx context.Context, g *Env, client *http.Client, base, tmp, stage string, spec pipeline.Spec, last int64) (top int64, use upstreamSortUse, err error) {
	sorter := pipeline.NewSorter(tmp, upstreamSortMemory, 3, 0).WithFanIn(4).WithMergeWidth(upstreamMergeWidth)
	if last > 0 {
		sorter.WithSizeHint(int(last + last/64 + 64))
	}
	defer func() { use = upstreamSortUse{held: sorter.PeakHeld(), widest: sorter.WidestMerge()} }()
	// what it holds is the sort's arenas and coders, a few MiB: a low GOGC
	// keeps the peak near them (100: 49 MiB at full size, 25: 39 MiB)
	defer lowerGCPercent(25)()
	defer sorter.Close()
	var rep progress.Reporter // from the first name: an index that fails at once says one line
	defer func() {
		if rep != nil {
			rep.Finish()
		}
	}()
	top = int64(sources.NoSerial)
	if _, err := sources.FetchIndex(ctx, client, base, func(name string, serial int64) error {
		if rep == nil {
			rep = g.reporter(stage, "projects")
		}
		rep.Add(1, 0)
		top = max(top, serial)
		return sorter.Add([]string{sources.Normalize(name), name, formatSerial(serial)})
	}); err != nil {
		return top, use, err
	}
	sorted, err := sorter.Sort()
	if err != nil {
		return top, use, err
	}
	defer sorted.Close()
	st, err := g.StateDir().Stage(stage, true, g.stageOptions(), spec)
	if err != nil {
		return top, use, err
	}
	defer st.Close()
	var prev []string
	flush := func() error {
		if prev == nil {
			return nil
		}
		row := prev
		if len(spec.Columns) == 2 {
			row = []string{prev[0], prev[2]}
		}
		if err := st.Write(0, row...); err != nil {
			return err
		}
		return st.EndUnit(prev[0])
	}
	for {
		row, err := sorted.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return top, use, err
		}
		if row[0] == "" {
			continue
		}
		if prev != nil && row[0] == prev[0] {
			if parseSerial(row[2]) > parseSerial(prev[2]) {
				prev[1], prev[2] = row[1], row[2]
			}
			continue
		}
		if err := flush(); err != nil {
			return top, use, err
		}
		prev = []string{row[0], row[1], row[2]}
	}
	if err := flush(); err != nil {
		return top, use, err
	}
	return top, use, st.Finish()
}

// upstreamSortMemory is the budget of scan upstream's sort of the names. Its
// index of 10,900 rows a run, about 450 KiB of names, fills before the
// arenas do: a run is one chunk (1 MiB) from some 11,000 names up, and the
// two arenas hold two, at 10% of upstream (88k names, 4 MB of rows: 9 runs)
// as at all of it (886k, 40 MB: some 80 runs, merged down to four before
// they are read, at most 34 open at once: the budget's worth of readers;
// the 77 of one merge held 9 MiB). At 16 MiB the arenas held one
// chunk at 1%, four from 10% up, with indexes of 1 MiB each (scan upstream
// alone: 24, 31 and 35 MiB resident at 1%, 10% and 100%); at 64 MiB, 20
// MiB at full size (72 MiB resident).
const upstreamSortMemory = 4 << 20

// formatSerial writes a serial for a manifest: empty when unknown.
func formatSerial(n int64) string {
	if n < 0 {
		return ""
	}
	return strconv.FormatInt(n, 10)
}

// parseSerial reads a manifest's serial: sources.NoSerial when empty or bad.
func parseSerial(s string) int64 {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return sources.NoSerial
	}
	return n
}

// upstreamMergeWidth is the most runs scan upstream's sort merges at once
// when it merges them down to four: 6, what 10% of upstream's names (9
// runs) merge anyway. At the budget's worth (34: 4 MiB of readers, as
// much as the arenas they follow) all of them (some 80 runs) merged 34 at
// once: scan upstream alone held 30.7-31.9 MiB at 100% against 27.2 at
// 10%; with 6, 28.3-28.9 (and 27.6 at 10%), for 0.1 s more CPU (about one
// more pass over a part of the rows: 1.90-1.98 s against 1.75-2.02).
const upstreamMergeWidth = 6

// upstreamSortUse is what scan upstream's sort held: the most bytes of its
// arenas, and the most runs it merged at once.
type upstreamSortUse struct {
	held   int64
	widest int
}
