package stages

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/bandercheck/bandercheck/internal/crashpoint"
	"github.com/bandercheck/bandercheck/internal/redact"
	"github.com/bandercheck/bandercheck/internal/store"
	"github.com/bandercheck/bandercheck/internal/store/posixstore"
	"github.com/bandercheck/bandercheck/pipeline"
	"github.com/bandercheck/bandercheck/sinks"
	"github.com/bandercheck/bandercheck/sources"
)

// Results of applied rows.
const (
	resultOK      = "ok"
	resultPresent = "present"
	resultFailed  = "failed"
	resultSkipped = "skipped"
)

// appliedRow is one row of applied/<action>, plus the bytes it moved.
type appliedRow struct {
	Path   string
	Result string
	Err    string
	Bytes  int64
}

func failedRow(path string, err error) appliedRow {
	return appliedRow{Path: path, Result: resultFailed, Err: redact.String(err.Error())}
}

// applyAction is one kind of planned work.
type applyAction struct {
	name   string                                                           // download, delete, remove-projects
	check  func(row []string) (path string, err error)                      // a plan row is input: is it safe to act on?
	do     func(ctx context.Context, rows [][]string) ([]appliedRow, error) // rows that passed check
	finish func(ctx context.Context) error                                  // after the last shard, before the stage is done
}

// verb is the action column of applied rows.
func (a applyAction) verb() string {
	if a.name == "remove-projects" {
		return "remove"
	}
	return a.name
}

// run applies one plan shard: rows whose earlier result (before, on a retry)
// was not a failure are carried over, rows that fail the check become failed
// rows, and the rest are acted on. Results are in plan order.
func (a applyAction) run(ctx context.Context, rows [][]string, before []appliedRow) ([]appliedRow, error) {
	out := make([]appliedRow, len(rows))
	var todo [][]string
	var at []int
	for i, row := range rows {
		path, err := a.check(row)
		if before != nil {
			if before[i].Path != path {
				return nil, fmt.Errorf("the earlier results do not match the plan at %q: start over with bandercheck apply --fresh", path)
			}
			if before[i].Result != resultFailed {
				out[i] = before[i]
				continue
			}
		}
		if err != nil {
			out[i] = failedRow(path, err)
			continue
		}
		todo, at = append(todo, row), append(at, i)
	}
	if len(todo) == 0 {
		return out, nil
	}
	done, err := a.do(ctx, todo)
	if err != nil {
		return nil, err
	}
	for j, i := range at {
		out[i] = done[j]
	}
	return out, nil
}

// checkDownloadRow checks a row of plan/download (path,url,size,sha256,reason,upload_time).
func checkDownloadRow(row []string) (string, error) {
	if len(row) < 6 {
		return firstCell(row), fmt.Errorf("refused: a plan/download row has %d columns, not 6", len(row))
	}
	if err := sinks.CheckPackageKey(row[pipeline.DownloadPath]); err != nil {
		return row[pipeline.DownloadPath], err
	}
	path := row[pipeline.DownloadPath]
	if n, err := sinks.ParseSize(row[pipeline.DownloadSize]); err != nil || (n < 0 && row[pipeline.DownloadSize] != "") {
		return path, fmt.Errorf("refused: size %q is not a number of bytes", row[pipeline.DownloadSize])
	}
	if err := checkDigest(path, row[pipeline.DownloadSHA256]); err != nil {
		return path, err
	}
	if t := row[pipeline.DownloadUploadTime]; t != "" {
		if _, err := time.Parse(time.RFC3339, t); err != nil {
			return path, fmt.Errorf("refused: upload_time %q is not an RFC 3339 time", t)
		}
	}
	return path, nil
}

// checkDigest accepts what a plan/download row must carry for the download
// to be verified: a sha256 in hex, or for a .metadata file (whose upstream
// may give another algorithm) "algorithm:hex". A row without one would be
// fetched unverified into the served tree, so it is refused.
func checkDigest(path, d string) error {
	algo, want := sources.SplitDigest(d)
	if algo != "sha256" && !strings.HasSuffix(path, ".metadata") {
		return fmt.Errorf("refused: digest %q: a release file is verified by its sha256", d)
	}
	h, err := sources.NewDigest(algo)
	if err != nil {
		return fmt.Errorf("refused: digest %q: %v", d, err)
	}
	if len(want) != 2*h.Size() || strings.Trim(strings.ToLower(want), "0123456789abcdef") != "" {
		if d == "" {
			return fmt.Errorf("refused: no digest: a download is only made when its bytes can be verified")
		}
		return fmt.Errorf("refused: digest %q is not %d hex digits of %s", d, 2*h.Size(), algo)
	}
	return nil
}

// checkDeleteRow checks a row of plan/delete (path,size,reason).
func checkDeleteRow(row []string) (string, error) {
	if len(row) < 3 {
		return firstCell(row), fmt.Errorf("refused: a plan/delete row has %d columns, not 3", len(row))
	}
	return row[pipeline.DeletePath], sinks.CheckDeleteKey(row[pipeline.DeletePath])
}

// checkRemovalRow checks a row of plan/remove-projects (project,path).
func checkRemovalRow(row []string) (string, error) {
	if len(row) < 2 {
		return firstCell(row), fmt.Errorf("refused: a plan/remove-projects row has %d columns, not 2", len(row))
	}
	return row[pipeline.RemovePath], sinks.CheckRemoval(row[pipeline.RemoveProject], row[pipeline.RemovePath])
}

func firstCell(row []string) string {
	if len(row) == 0 {
		return ""
	}
	return row[0]
}

// downloader fetches one plan shard's files concurrently.
type downloader struct {
	mirror store.Writer
	fetch  *sinks.Fetcher
	jobs   int
}

// shard downloads checked rows of plan/download.
func (d *downloader) shard(ctx context.Context, rows [][]string) ([]appliedRow, error) {
	out := make([]appliedRow, len(rows))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(d.jobs, 1))
	for i, row := range rows {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			r, err := d.one(gctx, row)
			out[i] = r
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

func (d *downloader) one(ctx context.Context, row []string) (appliedRow, error) {
	path, sum := row[pipeline.DownloadPath], row[pipeline.DownloadSHA256]
	size, _ := sinks.ParseSize(row[pipeline.DownloadSize]) // checked
	present := sum
	if strings.Contains(sum, ":") {
		present = "" // another algorithm than sha256: the download verifies it
	}
	if ok, err := d.mirror.Present(ctx, path, size, present); err != nil {
		return appliedRow{}, err
	} else if ok {
		return appliedRow{Path: path, Result: resultPresent}, nil
	}
	w := sinks.Want{Key: path, URL: row[pipeline.DownloadURL], Size: size, SHA256: sum}
	if t, err := time.Parse(time.RFC3339, row[pipeline.DownloadUploadTime]); err == nil {
		w.Uploaded = t
	}
	n, err := d.fetch.Fetch(ctx, d.mirror, w)
	var hd *sinks.HostDownError
	if errors.As(err, &hd) {
		return appliedRow{}, err // apply stops; the shard is not recorded, so its rows are retried
	}
	var fe *sinks.FetchError
	var pe *posixstore.PathError
	if errors.As(err, &fe) || errors.As(err, &pe) {
		return failedRow(path, err), nil
	}
	if err != nil {
		return appliedRow{}, fmt.Errorf("download %s: %w", path, err)
	}
	crashpoint.Hit("download")
	return appliedRow{Path: path, Result: resultOK, Bytes: n}, nil
}

// deleteShard removes the files of checked rows of plan/delete, except those
// a project owns since the plan (rc).
func deleteShard(ctx context.Context, m store.Writer, rc *recheck, rows [][]string) ([]appliedRow, error) {
	out := make([]appliedRow, len(rows))
	var keys []string
	var at []int
	for i, r := range rows {
		path := r[pipeline.DeletePath]
		if owner := rc.owner(path); owner != "" {
			out[i] = appliedRow{Path: path, Result: resultSkipped, Err: "project " + owner + " names this file since the plan was made (its metadata changed): kept"}
			continue
		}
		keys, at = append(keys, path), append(at, i)
	}
	errs, err := m.Remove(ctx, keys)
	if err != nil {
		return nil, err
	}
	for j, i := range at {
		path := rows[i][pipeline.DeletePath]
		size, _ := strconv.ParseInt(rows[i][pipeline.DeleteSize], 10, 64)
		out[i] = appliedRow{Path: path, Result: resultOK, Bytes: size}
		if errs[j] != nil {
			out[i] = failedRow(path, errs[j])
		}
	}
	return out, nil
}

// removeProjectsShard removes metadata files and simple folders of removed
// projects (checked rows of plan/remove-projects: project,path), except those
// of projects whose metadata changed since the plan (rc). A row of
// web/json/<name> or web/pypi/<name>/ removes every spelling of the project
// there (web/json/Gone_Pkg and web/json/gone-pkg).
func removeProjectsShard(ctx context.Context, m store.Writer, rc *recheck, sp *spellings, rows [][]string) ([]appliedRow, error) {
	out := make([]appliedRow, len(rows))
	for i, r := range rows {
		project, path := r[pipeline.RemoveProject], r[pipeline.RemovePath]
		if rc.changed(project) {
			out[i] = appliedRow{Path: path, Result: resultSkipped, Err: "project " + project + "'s metadata changed since the plan was made: kept"}
			continue
		}
		var errs []error
		for _, p := range sp.of(project, path) {
			if strings.HasSuffix(p, "/") {
				errs = append(errs, m.RemoveTree(ctx, p))
				continue
			}
			res, err := m.Remove(ctx, []string{p})
			if err == nil {
				err = res[0]
			}
			errs = append(errs, err)
		}
		err := errors.Join(errs...)
		var pe *posixstore.PathError
		switch {
		case err == nil:
			out[i] = appliedRow{Path: path, Result: resultOK}
		case errors.As(err, &pe):
			out[i] = failedRow(path, err)
		default:
			return nil, err
		}
	}
	return out, nil
}

// spellings are the names under web/json and web/pypi of removed projects
// besides the one the plan names, found by one listing of each folder.
type spellings struct {
	keys map[string][]string // planned path → every path of the same project there
}

// listSpellings lists web/json and web/pypi once, keeping the names of the
// projects plan/remove-projects removes (a bounded set: --max-remove-projects).
func listSpellings(ctx context.Context, ms store.Reader, state *pipeline.State) (*spellings, error) {
	removed, err := removedProjects(state, &recheck{loaded: true})
	if err != nil || len(removed) == 0 {
		return &spellings{}, err
	}
	sp := &spellings{keys: map[string][]string{}}
	for _, folder := range []struct {
		prefix string
		dir    bool
	}{{"web/json/", false}, {"web/pypi/", true}} {
		err := ms.Names(ctx, folder.prefix, func(name string, dir bool) error {
			norm := sources.Normalize(name)
			if dir != folder.dir || !removed[norm] || strings.HasPrefix(name, ".") {
				return nil
			}
			key := folder.prefix + name
			if dir {
				key += "/"
			}
			group := folder.prefix + norm
			sp.keys[group] = append(sp.keys[group], key)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("list %s for other spellings of removed projects: %w", folder.prefix, err)
		}
	}
	return sp, nil
}

// of lists the paths a checked removal row stands for.
func (sp *spellings) of(project, path string) []string {
	out := []string{path}
	group := ""
	switch {
	case strings.HasPrefix(path, "web/json/"):
		group = "web/json/" + project
	case strings.HasPrefix(path, "web/pypi/"):
		group = "web/pypi/" + project
	}
	for _, k := range sp.keys[group] {
		if k != path && sinks.CheckRemoval(project, k) == nil {
			out = append(out, k)
		}
	}
	return out
}

// removedProjects reads the set of projects plan/remove-projects removes,
// less those whose metadata changed since (rc): the root index keeps them.
func removedProjects(state *pipeline.State, rc *recheck) (map[string]bool, error) {
	set := map[string]bool{}
	err := state.EachRow("plan/remove-projects", func(row []string) error {
		if _, cerr := checkRemovalRow(row); cerr == nil && !rc.changed(row[pipeline.RemoveProject]) {
			set[row[pipeline.RemoveProject]] = true
		}
		return nil
	})
	return set, err
}

// previous reads the results of a finished apply kept aside for a retry.
type previous struct{ r *pipeline.ManifestReader }

// openPrevious opens the results kept aside in retryState, or returns nil.
func openPrevious(retryState *pipeline.State, name string) (*previous, error) {
	if _, err := retryState.StageFile(name); err != nil {
		return nil, nil
	}
	r, err := retryState.Manifest(name)
	if err != nil {
		return nil, err
	}
	return &previous{r: r}, nil
}

// take reads the next n results.
func (p *previous) take(n int) ([]appliedRow, error) {
	out := make([]appliedRow, n)
	for i := range out {
		row, err := p.r.Next()
		if err == io.EOF {
			return nil, errors.New("the earlier results are shorter than the plan: start over with bandercheck apply --fresh")
		}
		if err != nil {
			return nil, err
		}
		out[i] = appliedRow{Path: row[pipeline.AppliedPath], Result: row[pipeline.AppliedResult], Err: row[pipeline.AppliedError]}
	}
	return out, nil
}

func (p *previous) Close() error { return p.r.Close() }
