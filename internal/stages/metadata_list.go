package stages

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/sync/errgroup"

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
// whichever of the three places it is in, keeping the names in part. memory
// is the sorter's budget. On a store that lists each object's identity
// (S3, an objectNamer) the documents' identities come along: web/json's
// from its listing, the simple pages' from a listing of web/simple without
// a delimiter (two keys a project instead of one).
func listProjects(ctx context.Context, ms store.Reader, tmp string, memory int64, hashIndex bool, part partition.Range) (*pipeline.Sorter, map[string]int64, error) {
	// the sorted names are read through the whole scan: four runs open at
	// most (all of upstream spilled some 50, whose readers held 37 MiB for
	// the scan's eight minutes)
	sorter := pipeline.NewSorter(tmp, memory, 4, 0).WithFanIn(listFanIn)
	// the three folders are listed at once (each is pages one after the
	// other: at 20 ms a request that was most of the listing's time); the
	// sorter orders their rows whatever order they come in
	s := &lockedAdder{s: sorter, counts: map[string]int64{}}
	counts := s.counts
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
			id := ""
			if source == fromJSON {
				id = documentID(o)
			}
			return s.add(source, []string{norm, name, source, id})
		}
	}
	names := func(prefix string, fn func(string, bool, store.Object) error) error {
		if on, ok := ms.(objectNamer); ok {
			return on.NameObjects(ctx, prefix, fn)
		}
		return ms.Names(ctx, prefix, func(name string, dir bool) error { return fn(name, dir, store.Object{}) })
	}
	listSimple := func() error {
		if _, ok := ms.(objectNamer); ok {
			return listSimpleFiles(ctx, ms, s, hashIndex, part)
		}
		if !hashIndex {
			return names("web/simple/", add(fromSimple))
		}
		var shards []string
		if err := ms.Names(ctx, "web/simple/", func(n string, dir bool) error {
			if dir {
				shards = append(shards, n)
			}
			return nil
		}); err != nil {
			return err
		}
		for _, c := range shards {
			if err := names("web/simple/"+c+"/", add(fromSimple)); err != nil {
				return err
			}
		}
		return nil
	}
	g, gctx := errgroup.WithContext(ctx)
	ctx = gctx
	g.Go(func() error { return names("web/json/", add(fromJSON)) })
	g.Go(func() error { return names("web/pypi/", add(fromPyPI)) })
	g.Go(listSimple)
	return sorter, counts, g.Wait()
}

// listFanIn is the most runs of the listing scan metadata reads at once.
const listFanIn = 4

// lockedAdder is listProjects' sorter and counts, shared by its listings.
type lockedAdder struct {
	mu     sync.Mutex
	s      *pipeline.Sorter
	counts map[string]int64 // rows by source, simple files not counted
}

// add adds one row of source (simpleFile rows are not counted).
func (a *lockedAdder) add(source string, row []string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if source != simpleFile {
		a.counts[source]++
	}
	return a.s.Add(row)
}

// simpleFile is the sorter's source of a simple page listed with its identity.
const simpleFile = "simple-file"

// listSimpleFiles lists every project's simple pages with their identities
// into the sorter: a row for each folder (as a plain listing gives) and one
// for each of its index.v1_json and index.html.
func listSimpleFiles(ctx context.Context, ms store.Reader, s *lockedAdder, hashIndex bool, part partition.Range) error {
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
			if err := s.add(fromSimple, []string{norm, name, fromSimple, ""}); err != nil {
				return err
			}
		}
		if file != "index.v1_json" && file != "index.html" {
			return nil
		}
		return s.add(simpleFile, []string{norm, o.Key, simpleFile, documentID(o)})
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
