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
	// listed is, on S3, the project's documents as listed, with their identity
	listed []listedDoc

	prev        []string // the previous scan's projects row, when there is one
	prevSkipped int64    // problem rows of previous projects passed over before this one
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
// holds the sorter's budget. On a store that lists each object's identity
// (S3, an objectNamer) the documents' identities come along: web/json's
// from its listing, the simple pages' from a listing of web/simple without
// a delimiter (two keys a project instead of one).
func listProjects(ctx context.Context, ms store.Reader, tmp string, hashIndex bool, part partition.Range) (*pipeline.Sorter, map[string]int64, error) {
	s := pipeline.NewSorter(tmp, 32<<20, 4, func(r []string) string { return r[0] })
	counts := map[string]int64{}
	add := func(source string) func(string, bool, store.Object) error {
		return func(name string, dir bool, o store.Object) error {
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
			id := ""
			if source == fromJSON {
				id = documentID(o)
			}
			return s.Add([]string{norm, name, source, id})
		}
	}
	names := func(prefix string, fn func(string, bool, store.Object) error) error {
		if on, ok := ms.(objectNamer); ok {
			return on.NameObjects(ctx, prefix, fn)
		}
		return ms.Names(ctx, prefix, func(name string, dir bool) error { return fn(name, dir, store.Object{}) })
	}
	if err := names("web/json/", add(fromJSON)); err != nil {
		return s, counts, err
	}
	if err := names("web/pypi/", add(fromPyPI)); err != nil {
		return s, counts, err
	}
	if _, ok := ms.(objectNamer); ok {
		return s, counts, listSimpleFiles(ctx, ms, s, hashIndex, part, counts)
	}
	if !hashIndex {
		return s, counts, names("web/simple/", add(fromSimple))
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
		if err := names("web/simple/"+c+"/", add(fromSimple)); err != nil {
			return s, counts, err
		}
	}
	return s, counts, nil
}

// simpleFile is the sorter's source of a simple page listed with its identity.
const simpleFile = "simple-file"

// listSimpleFiles lists every project's simple pages with their identities
// into the sorter: a row for each folder (as a plain listing gives) and one
// for each of its index.v1_json and index.html.
func listSimpleFiles(ctx context.Context, ms store.Reader, s *pipeline.Sorter, hashIndex bool, part partition.Range, counts map[string]int64) error {
	last := ""
	return ms.List(ctx, "web/simple/", "", func(o store.Object) error {
		rel := strings.TrimPrefix(o.Key, "web/simple/")
		if hashIndex {
			c, rest, ok := strings.Cut(rel, "/")
			if !ok || strings.HasPrefix(c, ".") {
				return nil
			}
			rel = rest
		}
		name, file, ok := strings.Cut(rel, "/")
		if !ok || name == "" || strings.HasPrefix(name, ".") {
			return nil
		}
		norm := sources.Normalize(name)
		if !utf8.ValidString(name) {
			norm = "\x00" + name
		}
		if !part.Has(norm) {
			return nil
		}
		folder := strings.TrimSuffix(o.Key, file)
		if folder != last {
			last = folder
			counts[fromSimple]++
			if err := s.Add([]string{norm, name, fromSimple, ""}); err != nil {
				return err
			}
		}
		if file != "index.v1_json" && file != "index.html" {
			return nil
		}
		return s.Add([]string{norm, o.Key, simpleFile, documentID(o)})
	})
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
		norm, name, source, id := row[0], row[1], row[2], row[3]
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
			if id != "" {
				cur.listed = append(cur.listed, listedDoc{key: "web/json/" + name, id: id})
			}
		case simpleFile:
			cur.listed = append(cur.listed, listedDoc{key: name, id: id})
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
