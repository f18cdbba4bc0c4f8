package stages

import (
	"errors"
	"io"

	"github.com/bandercheck/bandercheck/pipeline"
	"github.com/bandercheck/bandercheck/sources"
)

// openRemoved merges the projects manifest against upstream.
func openRemoved(state string) (*pipeline.RemovedIter, error) {
	p, err := pipeline.OpenManifest(state, "projects")
	if err != nil {
		return nil, err
	}
	u, err := pipeline.OpenManifest(state, "upstream")
	if err != nil {
		p.Close()
		return nil, err
	}
	return pipeline.NewRemovedIter(p, u), nil
}

func countRemoved(state string) (local, removed int64, err error) {
	it, err := openRemoved(state)
	if err != nil {
		return 0, 0, err
	}
	defer it.Close()
	for {
		if _, err := it.Next(); err == io.EOF {
			return it.Local, removed, nil
		} else if err != nil {
			return 0, 0, err
		}
		removed++
	}
}

func countRows(state, manifest string) (int64, error) {
	sf, err := pipeline.ReadStageFile(state, manifest)
	if err != nil {
		return 0, err
	}
	return sf.Rows, nil
}

// countProblems counts metadata problems that no fallback resolved.
func countProblems(state string) (int64, error) {
	var n int64
	err := pipeline.EachRow(state, "problems/metadata", func(row []string) error {
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
func writeRemovals(state string, st *pipeline.Stage, hashIndex bool) (int64, error) {
	it, err := openRemoved(state)
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
