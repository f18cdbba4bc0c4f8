package stages

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/bandercheck/bandercheck/internal/filters"
	"github.com/bandercheck/bandercheck/internal/store"
	"github.com/bandercheck/bandercheck/sources"
)

// rowSink receives one project's rows; discard drops the designated rows of a
// failed attempt.
type rowSink interface {
	designated(row ...string) error
	discard() error
}

// collected holds a project's rows in memory (documents up to inlineLimit).
type collected struct{ rows [][]string }

func (c *collected) designated(row ...string) error { c.rows = append(c.rows, row); return nil }
func (c *collected) discard() error                 { c.rows = c.rows[:0]; return nil }

// projectOutcome is everything a project contributes besides designated rows.
type projectOutcome struct {
	ref      projectRef
	project  []string   // the projects row
	problems [][]string // problems/metadata rows
	rows     [][]string // designated rows, when collected
	deferred bool       // too large to buffer: the writer reads it as a stream
	bytes    int64
	held     int64 // bytes of the document budget this project holds until written
	// excludedBy names the project or metadata filter that excludes the project
	excludedBy string
	docs       docRecord // the identities of the documents read
	opened     int64     // documents opened
	reused     bool      // the previous scan's rows are taken (ref.prev)
}

// errTooLarge says a document is read as a stream by the writer instead.
var errTooLarge = errors.New("document too large to buffer")

// inlineLimit is the largest document a worker buffers.
const inlineLimit = 1 << 20

// The scan's document budget (metadataShare of --memory: 32 MiB at the
// default) bounds the bytes of documents the workers of a scan hold at
// once, read whole and then as rows until the writer has written them. A
// document that would pass it is read as a stream by the writer instead
// (errTooLarge), so memory does not grow with the workers in flight (256 on
// S3) nor with how many large documents meet in one window: a buffer of
// inlineLimit a worker, as it was, took 256 MiB on S3.

// memBudget counts bytes against a limit; it never blocks (a worker that
// cannot take leaves its document to the writer, which never waits on the
// workers). A nil budget has no limit.
type memBudget struct {
	mu          sync.Mutex
	used, limit int64
	peak        int64 // the most ever held
	refused     int   // takes refused (documents left to the writer)
}

func newMemBudget(limit int64) *memBudget { return &memBudget{limit: limit} }

// newScanBudget is the document budget of one metadata scan, limit bytes
// (a variable for tests).
var newScanBudget = newMemBudget

// take reserves n bytes, or reports that they would pass the limit.
func (b *memBudget) take(n int64) bool {
	if b == nil {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used+n > b.limit {
		b.refused++
		return false
	}
	b.used += n
	b.peak = max(b.peak, b.used)
	return true
}

// give returns n bytes taken.
func (b *memBudget) give(n int64) {
	if b == nil || n == 0 {
		return
	}
	b.mu.Lock()
	b.used -= n
	b.mu.Unlock()
}

// budgetUse is what a budget held at most, its limit and how many takes it
// refused; a nil budget (no limit) held nothing it counted.
type budgetUse struct {
	peak, limit int64
	refused     int
}

// use reports the budget's use so far.
func (b *memBudget) use() budgetUse {
	if b == nil {
		return budgetUse{}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return budgetUse{peak: b.peak, limit: b.limit, refused: b.refused}
}

// readInline reads a whole document of at most limit bytes into a buffer
// that grows with it, taking each growth from the scan's budget. It returns
// errTooLarge (having given back what it took) when the document is larger
// than limit or the budget is spent; held is what it took, which the caller
// gives back once the document's rows are written. The buffer is lent by
// docBufs: give it back with putDocBuf once the document is parsed.
func (m *metaScan) readInline(r io.Reader, limit int64) (buf []byte, held int64, err error) {
	fail := func(err error) ([]byte, int64, error) {
		m.mem.give(held)
		putDocBuf(buf)
		return nil, 0, err
	}
	for {
		if len(buf) == cap(buf) {
			if int64(cap(buf)) >= limit { // full: one more byte says whether it was all
				var one [1]byte
				n, err := r.Read(one[:])
				switch {
				case n > 0:
					return fail(errTooLarge)
				case err == io.EOF:
					return buf, held, nil
				case err != nil:
					return fail(err)
				}
				continue
			}
			next := min(max(2*int64(cap(buf)), docBufMin), limit)
			if !m.mem.take(next - int64(cap(buf))) {
				return fail(errTooLarge)
			}
			held += next - int64(cap(buf))
			grown := append(getDocBuf(int(next)), buf...)
			putDocBuf(buf)
			buf = grown
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, held, nil
		}
		if err != nil {
			return fail(err)
		}
	}
}

// docBufs lend readInline its buffers, one pool a size (docBufMin << i). A
// document's buffer goes back once it is parsed (its rows are strings of
// their own): a scan of 10,000 documents took a buffer of 16 KiB or more
// for each, zeroed, and the collection of them (a tenth of its CPU time).
var docBufs [7]sync.Pool

// docBufMin is the smallest document buffer.
const docBufMin = 16 << 10

// getDocBuf lends an empty buffer of capacity size.
func getDocBuf(size int) []byte {
	if i := docBufClass(size); i >= 0 {
		if p, ok := docBufs[i].Get().(*[]byte); ok {
			return (*p)[:0]
		}
	}
	return make([]byte, 0, size)
}

// putDocBuf gives back a buffer getDocBuf lent (nil is nothing).
func putDocBuf(b []byte) {
	if i := docBufClass(cap(b)); i >= 0 {
		b = b[:0]
		docBufs[i].Put(&b)
	}
}

// docBufClass is the pool of buffers of capacity size, -1 for none.
func docBufClass(size int) int {
	for i := range docBufs {
		if docBufMin<<i == size {
			return i
		}
	}
	return -1
}

// problemStageFilter is the stage column of a problems/metadata row that
// reports a project a project filter excludes.
const problemStageFilter = "filter"

// metaScan reads one project's metadata from its preferred source, falling
// back to the other.
type metaScan struct {
	store     store.Reader
	from      string // fromJSON or fromSimple
	hashIndex bool
	design    designation
	listed    bool       // documents are identified from the listing (S3), not by lstat
	mem       *memBudget // documents read whole by the workers; nil: no limit
}

// designation is what the config says the mirror holds of a project.
type designation struct {
	noReleaseFiles bool   // [mirror] release-files = false: nothing
	noCoreMetadata bool   // [mirror] core-metadata = false: no .metadata files
	digestName     string // [mirror] digest_name
	filters        *filters.Set
	parse          sources.ParseOptions // the JSON fields the filters read
	configPath     string
}

// designationOf reads the designation of a config; without one, every
// release file and every .metadata file upstream has a digest for.
func designationOf(c *sources.Config, path string) designation {
	if !c.Given {
		return designation{digestName: "sha256"}
	}
	d := designation{noReleaseFiles: !c.ReleaseFiles, noCoreMetadata: !c.CoreMetadata, digestName: c.DigestName,
		filters: c.Filters, configPath: path}
	info, file := c.Filters.Needs()
	d.parse = sources.ParseOptions{InfoFields: info, FileFields: file}
	return d
}

// source is one attempt at a project's metadata.
type source struct {
	path  string
	json  bool // the JSON API document, which the filters apply to
	parse func(io.Reader, func(sources.File) error) (sources.Project, error)
}

func (m *metaScan) jsonSources(ref projectRef) []source {
	var out []source
	for _, n := range ref.jsonNames {
		out = append(out, source{path: "web/json/" + n, json: true, parse: m.design.parse.ParseJSON})
	}
	for _, n := range ref.pypiNames {
		if !slices.Contains(ref.jsonNames, n) {
			out = append(out, source{path: "web/pypi/" + n + "/json", json: true, parse: m.design.parse.ParseJSON})
		}
	}
	return out
}

func (m *metaScan) simpleSource(ref projectRef) source {
	dir := sources.SimplePath(ref.normalized, m.hashIndex)
	return source{path: dir, parse: func(r io.Reader, fn func(sources.File) error) (sources.Project, error) {
		return sources.ParseSimpleJSON(r, ref.normalized, fn)
	}}
}

// scan reads ref into sink. With budget > 0 a document larger than budget
// returns errTooLarge before anything is written.
func (m *metaScan) scan(ctx context.Context, ref projectRef, sink rowSink, budget int64) (projectOutcome, error) {
	out := projectOutcome{ref: ref}
	name := firstOf(append(append([]string{}, ref.jsonNames...), ref.pypiNames...)...)
	if name == "" {
		name = ref.normalized
	}
	if ref.badName != "" {
		out.problems = append(out.problems, []string{"web/json/" + strings.ToValidUTF8(ref.badName, "\uFFFD"), "metadata", "project name is not valid UTF-8", ""})
		out.project = []string{strings.ToValidUTF8(ref.badName, "\uFFFD"), "", "", "", "0", documentsColumn(ref, len(out.problems), nil)}
		return out, nil
	}
	primary, fallback := m.jsonSources(ref), []source{m.simpleSource(ref)}
	if !ref.simple {
		fallback = nil
	}
	if m.from == fromSimple {
		primary, fallback = fallback, m.jsonSources(ref)
	}
	used, serial, files, err := m.attempt(ctx, primary, sink, budget, &out)
	if err != nil {
		return out, err
	}
	if used == "" {
		if err := sink.discard(); err != nil {
			return out, err
		}
		failures := len(out.problems)
		if len(primary) == 0 {
			what := "no JSON document (web/json/" + name + ")"
			if m.from == fromSimple {
				what = "no simple page (" + sources.SimplePath(ref.normalized, m.hashIndex) + ")"
			}
			out.problems = append(out.problems, []string{m.expectedPath(ref, name), "metadata", what, ""})
			failures++
		}
		used, serial, files, err = m.attempt(ctx, fallback, sink, budget, &out)
		if err != nil {
			return out, err
		}
		if used == "" {
			if err := sink.discard(); err != nil {
				return out, err
			}
		}
		for i := range failures {
			out.problems[i][3] = fallbackName(used)
		}
	}
	if by := m.design.filters.ExcludesName(name); by != "" && out.excludedBy == "" {
		out.excludedBy = by
	}
	if out.excludedBy != "" && used != "" {
		out.problems = append(out.problems, []string{used, problemStageFilter, fmt.Sprintf("%s in %s excludes this project, so bandersnatch no longer syncs it; "+
			"its files are kept. To remove it, plan with --remove-filtered-projects", out.excludedBy, m.design.configPath), "kept"})
	}
	serialText := ""
	if serial >= 0 {
		serialText = strconv.FormatInt(serial, 10)
	}
	out.project = []string{name, ref.normalized, used, serialText, strconv.Itoa(files), documentsColumn(ref, len(out.problems), &out.docs)}
	return out, nil
}

// expectedPath is where the preferred source would be.
func (m *metaScan) expectedPath(ref projectRef, name string) string {
	if m.from == fromSimple {
		return sources.SimplePath(ref.normalized, m.hashIndex)
	}
	return "web/json/" + name
}

// fallbackName is the fallback column: the source that was used instead, or "" when none worked.
func fallbackName(used string) string {
	switch {
	case used == "":
		return ""
	case strings.HasPrefix(used, "web/simple/"):
		return "simple"
	default:
		return "json"
	}
}

// attempt tries every source of a list; all must parse, or the attempt fails
// (its rows are discarded by the caller) and each failure is a problem row.
func (m *metaScan) attempt(ctx context.Context, list []source, sink rowSink, budget int64, out *projectOutcome) (used string, serial int64, files int, err error) {
	if len(list) == 0 {
		return "", -1, 0, nil
	}
	serial = -1
	for _, src := range list {
		n, p, size, perr, ioErr := m.read(ctx, src, out, sink, budget)
		if ioErr != nil {
			return "", -1, 0, ioErr
		}
		out.bytes += size
		if perr != nil {
			out.problems = append(out.problems, []string{src.path, "metadata", perr.Error(), ""})
			return "", -1, 0, nil
		}
		files += n
		serial = max(serial, p.Serial)
		if used == "" {
			used = src.path
		}
	}
	return used, serial, files, nil
}

// read parses one source into sink. perr is a defect of the document (a
// problem row); ioErr is a failure to read that fails the stage.
func (m *metaScan) read(ctx context.Context, src source, out *projectOutcome, sink rowSink, budget int64) (files int, p sources.Project, size int64, perr, ioErr error) {
	path, normalized := src.path, out.ref.normalized
	rc, src, id, err := m.openSource(ctx, out.ref, src)
	out.docs.add(m.sourceIndex(out.ref, src), id)
	if errors.Is(err, os.ErrNotExist) {
		what := "metadata file is missing"
		if strings.HasPrefix(path, "web/pypi/") {
			what = "dangling link: " + path + " points to nothing"
		}
		return 0, p, 0, errors.New(what), nil
	}
	if errors.Is(err, store.ErrNotRegular) {
		return 0, p, 0, errors.New(path + " is not a regular file (a FIFO, device or folder): never read"), nil
	}
	if err != nil {
		return 0, p, 0, nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer rc.Close()
	out.opened++
	var r io.Reader = rc
	if budget > 0 {
		buf, held, err := m.readInline(rc, budget)
		if errors.Is(err, errTooLarge) {
			return 0, p, 0, nil, errTooLarge
		}
		if err != nil {
			return 0, p, 0, nil, fmt.Errorf("read %s: %w", path, err)
		}
		out.held += held
		defer putDocBuf(buf) // (after the parse below: its rows copy what they keep)
		r = bytes.NewReader(buf)
	}
	cr := &countingReader{r: r}
	emit := func(f sources.File) error {
		if m.design.noReleaseFiles {
			return nil
		}
		files++
		size := ""
		if f.Size >= 0 {
			size = strconv.FormatInt(f.Size, 10)
		}
		if err := sink.designated(f.Path, normalized, size, f.SHA256, f.URL, f.UploadTime, f.MD5); err != nil {
			return err
		}
		if d := f.MetadataDigest(m.design.digestName); d != "" && !m.design.noCoreMetadata {
			// bandersnatch gives a .metadata file its release file's upload time
			return sink.designated(f.Path+".metadata", normalized, "", d, f.URL+".metadata", f.UploadTime, "")
		}
		return nil
	}
	filtered := src.json && (m.design.filters.FiltersFiles() || m.design.filters.FiltersProjects())
	var all []sources.File
	p, perr = src.parse(cr, func(f sources.File) error {
		if filtered {
			all = append(all, f)
			return nil
		}
		return emit(f)
	})
	if filtered && perr == nil {
		var kept []sources.File
		kept, out.excludedBy, perr = m.design.apply(p, all)
		for _, f := range kept {
			if err := emit(f); err != nil {
				return files, p, cr.n, nil, err
			}
		}
	}
	if cr.err != nil && cr.err != io.EOF {
		return files, p, cr.n, nil, fmt.Errorf("read %s: %w", path, cr.err)
	}
	return files, p, cr.n, perr, nil
}

// identifiedOpener is a store that identifies what it opens, from the
// open file (POSIX): as Stat would, a link as a link.
type identifiedOpener interface {
	OpenIdentified(ctx context.Context, key string) (io.ReadCloser, store.Object, error)
}

// openSource opens the document of src (of a simple folder: index.v1_json,
// else index.html, whose parser src then names) and its identity, as
// docIdentity tells it: from the open file where the store can (a change
// while it is read leaves a new ctime, so the next scan reads it again),
// else taken before it is opened.
func (m *metaScan) openSource(ctx context.Context, ref projectRef, src source) (io.ReadCloser, source, string, error) {
	ido, fromFile := m.store.(identifiedOpener)
	fromFile = fromFile && !m.listed
	id := ""
	if !fromFile {
		id = m.docIdentity(ctx, ref, src)
	}
	open := func(key, tag string) (io.ReadCloser, error) {
		if !fromFile {
			return m.store.Open(ctx, key)
		}
		rc, o, err := ido.OpenIdentified(ctx, key)
		if d := documentID(o); err == nil && d != "" {
			id = tag + d
		}
		return rc, err
	}
	if !strings.HasSuffix(src.path, "/") {
		rc, err := open(src.path, "")
		return rc, src, id, err
	}
	rc, err := open(src.path+"index.v1_json", "v1:")
	if errors.Is(err, os.ErrNotExist) {
		normalized := ref.normalized
		src.parse = func(r io.Reader, fn func(sources.File) error) (sources.Project, error) {
			return sources.ParseSimpleHTML(r, normalized, fn)
		}
		rc, err = open(src.path+"index.html", "html:")
	}
	return rc, src, id, err
}

// apply runs the filters over one project's files: the metadata filters
// say whether it is excluded, the release-file and release filters which
// of its files the mirror holds. A value a filter cannot judge is an error
// (a problem row), as it stops bandersnatch's sync of the project.
func (d designation) apply(p sources.Project, files []sources.File) (kept []sources.File, excludedBy string, err error) {
	fp := &filters.Project{Name: p.Name, Info: map[string]any{"name": p.Name, "version": p.Version}}
	for k, v := range p.Info {
		fp.Info[k] = v
	}
	byVersion := map[string]*filters.Release{}
	for i, f := range files {
		r := byVersion[f.Version]
		if r == nil {
			r = &filters.Release{Version: f.Version}
			byVersion[f.Version] = r
			fp.Releases = append(fp.Releases, r)
		}
		fields := map[string]any{"filename": f.Filename, "packagetype": f.Type, "upload_time_iso_8601": f.UploadTime, "size": f.Size}
		for k, v := range f.Fields {
			fields[k] = v
		}
		r.Files = append(r.Files, &filters.File{Fields: fields, Index: i})
	}
	if excludedBy, err = d.filters.ExcludesProject(fp); err != nil {
		return nil, "", fmt.Errorf("filter %w", err)
	}
	if err := d.filters.Apply(fp); err != nil {
		return nil, "", fmt.Errorf("filter %w", err)
	}
	var idx []int
	for _, r := range fp.Releases {
		for _, f := range r.Files {
			idx = append(idx, f.Index)
		}
	}
	slices.Sort(idx) // document order
	for _, i := range idx {
		kept = append(kept, files[i])
	}
	return kept, excludedBy, nil
}

// countingReader counts bytes and keeps the first read error apart from parse errors.
type countingReader struct {
	r   io.Reader
	n   int64
	err error
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if err != nil && c.err == nil {
		c.err = err
	}
	return n, err
}
