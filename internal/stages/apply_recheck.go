package stages

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/bandercheck/bandercheck/internal/store"
	"github.com/bandercheck/bandercheck/pipeline"
	"github.com/bandercheck/bandercheck/sources"
)

// Bounds of what apply re-reads under the lock: a sync or two since the scan
// changes a few hundred projects; more than this means the plan is too old.
// The files the changed projects name are held as paths, at most
// maxChangedFiles of them (~200 MB, well under the systemd unit's MemoryHigh).
const maxChangedProjects = 20000

var maxChangedFiles = 250000 // a variable so that a test can lower it

// recheck re-reads, under the mirror's lock, the metadata of every project
// whose document changed (or appeared) since the metadata scan began: a sync
// that ran between plan and apply may own files the plan deletes. Deletes of
// what they now name, and removals of those projects, are skipped.
type recheck struct {
	g             *Env
	store         store.Reader
	allowProblems bool // an unreadable changed project does not stop deletes
	loaded        bool
	names         map[string]bool   // normalized names of changed projects
	owned         map[string]string // path → normalized project, for changed projects
}

// owner is the changed project that now names path, or "".
func (r *recheck) owner(path string) string { return r.owned[path] }

// changed tells whether project's metadata changed since the scan.
func (r *recheck) changed(project string) bool { return r.names[project] }

// load lists the metadata documents with their dates and reads the changed ones.
func (r *recheck) load(ctx context.Context) error {
	if r.loaded {
		return nil
	}
	run, err := r.g.StateDir().Run()
	if err != nil {
		return err
	}
	sf, err := r.g.StateDir().StageFile("designated")
	if err != nil {
		return err
	}
	started := sf.Started
	hashIndex := run.Option("metadata.hash-index") == "true"
	from := run.Option("metadata.from")
	refs := map[string]*projectRef{}
	ref := func(norm string) *projectRef {
		if refs[norm] == nil {
			refs[norm] = &projectRef{normalized: norm}
		}
		return refs[norm]
	}
	err = r.store.Modified(ctx, "web/json/", func(key string, mod time.Time) error {
		name := strings.TrimPrefix(key, "web/json/")
		if strings.Contains(name, "/") || strings.HasPrefix(name, ".") || !changedSince(mod, started) {
			return nil
		}
		pr := ref(sources.Normalize(name))
		pr.jsonNames = append(pr.jsonNames, name)
		return tooMany(len(refs))
	})
	if err != nil {
		return fmt.Errorf("apply: look for metadata changed since the scan: %w", err)
	}
	if from != fromSimple {
		for _, pr := range refs {
			pr.simple = true // the fallback, should the document not parse
		}
	} else {
		err = r.store.Modified(ctx, "web/simple/", func(key string, mod time.Time) error {
			dir, file, ok := cutLast(strings.TrimPrefix(key, "web/simple/"))
			if !ok || (file != "index.v1_json" && file != "index.html") {
				return nil
			}
			if _, name, ok := cutLast(dir); ok {
				dir = name // hash-index: web/simple/<c>/<name>/
			}
			if dir == "" || strings.HasPrefix(dir, ".") {
				return nil
			}
			if !changedSince(mod, started) {
				return nil
			}
			ref(sources.Normalize(dir)).simple = true
			return tooMany(len(refs))
		})
	}
	if err != nil {
		return fmt.Errorf("apply: look for metadata changed since the scan: %w", err)
	}
	r.names, r.owned = map[string]bool{}, map[string]string{}
	conf, err := r.g.config()
	if err != nil {
		return err
	}
	m := &metaScan{store: r.store, from: from, hashIndex: hashIndex, design: designationOf(conf, r.g.Config)}
	norms := make([]string, 0, len(refs))
	for n := range refs {
		norms = append(norms, n)
	}
	slices.Sort(norms)
	for _, n := range norms {
		sink := &ownedSink{owned: r.owned, project: n}
		out, err := m.scan(ctx, *refs[n], sink, 0)
		if err != nil {
			var re *pipeline.RefusedError
			if errors.As(err, &re) {
				return err
			}
			return fmt.Errorf("apply: read %s again: %w", n, err)
		}
		// a changed document that cannot be read now (a FIFO, damaged) is not
		// made up for by the older other source: what the change named is unknown
		if (out.project[2] == "" || unreadable(out.problems)) && !r.allowProblems {
			return &pipeline.RefusedError{Guards: []string{"metadata-changed"}, Msg: fmt.Sprintf("project %s's metadata changed since the scan and cannot be read now (%s): its files cannot be told from orphans, so nothing is deleted; scan again (bandercheck run --fresh), or pass --allow-problems", n, problemText(out.problems))}
		}
		r.names[n] = true
	}
	if len(r.names) > 0 {
		logf(r.g, "apply: %d projects' metadata changed since the scan; deletes and removals they now own are skipped", len(r.names))
	}
	r.loaded = true
	return nil
}

// clockSlack is how far behind the clock a file's ctime may be stamped: the
// kernel stamps files from a clock that is up to a tick (4-10 ms) behind.
const clockSlack = 20 * time.Millisecond

// changedSince tells whether a document last changed at t (store.Reader's
// Modified) may have changed after the scan started. Dates of whole seconds
// (S3, file systems of whole seconds) count from the start of that second
// (re-reading a project too many is harmless).
func changedSince(t, started time.Time) bool {
	if t.Nanosecond() == 0 {
		return !t.Before(started.Truncate(time.Second))
	}
	return t.After(started.Add(-clockSlack))
}

// ownedSink records, as a changed project is read again, each path it names,
// one at a time and within maxChangedFiles (the rows themselves are not kept).
type ownedSink struct {
	owned   map[string]string
	project string
	added   []string // paths this project added, dropped again by discard
}

func (s *ownedSink) designated(row ...string) error {
	if _, ok := s.owned[row[0]]; ok {
		return nil
	}
	if len(s.owned) >= maxChangedFiles {
		return &pipeline.RefusedError{Guards: []string{"metadata-changed"}, Msg: fmt.Sprintf("the projects whose metadata changed since the scan (now at %s) name more than %d files, more than apply holds in memory to re-check deletes: scan again (bandercheck run --fresh) so the plan knows them", s.project, maxChangedFiles)}
	}
	s.owned[row[0]] = s.project
	s.added = append(s.added, row[0])
	return nil
}

func (s *ownedSink) discard() error {
	for _, p := range s.added {
		delete(s.owned, p)
	}
	s.added = s.added[:0]
	return nil
}

func tooMany(n int) error {
	if n <= maxChangedProjects {
		return nil
	}
	return &pipeline.RefusedError{Guards: []string{"metadata-changed"}, Msg: fmt.Sprintf("more than %d projects changed since the metadata scan: the plan is too old to delete by; scan again (bandercheck run --fresh)", maxChangedProjects)}
}

func cutLast(s string) (string, string, bool) {
	i := strings.LastIndexByte(s, '/')
	if i < 0 {
		return "", s, false
	}
	return s[:i], s[i+1:], true
}

// unreadable tells whether a source of the project could not be read (a
// filter's note is no such problem).
func unreadable(problems [][]string) bool {
	for _, p := range problems {
		if p[pipeline.ProblemStage] != problemStageFilter {
			return true
		}
	}
	return false
}

func problemText(problems [][]string) string {
	var parts []string
	for _, p := range problems {
		parts = append(parts, p[pipeline.ProblemPath]+": "+p[pipeline.ProblemError])
	}
	return strings.Join(parts, "; ")
}
