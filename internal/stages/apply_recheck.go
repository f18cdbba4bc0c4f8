package stages

import (
	"context"
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
const (
	maxChangedProjects = 20000
	maxChangedFiles    = 2000000
)

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
	run, err := pipeline.ReadRun(r.g.State)
	if err != nil {
		return err
	}
	sf, err := pipeline.ReadStageFile(r.g.State, "designated")
	if err != nil {
		return err
	}
	// file dates may be whole seconds: what was written in the second the scan
	// began counts as changed (re-reading a project too many is harmless)
	since := sf.Started.Truncate(time.Second).Add(-time.Nanosecond)
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
		if strings.Contains(name, "/") || strings.HasPrefix(name, ".") || !mod.After(since) {
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
			if !mod.After(since) {
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
		var rows collected
		out, err := m.scan(ctx, *refs[n], &rows, 0)
		if err != nil {
			return fmt.Errorf("apply: read %s again: %w", n, err)
		}
		if out.project[2] == "" && !r.allowProblems {
			return &pipeline.RefusedError{Guards: []string{"metadata-changed"}, Msg: fmt.Sprintf("project %s's metadata changed since the scan and cannot be read now (%s): its files cannot be told from orphans, so nothing is deleted; scan again (bandercheck run --fresh), or pass --allow-problems", n, problemText(out.problems))}
		}
		r.names[n] = true
		for _, row := range rows.rows {
			r.owned[row[0]] = n
		}
		if len(r.owned) > maxChangedFiles {
			return tooMany(maxChangedProjects + 1)
		}
	}
	if len(r.names) > 0 {
		logf(r.g, "apply: %d projects' metadata changed since the scan; deletes and removals they now own are skipped", len(r.names))
	}
	r.loaded = true
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

func problemText(problems [][]string) string {
	var parts []string
	for _, p := range problems {
		parts = append(parts, p[pipeline.ProblemPath]+": "+p[pipeline.ProblemError])
	}
	return strings.Join(parts, "; ")
}
