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

	"github.com/bandercheck/bandercheck/internal/store"
	"github.com/bandercheck/bandercheck/pipeline"
)

// Metadata reuse: a project's projects, designated and problems/metadata
// rows depend on the listing's names for it (its shape), on the fingerprint
// (source, hash index, config) and on the bytes of the documents read. The
// projects manifest's documents column records the last two of one scan:
//
//	"<problem rows>"                          nothing to reuse (a document that could not be identified)
//	"<problem rows> <shape> <i>=<id> ..."     the shape's hash, and each document read: its index in
//	                                          the scan's sources and its identity before it was read
//
// A document's identity is on POSIX its size, mtime, inode and ctime (taken
// by lstat before it is opened: a change while it is read leaves a new ctime,
// so the next scan reads it again); on S3 its size and ETag from the listing.
// A later scan under the same fingerprint, of the same mirror, takes the rows
// of STATE/previous for every project whose shape and identities are equal,
// reading the previous manifests in step with the listing (both in
// normalized order): memory holds a row of each.

// objectNamer is a store whose folder listing gives each object's size and
// ETag at no extra request (S3): the documents are identified from it.
type objectNamer interface {
	NameObjects(ctx context.Context, prefix string, fn func(name string, dir bool, o store.Object) error) error
}

// listedDoc is a document's key and identity as listed.
type listedDoc struct{ key, id string }

// documentID is the identity of a stored document: "" for one that cannot be
// told from a changed one by its listing (a link, a FIFO, an S3 object
// without an ETag).
func documentID(o store.Object) string {
	if o.Kind != store.Regular {
		return ""
	}
	switch {
	case o.Inode != 0 && !o.Changed.IsZero():
		return fmt.Sprintf("%d.%d.%d.%d", o.Size, o.Modified.UnixNano(), o.Inode, o.Changed.UnixNano())
	case o.ETag != "" && !strings.ContainsAny(o.ETag, " =\t\r\n"):
		return strconv.FormatInt(o.Size, 10) + "." + o.ETag
	}
	return ""
}

// shapeOf is the hash of what the listing says of a project: its names
// under web/json and web/pypi (in the order the scan tries them), whether it
// has a simple folder.
func shapeOf(ref projectRef) string {
	h := fnv.New64a()
	for _, n := range ref.jsonNames {
		h.Write([]byte("j\x00" + n + "\x00"))
	}
	for _, n := range ref.pypiNames {
		h.Write([]byte("p\x00" + n + "\x00"))
	}
	if ref.simple {
		h.Write([]byte("s"))
	}
	return strconv.FormatUint(h.Sum64(), 36)
}

// docIdentity identifies the document of source src of ref as it is now:
// from the listing on S3, by lstat on POSIX. A simple folder is identified
// by the file a read would take: index.v1_json, else index.html (so an
// index.v1_json that appears is a change). "" when it cannot be identified
// (missing, a link, not listed).
func (m *metaScan) docIdentity(ctx context.Context, ref projectRef, src source) string {
	if !strings.HasSuffix(src.path, "/") {
		return m.fileIdentity(ctx, ref, src.path)
	}
	if id := m.fileIdentity(ctx, ref, src.path+"index.v1_json"); id != "" {
		return "v1:" + id
	}
	if m.exists(ctx, ref, src.path+"index.v1_json") {
		return "" // there but not identifiable
	}
	if id := m.fileIdentity(ctx, ref, src.path+"index.html"); id != "" {
		return "html:" + id
	}
	return ""
}

func (m *metaScan) fileIdentity(ctx context.Context, ref projectRef, key string) string {
	if m.listed {
		for _, d := range ref.listed {
			if d.key == key {
				return d.id
			}
		}
		return ""
	}
	o, err := m.store.Stat(ctx, key)
	if err != nil {
		return ""
	}
	return documentID(o)
}

func (m *metaScan) exists(ctx context.Context, ref projectRef, key string) bool {
	if m.listed {
		return slices.ContainsFunc(ref.listed, func(d listedDoc) bool { return d.key == key })
	}
	_, err := m.store.Stat(ctx, key)
	return !errors.Is(err, os.ErrNotExist)
}

// docRecord gathers the identities of the documents a scan of one project read.
type docRecord struct {
	ids     []string
	unknown bool // a document read could not be identified: nothing to reuse
}

func (d *docRecord) add(index int, id string) {
	if id == "" {
		d.unknown = true
		return
	}
	d.ids = append(d.ids, strconv.Itoa(index)+"="+id)
}

// documentsColumn is the projects row's documents column for an outcome.
func documentsColumn(ref projectRef, problems int, rec *docRecord) string {
	n := strconv.Itoa(problems)
	if rec == nil || rec.unknown || ref.badName != "" {
		return n
	}
	return strings.Join(append([]string{n, shapeOf(ref)}, rec.ids...), " ")
}

// allSources is every source scan may read of ref, in the order the
// documents column numbers them.
func (m *metaScan) allSources(ref projectRef) []source {
	primary, fallback := m.jsonSources(ref), []source{}
	if ref.simple {
		fallback = []source{m.simpleSource(ref)}
	}
	if m.from == fromSimple {
		primary, fallback = fallback, m.jsonSources(ref)
	}
	return append(primary, fallback...)
}

// sourceIndex is src's number among allSources(ref).
func (m *metaScan) sourceIndex(ref projectRef, src source) int {
	return slices.IndexFunc(m.allSources(ref), func(s source) bool { return s.path == src.path })
}

// problemCount is the problem rows a projects row's documents column says
// its project wrote; -1 when the column is not one of ours.
func problemCount(row []string) int {
	if len(row) <= pipeline.ProjectDocuments {
		return -1
	}
	first, _, _ := strings.Cut(row[pipeline.ProjectDocuments], " ")
	n, err := strconv.Atoi(first)
	if err != nil || n < 0 {
		return -1
	}
	return n
}

// unchanged tells whether ref's documents are those the previous projects
// row prev recorded, so that its rows can be taken as they are.
func (m *metaScan) unchanged(ctx context.Context, ref projectRef, prev []string) bool {
	if prev == nil || ref.badName != "" {
		return false
	}
	fields := strings.Fields(prev[pipeline.ProjectDocuments])
	if len(fields) < 2 || fields[1] != shapeOf(ref) {
		return false
	}
	all := m.allSources(ref)
	for _, f := range fields[2:] {
		i, id, ok := strings.Cut(f, "=")
		n, err := strconv.Atoi(i)
		if !ok || err != nil || n < 0 || n >= len(all) {
			return false
		}
		if m.docIdentity(ctx, ref, all[n]) != id {
			return false
		}
	}
	return true
}

// metadataFingerprint is everything besides the documents that scan
// metadata's rows depend on, the build that derived them included.
func metadataFingerprint(from string, hashIndex bool, design designation, configDesignation string, g *Env) string {
	return fmt.Sprintf("v1 from=%s hash-index=%t digest=%s config=%q path=%q partition=%s build=%q",
		from, hashIndex, design.digestName, configDesignation, design.configPath, g.Partition.String(), g.Build)
}

// previousMetadata reads STATE/previous's metadata manifests in step with a
// scan: projects in the producer (which project to try to reuse), designated
// and problems/metadata in the writer (the rows to copy or pass over).
type previousMetadata struct {
	g        *Env
	projects prevStream
	// listBroken: the projects manifest failed (the producer's; no more reuse)
	listBroken           bool
	designated, problems prevStream
	// copyBroken: designated or problems failed (the writer's; no more reuse)
	copyBroken bool
}

// prevStream is a manifest read one row ahead.
type prevStream struct {
	r   *pipeline.ManifestReader
	row []string
	eof bool
}

// peek returns the next row without taking it, nil at the end.
func (s *prevStream) peek() ([]string, error) {
	if s.row == nil && !s.eof {
		row, err := s.r.Next()
		if err == io.EOF {
			s.eof = true
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		s.row = slices.Clone(row)
	}
	return s.row, nil
}

func (s *prevStream) take() { s.row = nil }

// openPreviousMetadata opens STATE/previous's metadata manifests when they
// were finished for this mirror under fingerprint fp, or returns nil: nothing
// to reuse (and says why when something was there).
func openPreviousMetadata(g *Env, mirror, fp string) (*previousMetadata, error) {
	dir := g.StateDir().Previous()
	if g.StateDir().PreviousMirror() != mirror {
		return nil, nil
	}
	sf, err := dir.StageFile("projects")
	if err != nil {
		return nil, nil // none kept
	}
	if !slices.Equal(sf.Columns, pipeline.Columns["projects"]) {
		logf(g, "scan metadata: the previous scan's projects manifest has no documents column (an older version): every document is read")
		return nil, nil
	}
	if old := dir.Fingerprint(); old != fp {
		logf(g, "scan metadata: the source, hash index, config or partition changed since the previous scan: every document is read")
		return nil, nil
	}
	p := &previousMetadata{g: g}
	for _, s := range []struct {
		name string
		to   *prevStream
	}{{"projects", &p.projects}, {"designated", &p.designated}, {"problems/metadata", &p.problems}} {
		sf, err := dir.StageFile(s.name)
		if err == nil && sf.State != pipeline.StateDone {
			err = errors.New("unfinished")
		}
		var r *pipeline.ManifestReader
		if err == nil {
			r, err = dir.Manifest(s.name)
		}
		if err != nil {
			logf(g, "scan metadata: the previous %s manifest cannot be read (%v): every document is read", s.name, err)
			return nil, p.Close()
		}
		s.to.r = r
	}
	return p, nil
}

// Close closes the manifests.
func (p *previousMetadata) Close() error {
	if p == nil {
		return nil
	}
	var errs []error
	for _, s := range []*prevStream{&p.projects, &p.designated, &p.problems} {
		if s.r != nil {
			errs = append(errs, s.r.Close())
		}
	}
	return errors.Join(errs...)
}

// lookup returns the previous projects row of normalized name key (nil when
// there is none) and the problem rows of the previous projects passed over
// before it. Keys come in order. A damaged manifest ends the reuse.
func (p *previousMetadata) lookup(key string) (row []string, skipped int64) {
	for !p.listBroken {
		r, err := p.projects.peek()
		if err != nil {
			logf(p.g, "scan metadata: the previous projects manifest stops being readable (%v): the documents after it are read", err)
			p.listBroken = true
			break
		}
		if r == nil || r[pipeline.ProjectNormalized] > key {
			break
		}
		n := problemCount(r)
		if n < 0 {
			logf(p.g, "scan metadata: the previous projects manifest has a documents column not ours (%q): the documents from here on are read", r[pipeline.ProjectDocuments])
			p.listBroken = true
			break
		}
		p.projects.take()
		if r[pipeline.ProjectNormalized] == key {
			return r, skipped
		}
		skipped += int64(n)
	}
	return nil, skipped
}

// copyRows writes the previous rows of a reused project into the stage:
// its designated rows (by project, passing over those of projects before
// it) and its problem rows (after passing over skip of them). It returns
// false, having written nothing that stays, when the previous manifests fail.
func (p *previousMetadata) copyRows(st *pipeline.Stage, key string, skip, problems int64) (bool, error) {
	if p.copyBroken {
		return false, nil
	}
	if err := p.skipProblems(skip); err != nil {
		return p.fail(st, err)
	}
	for {
		r, err := p.designated.peek()
		if err != nil {
			return p.fail(st, err)
		}
		if r == nil || r[pipeline.DesignatedProject] > key {
			break
		}
		if r[pipeline.DesignatedProject] == key {
			if err := st.Write(mDesignated, r...); err != nil {
				return false, err
			}
		}
		p.designated.take()
	}
	for range problems {
		r, err := p.problems.peek()
		if err == nil && r == nil {
			err = errors.New("fewer problem rows than the projects manifest counts")
		}
		if err != nil {
			return p.fail(st, err)
		}
		if err := st.Write(mProblems, r...); err != nil {
			return false, err
		}
		p.problems.take()
	}
	return true, nil
}

// pass passes over the problem rows of projects that were read again.
func (p *previousMetadata) pass(skip int64) {
	if p.copyBroken || skip == 0 {
		return
	}
	if err := p.skipProblems(skip); err != nil {
		logf(p.g, "scan metadata: the previous problems manifest stops being readable (%v): the documents after it are read", err)
		p.copyBroken = true
	}
}

func (p *previousMetadata) skipProblems(n int64) error {
	for range n {
		r, err := p.problems.peek()
		if err == nil && r == nil {
			err = errors.New("fewer problem rows than the projects manifest counts")
		}
		if err != nil {
			return err
		}
		p.problems.take()
	}
	return nil
}

func (p *previousMetadata) fail(st *pipeline.Stage, err error) (bool, error) {
	logf(p.g, "scan metadata: the previous manifests stop being readable (%v): the documents from here on are read", err)
	p.copyBroken = true
	return false, st.DiscardUnit()
}

// ScanMetadataResult is what one scan metadata did, for run's report and
// the metrics.
type ScanMetadataResult struct {
	// Scanned is false when the scan had finished in an earlier run.
	Scanned bool
	// Reused counts the projects whose rows were taken from the previous
	// scan (documents unchanged), Read those read, in Documents documents.
	Reused, Read, Documents int64
}

func (r ScanMetadataResult) String() string { return metaTally{r.Reused, r.Read, r.Documents}.String() }

// metaTally counts, for the log, what scan metadata read and reused.
type metaTally struct {
	reused, read, documents int64
}

func (t metaTally) String() string {
	return fmt.Sprintf("%d projects' rows reused (documents unchanged), %d projects read (%d documents)", t.reused, t.read, t.documents)
}
