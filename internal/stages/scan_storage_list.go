package stages

import (
	"context"
	"path"
	"strings"

	"github.com/bandercheck/bandercheck/internal/partition"
	"github.com/bandercheck/bandercheck/internal/progress"
	"github.com/bandercheck/bandercheck/internal/store"
	"github.com/bandercheck/bandercheck/pipeline"
)

// storageScan is one scan storage: what it lists, and where its rows go.
type storageScan struct {
	ms    store.Store
	st    *pipeline.Stage
	keys  partition.Range  // the part of web/packages listed
	jobs  int              // folders listed at once
	prev  *previousStorage // the last finished manifest, when digests may be reused
	rep   progress.Reporter
	tally HashTally
}

// write records one listed object: a storage row, or a problem row.
func (sc *storageScan) write(r storageResult) error {
	o := r.obj
	if r.problem != "" {
		if err := sc.st.Write(1, o.Key, "storage", r.problem, ""); err != nil {
			return err
		}
		return sc.st.EndUnit(o.Key)
	}
	row := r.row
	if row == nil {
		row = storageRow(r)
	}
	if err := sc.st.Write(0, row...); err != nil {
		return err
	}
	sc.tally.add(r)
	sc.rep.Add(1, o.Size)
	return sc.st.EndUnit(o.Key)
}

// list emits every object of the scan after the stage's cursor in path
// order, each with its previous row when there is one: web/json/.* <
// web/packages/ < web/pypi/.* < web/simple/.*; a partition's range starts
// and ends inside web/packages/.
func (sc *storageScan) list(ctx context.Context, emit func(storageItem) error) error {
	visit := func(o store.Object) error {
		it := storageItem{obj: o}
		if sc.prev != nil {
			row, err := sc.prev.lookup(o.Key)
			if err != nil {
				return err
			}
			it.prev = row
		}
		return emit(it)
	}
	// The resume point is read once, here: the writer moves the stage's
	// cursor while the listing runs (reading it later raced with EndUnit),
	// and every key listed after this point sorts after it anyway.
	from := sc.st.Cursor()
	if sc.keys.Lo == "" {
		if err := listLeftovers(ctx, sc.ms, "web/json/", from, visit); err != nil {
			return err
		}
	}
	err := store.ListRange(ctx, sc.ms, packagesPrefix, max(from, sc.keys.Lo), sc.keys.Hi, sc.jobs, func(o store.Object) error {
		if b := path.Base(o.Key); b == ".s3keep" || b == ".lock" || strings.HasPrefix(o.Key, stagingPrefix) {
			return nil // bandersnatch's markers, apply's staging folder
		}
		return visit(o)
	})
	for _, prefix := range []string{"web/pypi/", "web/simple/"} {
		if err == nil && sc.keys.Hi == "" {
			err = listLeftovers(ctx, sc.ms, prefix, from, visit)
		}
	}
	return err
}
