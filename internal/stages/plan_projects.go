package stages

import (
	"errors"
	"io"
	"strings"

	"github.com/bandercheck/bandercheck/pipeline"
	"github.com/bandercheck/bandercheck/sources"
)

// removalSources says which local projects a plan removes: those upstream
// lacks (when scan upstream ran), those a project filter excludes (when
// asked with --remove-filtered-projects), or both.
type removalSources struct {
	upstream, filtered bool
}

func (r removalSources) any() bool { return r.upstream || r.filtered }

// openRemoved merges the projects manifest against upstream and the
// projects the filters exclude.
func openRemoved(state *pipeline.State, from removalSources) (*pipeline.RemovedIter, error) {
	p, err := state.Manifest("projects")
	if err != nil {
		return nil, err
	}
	var upstream, excluded pipeline.RowReader
	if from.upstream {
		u, err := state.Manifest("upstream")
		if err != nil {
			p.Close()
			return nil, err
		}
		upstream = u
	}
	if from.filtered {
		m, err := state.Manifest("problems/metadata")
		if err != nil {
			p.Close()
			if upstream != nil {
				upstream.Close()
			}
			return nil, err
		}
		excluded = &filteredProjects{r: m}
	}
	return pipeline.NewRemovedIter(p, upstream, excluded), nil
}

// filteredProjects reads the normalized names of the projects scan metadata
// found excluded by a project filter (its "filter" rows, in project order).
type filteredProjects struct{ r *pipeline.ManifestReader }

func (f *filteredProjects) Next() ([]string, error) {
	for {
		row, err := f.r.Next()
		if err != nil {
			return nil, err
		}
		if row[pipeline.ProblemStage] == problemStageFilter {
			return []string{projectOfPath(row[pipeline.ProblemPath])}, nil
		}
	}
}

func (f *filteredProjects) Close() error { return f.r.Close() }

// projectOfPath is the normalized project a metadata path belongs to:
// web/json/<name>, web/pypi/<name>/json, or a simple folder.
func projectOfPath(path string) string {
	rest := strings.TrimSuffix(strings.TrimSuffix(path, "/json"), "/")
	if i := strings.LastIndexByte(rest, '/'); i >= 0 {
		rest = rest[i+1:]
	}
	return sources.Normalize(rest)
}

func countRemoved(state *pipeline.State, from removalSources) (local, removed, excluded int64, err error) {
	it, err := openRemoved(state, from)
	if err != nil {
		return 0, 0, 0, err
	}
	defer it.Close()
	for {
		if _, err := it.Next(); err == io.EOF {
			return it.Local, removed, it.Excluded, nil
		} else if err != nil {
			return 0, 0, 0, err
		}
		removed++
	}
}

func countRows(state *pipeline.State, manifest string) (int64, error) {
	sf, err := state.StageFile(manifest)
	if err != nil {
		return 0, err
	}
	return sf.Rows, nil
}

// countProblems counts metadata problems that no fallback resolved.
func countProblems(state *pipeline.State) (int64, error) {
	var n int64
	err := state.EachRow("problems/metadata", func(row []string) error {
		if row[pipeline.ProblemFallback] == "" {
			n++
		}
		return nil
	})
	var ue *pipeline.UsageError
	if errors.As(err, &ue) {
		return 0, nil // no such manifest: no problems
	}
	return n, err
}

// writeRemovals lists the metadata files and simple folders of removed projects.
func writeRemovals(state *pipeline.State, from removalSources, st *pipeline.Stage, hashIndex bool) (int64, error) {
	it, err := openRemoved(state, from)
	if err != nil {
		return 0, err
	}
	defer it.Close()
	var n int64
	for {
		p, err := it.Next()
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		norm, name := p[0], p[1]
		paths := []string{"web/json/" + name, "web/pypi/" + name + "/", sources.SimplePath(norm, hashIndex)}
		for _, path := range paths {
			if err := st.Write(2, norm, path); err != nil {
				return n, err
			}
			n++
		}
		if err := st.EndUnit(norm); err != nil {
			return n, err
		}
	}
}
