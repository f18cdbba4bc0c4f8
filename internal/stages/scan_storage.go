package stages

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bandercheck/bandercheck/internal/store"
	"github.com/bandercheck/bandercheck/internal/work"
	"github.com/bandercheck/bandercheck/pipeline"
)

// ScanStorage lists web/packages into the storage manifest.
type ScanStorageOptions struct {
	// Jobs is how many folders are listed at once, and files hashed at
	// once on a disk (on S3 the store's request window bounds the work).
	Jobs int
	// Hash fills the sha256 column (HashNone: it stays empty).
	Hash HashMode
	// RehashAfter reads a file again once its digest is this old, spread so
	// that each run reads an even share (a rolling scrub); 0: never.
	RehashAfter Days
	// Fresh discards the stage's earlier output (the last finished storage
	// manifest is kept in STATE/previous for Hash to reuse).
	Fresh bool

	now func() time.Time // the clock, for tests
	// resumed is the mode a bare --hash keeps on resume: the one the state
	// was started with (an S3 state started when bare --hash meant metadata
	// goes on with metadata rather than being refused).
	resumed HashMode
}

// DefaultScanStorageOptions are scan storage's defaults.
func DefaultScanStorageOptions() ScanStorageOptions {
	return ScanStorageOptions{Jobs: 16, RehashAfter: Days(30 * 24 * time.Hour)}
}

const packagesPrefix = "web/packages/"

// stagingPrefix is where apply stages downloads on POSIX: never listed.
const stagingPrefix = packagesPrefix + store.TempDir + "/"

// Validate refuses options no scan can run with.
func (c ScanStorageOptions) Validate() error {
	if c.Jobs < 1 || c.Jobs > MaxJobs {
		return usage("--jobs %d: give 1 to %d", c.Jobs, MaxJobs)
	}
	return c.Hash.Validate()
}

// Run implements the command.
func (c *ScanStorageOptions) Run(ctx context.Context, g *Env) (ScanStorageResult, error) {
	var res ScanStorageResult
	err := c.run(ctx, g, &res)
	return res, err
}

func (c *ScanStorageOptions) run(ctx context.Context, g *Env, res *ScanStorageResult) error {
	if err := c.Validate(); err != nil {
		return err
	}
	ms, loc, st, err := c.open(ctx, g)
	if err != nil {
		return err
	}
	defer closeStore(ms)
	defer st.Close()
	if st.Done() {
		logf(g, "scan storage: done already (%d files); pass --fresh to scan again", st.Rows(0))
		return nil
	}
	hash, full := c.hashMode(loc)
	if !full {
		// What a listing or reusing scan holds is listed batches that die
		// within moments; a lower GC target keeps the peak near that live set
		// (1.2M files: 54 MiB instead of 64, no slower). --hash=full keeps
		// the default: its CPU goes to sha256, and it peaks at 60 MiB anyway.
		defer lowerGCPercent(60)()
	}
	sc := &storageScan{ms: ms, st: st, keys: g.Partition.Keys(), jobs: c.Jobs}
	if hash != HashNone && !full {
		if sc.prev, err = openPreviousStorage(g, loc.String()); err != nil {
			return err
		}
		defer sc.prev.Close()
	}
	now := time.Now
	if c.now != nil {
		now = c.now
	}
	scrub := rehashPolicy{every: time.Duration(c.RehashAfter), now: now()}
	sc.rep = g.reporter("scan storage", "files")
	sc.rep.Add(st.Rows(0), 0)
	defer sc.rep.Finish()

	if hash == HashNone {
		err = sc.list(ctx, func(it storageItem) error { return sc.write(classify(it.obj)) })
	} else {
		if hash == HashContent && sc.prev == nil {
			ctx = store.WithoutStat(ctx) // nothing to reuse: Hash's fstat gives each row its size and date
		}
		if hash.etagMode() {
			if hash, err = calibrate(ctx, g, ms, hash); err != nil {
				return fmt.Errorf("scan storage of %s: %w", ms, err)
			}
		}
		err = work.OrderedMapQuick(ctx, requestWorkers(ms, c.Jobs), sc.list,
			func(it storageItem) (storageResult, bool) {
				if hash.etagMode() {
					if r, ok := etagQuick(it, hash, scrub); ok {
						return r, true
					}
				}
				return reuse(it, hash, scrub)
			},
			func(ctx context.Context, it storageItem) (storageResult, error) {
				return hashObject(ctx, ms, hash, it.obj, scrub.now)
			},
			sc.write)
	}
	if err != nil {
		return fmt.Errorf("scan storage of %s: %w", ms, err)
	}
	if hash != HashNone {
		logf(g, "scan storage: %s", sc.tally)
		// a copy: a pointer into sc kept the scan, its stage and that
		// stage's list of every shard it wrote (their names and cursors,
		// strings made amid the listing, one to a span) alive in run into
		// the stages after it: at 10% of PyPI scan upstream started with
		// 5.6 MB of spans unused around them, 2.8 without
		// (TestRunHoldsNothingOfScanStorage)
		tally := sc.tally
		tally.Oldest = strings.Clone(tally.Oldest)
		res.Hashing = &tally
	}
	return st.Finish()
}

// hashMode is the mode Hash means on this store, and whether it is full
// (content, every file read, no digest reused).
func (c *ScanStorageOptions) hashMode(loc Location) (hash HashMode, full bool) {
	hash = c.Hash.resolve(loc.IsS3())
	if c.resumed != "" {
		hash = c.resumed
	}
	if hash == HashFull {
		return HashContent, true
	}
	return hash, false
}

// open opens the store and the stage, after the checks that STATE was made
// for this scan: the hash mode and the partition must not change on resume.
func (c *ScanStorageOptions) open(ctx context.Context, g *Env) (store.Store, Location, *pipeline.Stage, error) {
	ms, loc, err := g.openStore(ctx)
	if err != nil {
		return nil, loc, nil, err
	}
	if err := requirePackages(ctx, ms); err != nil {
		return nil, loc, nil, err
	}
	run, _, err := g.openRun()
	if err != nil {
		return nil, loc, nil, err
	}
	if old := HashMode(run.Option("storage.hash")); c.Hash == HashDefault && !c.Fresh && old.Validate() == nil && old != HashNone && old != HashFull {
		if old != c.Hash.resolve(loc.IsS3()) {
			logf(g, "scan storage: this state was started with --hash=%s, which a bare --hash goes on with", old)
		}
		c.resumed = old
	}
	hash, _ := c.hashMode(loc)
	if err := errors.Join(run.Require("storage.hash", string(hash), c.Fresh),
		run.Require("partition", g.Partition.String(), c.Fresh)); err != nil {
		return nil, loc, nil, err
	}
	if c.Fresh {
		if err := g.StateDir().KeepPrevious(loc.String()); err != nil {
			return nil, loc, nil, err
		}
	}
	st, err := g.StateDir().Stage("scan storage", c.Fresh, g.stageOptions(),
		pipeline.MustSpec("storage"), pipeline.MustSpec("problems/storage"))
	return ms, loc, st, err
}

// previousStorage reads the last finished storage manifest (STATE/previous)
// in step with the listing: both are in path order, so memory holds a row.
type previousStorage struct {
	r   *pipeline.ManifestReader
	row []string
	eof bool
	g   *Env
}

// openPreviousStorage opens STATE/previous/storage when it describes this
// mirror, or returns nil: nothing to reuse.
func openPreviousStorage(g *Env, mirror string) (*previousStorage, error) {
	if g.StateDir().PreviousMirror() != mirror {
		return nil, nil
	}
	r, err := g.StateDir().Previous().Manifest("storage")
	if err != nil {
		logf(g, "scan storage: the previous storage manifest cannot be read (%v); every file is read", err)
		return nil, nil
	}
	return &previousStorage{r: r, g: g}, nil
}

// lookup returns the previous row of key, or nil; keys come in order.
func (p *previousStorage) lookup(key string) ([]string, error) {
	for !p.eof && (p.row == nil || p.row[pipeline.StoragePath] < key) {
		row, err := p.r.Next()
		if err == io.EOF {
			p.eof = true
			break
		}
		if err != nil { // a damaged previous manifest: read everything from here
			logf(p.g, "scan storage: the previous storage manifest stops being readable (%v); the files after it are read", err)
			p.eof = true
			break
		}
		p.row = slices.Clone(row)
	}
	if !p.eof && p.row[pipeline.StoragePath] == key {
		return p.row, nil
	}
	return nil, nil
}

// Close closes the manifest.
func (p *previousStorage) Close() error {
	if p == nil {
		return nil
	}
	return p.r.Close()
}

// storageItem is a listed object with the previous manifest's row for its path.
type storageItem struct {
	obj  store.Object
	prev []string
}

// storageRow is a storage manifest row.
func storageRow(r storageResult) []string {
	o := r.obj
	inode, ctime := "", ""
	if o.Inode != 0 {
		inode = strconv.FormatUint(o.Inode, 10)
	}
	if !o.Changed.IsZero() {
		ctime = o.Changed.UTC().Format(time.RFC3339Nano)
	}
	return []string{o.Key, strconv.FormatInt(o.Size, 10), o.Modified.UTC().Format(time.RFC3339), r.sha256, r.hashedAt, inode, ctime, o.ETag, r.verified}
}

// reuse takes the previous digest of an object that cannot have changed:
// the same size, date and, on POSIX, inode and ctime (S3: ETag), with a
// digest the rolling scrub does not yet want read again.
func reuse(it storageItem, mode HashMode, scrub rehashPolicy) (storageResult, bool) {
	p, o := it.prev, it.obj
	if p == nil || o.Kind != store.Regular || p[pipeline.StorageSHA256] == "" {
		return storageResult{}, false
	}
	current := storageRow(storageResult{obj: o})
	for _, i := range []int{pipeline.StorageSize, pipeline.StorageModified, pipeline.StorageInode, pipeline.StorageCtime, pipeline.StorageETag} {
		if p[i] != current[i] {
			return storageResult{}, false
		}
	}
	if current[pipeline.StorageInode] == "" && current[pipeline.StorageETag] == "" {
		return storageResult{}, false // nothing but size and date to go by
	}
	if mode == HashContent && scrub.due(o.Key, p[pipeline.StorageHashedAt]) {
		return storageResult{}, false
	}
	verified := p[pipeline.StorageVerified]
	if verified == "" || verified == pipeline.VerifiedETag {
		verified = pipeline.VerifiedContent
		if p[pipeline.StorageHashedAt] == "" {
			verified = pipeline.VerifiedMetadata // S3 metadata digests carry no computing date
		}
	}
	if verified == pipeline.VerifiedMetadata && (mode == HashContent || mode == HashETagContent) {
		return storageResult{}, false // a mode that reads content never takes the uploader's claim for it
	}
	current[pipeline.StorageSHA256], current[pipeline.StorageHashedAt], current[pipeline.StorageVerified] = p[pipeline.StorageSHA256], p[pipeline.StorageHashedAt], verified
	return storageResult{obj: o, sha256: p[pipeline.StorageSHA256], hashedAt: p[pipeline.StorageHashedAt], reused: true, verified: verified, row: current}, true
}

// ScanStorageResult is what one scan storage did, for run's report.
type ScanStorageResult struct {
	// Hashing is what the scan read and reused; nil when it hashed nothing
	// (no --hash) or had finished in an earlier run.
	Hashing *HashTally
}

// HashTally counts what a hashing scan storage read and reused.
type HashTally struct {
	Read, Reused int64
	ETag         int64  // objects left to plan to prove by their ETag
	Oldest       string // the oldest hashed_at of the rows
}

func (t *HashTally) add(r storageResult) {
	switch {
	case r.verified == pipeline.VerifiedETag:
		t.ETag++
	case r.reused:
		t.Reused++
	case r.sha256 != "":
		t.Read++
	}
	if r.hashedAt != "" && (t.Oldest == "" || r.hashedAt < t.Oldest) {
		t.Oldest = r.hashedAt
	}
}

func (t HashTally) String() string {
	s := fmt.Sprintf("%d digests reused, %d files read", t.Reused, t.Read)
	if t.ETag > 0 {
		s += fmt.Sprintf(", %d objects to prove by their listed ETag (no request each)", t.ETag)
	}
	if t.Oldest == "" {
		return s + "; no digest has a computing date (S3 metadata digests have none)"
	}
	return s + "; the oldest digest left was computed " + t.Oldest
}

// rehashPolicy is the rolling scrub: each path has a phase within the
// period, from a hash of the path, and is read again once a phase point
// has passed since its digest was computed. So every file is read once a
// period, and each run between two points reads the share whose phase
// falls between them, not everything at once a period after a full scan.
type rehashPolicy struct {
	every time.Duration
	now   time.Time
}

func (r rehashPolicy) due(key, hashedAt string) bool {
	if r.every <= 0 {
		return false
	}
	t, err := time.Parse(time.RFC3339, hashedAt)
	if err != nil || t.After(r.now) {
		return true // unreadable, or from the future (a clock gone wrong): never carried on
	}
	period := int64(r.every / time.Second)
	if period <= 0 {
		return true
	}
	h := fnv.New64a()
	h.Write([]byte(key))
	phase := int64(h.Sum64() % uint64(period))
	now := r.now.Unix()
	slot := now - ((now-phase)%period+period)%period // the last phase point at or before now
	return t.Unix() < slot
}

// dotNamer is a store that can list the names beginning with "." of a
// folder without listing the whole folder.
type dotNamer interface {
	DotNames(ctx context.Context, prefix string, fn func(name string, dir bool) error) error
}

// maxLeftovers bounds the temp files listed in one metadata folder.
const maxLeftovers = 100_000

// listLeftovers lists, sorted, the files directly in a metadata folder
// (web/json/, web/pypi/, web/simple/) whose names begin with ".": the temp
// files of a sync that was killed while rewriting a document, never
// projects. As storage rows they are planned for deletion like any unowned
// file, under the grace guard.
func listLeftovers(ctx context.Context, ms store.Reader, prefix, after string, emit func(store.Object) error) error {
	var keys []string
	names := ms.Names
	if d, ok := ms.(dotNamer); ok {
		names = d.DotNames // S3: only what begins with "."
	}
	err := names(ctx, prefix, func(name string, dir bool) error {
		if dir || !strings.HasPrefix(name, ".") || name == ".lock" || name == ".s3keep" {
			return nil
		}
		if len(keys) >= maxLeftovers {
			return fmt.Errorf("more than %d temp files (names beginning with \".\") in %s: look at what writes them", maxLeftovers, prefix)
		}
		if key := prefix + name; key > after {
			keys = append(keys, key)
		}
		return nil
	})
	if err != nil {
		return err
	}
	slices.Sort(keys)
	for _, key := range keys {
		o, err := ms.Stat(ctx, key)
		if errors.Is(err, os.ErrNotExist) {
			continue // gone meanwhile
		}
		if err != nil {
			return fmt.Errorf("stat %s: %w", key, err)
		}
		if err := emit(o); err != nil {
			return err
		}
	}
	return nil
}

// crNameProblem is the problem of a stored name holding a carriage return.
const crNameProblem = "name holds a carriage return, which the manifests cannot keep apart from a line feed: never planned, downloaded or deleted; rename or remove it by hand"

type storageResult struct {
	obj      store.Object
	sha256   string
	hashedAt string // when sha256 was computed from the content; "" for stored metadata
	reused   bool
	verified string // the verified column: pipeline.VerifiedETag, …Metadata, …Content or ""
	problem  string
	row      []string // the manifest row, when already formatted
}

func classify(o store.Object) storageResult {
	if strings.IndexByte(o.Key, '\r') >= 0 {
		// CSV reads "\r\n" in a field back as "\n": x\r\ny would become x\ny,
		// and two rows would sort as one
		return storageResult{obj: o, problem: crNameProblem}
	}
	switch o.Kind {
	case store.Symlink:
		return storageResult{obj: o, problem: "symbolic link: never followed, listed or deleted"}
	case store.Other:
		return storageResult{obj: o, problem: "not a regular file: never listed or deleted"}
	}
	return storageResult{obj: o}
}

// hashObject fills the sha256 of a regular file; a file that vanished becomes a problem row.
func hashObject(ctx context.Context, ms store.Reader, mode HashMode, o store.Object, now time.Time) (storageResult, error) {
	r := classify(o)
	if r.problem != "" {
		return r, nil
	}
	if mode == HashMetadata || mode == HashETag {
		// (etag: an object whose ETag is no MD5 falls back to its metadata)
		sum, err := ms.StoredSHA256(ctx, o.Key)
		if errors.Is(err, os.ErrNotExist) {
			return storageResult{obj: o, problem: "removed while scanning"}, nil
		}
		r.sha256 = sum
		if sum != "" {
			r.verified = pipeline.VerifiedMetadata
		}
		return r, err
	}
	read, sum, err := store.HashObject(ctx, ms, o.Key, o.Size)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return storageResult{obj: o, problem: "removed while scanning"}, nil
	case errors.Is(err, store.ErrNotRegular):
		return storageResult{obj: o, problem: "not a regular file, or a link on the way (since it was listed): never read or deleted"}, nil
	case err != nil:
		return r, fmt.Errorf("hash %s: %w", o.Key, err)
	}
	// the row describes what was hashed: its size and date from the open file
	return storageResult{obj: read, sha256: sum, hashedAt: now.UTC().Format(time.RFC3339), verified: pipeline.VerifiedContent}, nil
}

// requirePackages fails clearly when the mirror has no web/packages.
func requirePackages(ctx context.Context, ms store.Reader) error {
	ok, err := ms.HasFolder(ctx, packagesPrefix)
	if err != nil {
		return err
	}
	if !ok {
		return &pipeline.UsageError{Msg: fmt.Sprintf("mirror %s has no web/packages/ folder: is --mirror the bandersnatch directory (the one holding web/)?", ms)}
	}
	return nil
}
