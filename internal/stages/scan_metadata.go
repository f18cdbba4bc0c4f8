package stages

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"

	"github.com/bandercheck/bandercheck/internal/work"
	"github.com/bandercheck/bandercheck/pipeline"
	"github.com/bandercheck/bandercheck/sources"
)

// ScanMetadata reads every project's metadata into projects, designated and problems/metadata.
type ScanMetadataOptions struct {
	// From is where file lists come from: "json" (web/json/*), "simple"
	// (each project's index.v1_json or index.html), or "": json, or simple
	// when the config says [mirror] json = false (bandersnatch's default).
	From string
	// Jobs is how many documents are read and parsed at once on a disk
	// (on S3 the store's request window).
	Jobs int
	// Fresh discards the stage's earlier output and scans from the start.
	Fresh bool
	// Memory is the scan's budget (--memory, plan's too): an eighth holds
	// the documents the workers have read whole and not yet written (a
	// larger one is streamed by the writer), an eighth the sort of the
	// project listing (it spills to STATE/tmp beyond it); the rest is the
	// rows in flight, the manifests' writers and the runtime. The runtime's
	// soft limit holds the whole scan at its two eighths and 16 MiB
	// (metadataHeap). Zero: the default, 256 MiB.
	Memory ByteSize
}

// metadataShare is the part of --memory that scan metadata gives each of
// its two buffers (documents in flight, the listing's sort): an eighth.
func metadataShare(memory ByteSize) int64 {
	if memory <= 0 {
		memory = DefaultPlanOptions().Memory
	}
	return int64(memory) / 8
}

// metadataHeap is the soft limit (holdHeap) of scan metadata: its two
// buffers (metadataShare each) and 16 MiB for the requests in flight, the
// writers and what is decoded and let go; 80 MiB at the default --memory.
// Without it the runtime's collector let the heap grow to twice what the
// scan holds: 113 / 119 / 127 MiB resident at 1% / 10% / 100% of PyPI,
// against 98 MiB at 1% and 10% with it. A smaller --memory is a smaller
// limit, paid in CPU when the scan's own needs come near it (at 128 MiB
// the limit is 48: 1% of PyPI then takes three times the CPU).
func metadataHeap(memory ByteSize) int64 {
	return 2*metadataShare(memory) + 16<<20
}

// DefaultScanMetadataOptions are scan metadata's defaults.
func DefaultScanMetadataOptions() ScanMetadataOptions {
	return ScanMetadataOptions{Jobs: 8, Memory: DefaultPlanOptions().Memory}
}

// Manifest indexes of the metadata stage.
const (
	mProjects = iota
	mDesignated
	mProblems
)

// metadataSource is --from, or where the config says the file lists are:
// the simple pages when it keeps no JSON ([mirror] json = false, the
// default), web/json otherwise and without a config.
func metadataSource(flag string, conf *sources.Config) string {
	switch {
	case flag != "":
		return flag
	case conf.Given && !conf.JSON:
		return fromSimple
	}
	return fromJSON
}

// Validate refuses options no scan can run with.
func (c ScanMetadataOptions) Validate() error {
	if c.Jobs < 1 || c.Jobs > MaxJobs {
		return usage("--jobs %d: give 1 to %d", c.Jobs, MaxJobs)
	}
	return checkFrom(c.From)
}

// checkFrom accepts the metadata sources --from names.
func checkFrom(from string) error {
	switch from {
	case "", fromJSON, fromSimple:
		return nil
	}
	return usage("--from %q: give json or simple", from)
}

// Run implements the command.
func (c *ScanMetadataOptions) Run(ctx context.Context, g *Env) (ScanMetadataResult, error) {
	var res ScanMetadataResult
	err := c.run(ctx, g, &res)
	return res, err
}

func (c *ScanMetadataOptions) run(ctx context.Context, g *Env, res *ScanMetadataResult) error {
	if err := c.Validate(); err != nil {
		return err
	}
	defer holdHeap(metadataHeap(c.Memory))()
	ms, loc, err := g.openStore(ctx)
	if err != nil {
		return err
	}
	defer closeStore(ms)
	conf, err := g.config()
	if err != nil {
		return err
	}
	hashIndex := conf.HashIndex
	if g.Config == "" {
		if hashIndex, err = detectHashIndex(ctx, ms); err != nil {
			return err
		}
	}
	run, _, err := g.openRun()
	if err != nil {
		return err
	}
	from := metadataSource(c.From, conf)
	if err := errors.Join(run.Require("metadata.from", from, c.Fresh),
		run.Require("metadata.hash-index", strconv.FormatBool(hashIndex), c.Fresh),
		run.Require("metadata.config", conf.Designation(), c.Fresh),
		run.Require("partition", g.Partition.String(), c.Fresh)); err != nil {
		return err
	}
	if c.Fresh {
		// the finished scan's rows, for this one to reuse
		if err := g.StateDir().KeepPreviousMetadata(loc.String()); err != nil {
			return err
		}
	}
	// projects has a row a project, designated some twenty: cut with
	// designated, its shards held about 420 rows (2,110 shards at full size)
	opt := g.stageOptions()
	opt.OwnCuts = []string{"projects"}
	st, err := g.StateDir().Stage("scan metadata", c.Fresh, opt,
		pipeline.MustSpec("projects"), pipeline.MustSpec("designated"), pipeline.MustSpec("problems/metadata"))
	if err != nil {
		return err
	}
	defer st.Close()
	if st.Done() {
		logf(g, "scan metadata: done already (%d projects, %d files); pass --fresh to scan again", st.Rows(mProjects), st.Rows(mDesignated))
		return nil
	}
	design := designationOf(conf, g.Config)
	fp := metadataFingerprint(from, hashIndex, design, conf.Designation(), g)
	if err := g.StateDir().RecordFingerprint(fp); err != nil {
		return err
	}
	prev, err := openPreviousMetadata(g, loc.String(), fp)
	if err != nil {
		return err
	}
	defer prev.Close()
	names, counts, err := listProjects(ctx, ms, filepath.Join(g.State, "tmp"), metadataShare(c.Memory), hashIndex, g.Partition.Names())
	if err != nil {
		return errors.Join(fmt.Errorf("scan metadata: list projects: %w", err), names.Close())
	}
	defer names.Close()
	sorted, err := names.Sort()
	if err != nil {
		return err
	}
	defer sorted.Close()

	rep := g.reporter("scan metadata", "projects")
	defer rep.Finish()
	rep.SetTotal(max(counts[fromJSON], counts[fromSimple])) // the larger listing: about one name a project
	rep.Add(st.Rows(mProjects), 0)

	_, listed := ms.(objectNamer)
	m := &metaScan{store: ms, from: from, hashIndex: hashIndex, design: design, listed: listed, mem: newScanBudget(metadataShare(c.Memory))}
	w := &stageSink{st: st}
	var tally metaTally
	reused := func(ref projectRef) projectOutcome { return projectOutcome{ref: ref, project: ref.prev, reused: true} }
	var quick func(projectRef) (projectOutcome, bool)
	if listed && prev != nil {
		quick = func(ref projectRef) (projectOutcome, bool) {
			// S3: the identities are in the listing, so no request decides
			if m.unchanged(ctx, ref, ref.prev) {
				return reused(ref), true
			}
			return projectOutcome{}, false
		}
	}
	err = work.OrderedMapQuick(ctx, requestWorkers(ms, c.Jobs),
		func(ctx context.Context, emit func(projectRef) error) error {
			return groupRefs(sorted, st.Cursor(), func(ref projectRef) error {
				if prev != nil {
					ref.prev, ref.prevSkipped = prev.lookup(ref.normalized)
				}
				return emit(ref)
			})
		},
		quick,
		func(ctx context.Context, ref projectRef) (projectOutcome, error) {
			if !listed && m.unchanged(ctx, ref, ref.prev) {
				return reused(ref), nil
			}
			var rows collected
			out, err := m.scan(ctx, ref, &rows, inlineLimit)
			if errors.Is(err, errTooLarge) {
				m.mem.give(out.held) // of a source read before the one too large
				return projectOutcome{ref: ref, deferred: true}, nil
			}
			out.rows = rows.rows
			return out, err
		},
		func(out projectOutcome) error {
			if out.reused {
				ok, err := prev.copyRows(st, out.ref.normalized, out.ref.prevSkipped, int64(problemCount(out.ref.prev)))
				if err != nil {
					return err
				}
				if ok {
					if err := st.Write(mProjects, out.project...); err != nil {
						return err
					}
					tally.reused++
					rep.Add(1, 0)
					return st.EndUnit(out.ref.normalized)
				}
				out.deferred = true // the previous rows failed: read it after all
			} else if prev != nil {
				skip := out.ref.prevSkipped
				if out.ref.prev != nil {
					skip += int64(problemCount(out.ref.prev))
				}
				prev.pass(skip)
			}
			if out.deferred {
				var err error
				if out, err = m.scan(ctx, out.ref, w, 0); err != nil {
					return err
				}
			}
			for _, r := range out.rows {
				if err := st.Write(mDesignated, r...); err != nil {
					return err
				}
			}
			for _, r := range out.problems {
				if err := st.Write(mProblems, r...); err != nil {
					return err
				}
			}
			if err := st.Write(mProjects, out.project...); err != nil {
				return err
			}
			tally.read++
			tally.documents += out.opened
			rep.Add(1, out.bytes)
			out.rows = nil
			m.mem.give(out.held)
			return st.EndUnit(out.ref.normalized)
		})
	if err != nil {
		return fmt.Errorf("scan metadata of %s: %w", ms, err)
	}
	use := m.mem.use()
	logf(g, "scan metadata: %s; documents read whole: at most %.1f MiB at once (budget %.0f MiB), %d left to the writer", tally,
		float64(use.peak)/(1<<20), float64(use.limit)/(1<<20), use.refused)
	*res = ScanMetadataResult{Scanned: true, Reused: tally.reused, Read: tally.read, Documents: tally.documents}
	return st.Finish()
}

// stageSink streams a large project's designated rows straight into the stage.
type stageSink struct{ st *pipeline.Stage }

func (s *stageSink) designated(row ...string) error { return s.st.Write(mDesignated, row...) }
func (s *stageSink) discard() error                 { return s.st.DiscardUnit() }
