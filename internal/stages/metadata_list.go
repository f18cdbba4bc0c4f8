package stages

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/bandercheck/bandercheck/internal/partition"
	"github.com/bandercheck/bandercheck/internal/store"
	"github.com/bandercheck/bandercheck/pipeline"
	"github.com/bandercheck/bandercheck/sources"
)

// projectRef is every place a project's metadata may live, grouped by normal name.
type projectRef struct {
	normalized string
	jsonNames  []string // names under web/json/
	pypiNames  []string // names under web/pypi/ (a folder holding json)
	simple     bool     // web/simple/<normalized>/ (or hash-index) exists
	badName    string   // a listed name that is not valid UTF-8
}

// Sources of listed names, as stored in the name sorter.
const (
	fromJSON   = "json"
	fromPyPI   = "pypi"
	fromSimple = "simple"
)

// listProjects lists web/json, web/pypi and web/simple into a sorter keyed by
// normal name, so that every project is seen once, in normalized order,
// whichever of the three places it is in, keeping the names in part. Memory
// holds the sorter's budget.
func listProjects(ctx context.Context, ms store.Reader, tmp string, hashIndex bool, part partition.Range) (*pipeline.Sorter, map[string]int64, error) {
	s := pipeline.NewSorter(tmp, 32<<20, 3, func(r []string) string { return r[0] })
	counts := map[string]int64{}
	add := func(source string) func(string, bool) error {
		return func(name string, dir bool) error {
			if source == fromJSON && dir || source != fromJSON && !dir || strings.HasPrefix(name, ".") {
				return nil // a name beginning with "." is a sync's temp file, never a project
			}
			norm := sources.Normalize(name)
			if !utf8.ValidString(name) {
				norm = "\x00" + name // sorts first; reported as a problem
			}
			if !part.Has(norm) {
				return nil
			}
			counts[source]++
			return s.Add([]string{norm, name, source})
		}
	}
	if err := ms.Names(ctx, "web/json/", add(fromJSON)); err != nil {
		return s, counts, err
	}
	if err := ms.Names(ctx, "web/pypi/", add(fromPyPI)); err != nil {
		return s, counts, err
	}
	if !hashIndex {
		return s, counts, ms.Names(ctx, "web/simple/", add(fromSimple))
	}
	var shards []string
	if err := ms.Names(ctx, "web/simple/", func(n string, dir bool) error {
		if dir {
			shards = append(shards, n)
		}
		return nil
	}); err != nil {
		return s, counts, err
	}
	for _, c := range shards {
		if err := ms.Names(ctx, "web/simple/"+c+"/", add(fromSimple)); err != nil {
			return s, counts, err
		}
	}
	return s, counts, nil
}

// groupRefs turns the sorted names into one projectRef per normal name,
// starting after cursor.
func groupRefs(rows pipeline.RowReader, after string, emit func(projectRef) error) error {
	var cur *projectRef
	flush := func() error {
		if cur == nil || cur.normalized <= after {
			return nil
		}
		return emit(*cur)
	}
	for {
		row, err := rows.Next()
		if err == io.EOF {
			return flush()
		}
		if err != nil {
			return err
		}
		norm, name, source := row[0], row[1], row[2]
		if cur == nil || cur.normalized != norm {
			if err := flush(); err != nil {
				return err
			}
			cur = &projectRef{normalized: norm}
			if strings.HasPrefix(norm, "\x00") {
				cur.badName = name
			}
		}
		switch source {
		case fromJSON:
			cur.jsonNames = appendNew(cur.jsonNames, name)
		case fromPyPI:
			cur.pypiNames = appendNew(cur.pypiNames, name)
		case fromSimple:
			cur.simple = true
		}
	}
}

func appendNew(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

// detectHashIndex tells whether web/simple holds one-character folders only.
func detectHashIndex(ctx context.Context, ms store.Reader) (bool, error) {
	seen, long := 0, false
	errStop := fmt.Errorf("stop")
	err := ms.Names(ctx, "web/simple/", func(n string, dir bool) error {
		if !dir {
			return nil
		}
		seen++
		if utf8.RuneCountInString(n) > 1 {
			long = true
			return errStop
		}
		return nil
	})
	if err != nil && err != errStop {
		return false, err
	}
	return seen > 0 && !long, nil
}
