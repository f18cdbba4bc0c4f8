// Package mirrorfiles computes, without touching any store, exactly the files
// bandersnatch 8's `mirror` writes for one project and for the mirror as a
// whole: web/json/<name> and web/pypi/<name>/json, the simple pages of each
// simple-format, the release files and .metadata files to download (after
// the config's filters, with bandersnatch's paths, digests and mtimes), the
// root index pages, status, generation and web/last-modified. The sync
// stages write what it returns; the golden tests compare it byte for byte
// with trees the real bandersnatch wrote.
package mirrorfiles

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/bandercheck/bandercheck/internal/filters"
	"github.com/bandercheck/bandercheck/internal/pyjson"
	"github.com/bandercheck/bandercheck/sources"
)

// Options are the config keys that decide what bandersnatch writes.
type Options struct {
	JSON              bool         // [mirror] json: web/json/<name> and web/pypi/<name>/json
	ReleaseFiles      bool         // [mirror] release-files (default true)
	CoreMetadata      bool         // [mirror] core-metadata (default true): .metadata files and their page attributes
	SimpleFormat      string       // [mirror] simple-format: ALL (default), HTML or JSON
	HashIndex         bool         // [mirror] hash-index: web/simple/<c>/<name>/
	RootURI           string       // [mirror] root_uri: prefix of page links instead of "../.."
	DigestName        string       // [mirror] digest_name (default sha256): the hash in page links
	KeepIndexVersions int          // [mirror] keep_index_versions: versioned pages and links
	Filters           *filters.Set // [plugins]: metadata, release-file and release filters
}

// DefaultOptions are bandersnatch 8's defaults.
func DefaultOptions() Options {
	return Options{ReleaseFiles: true, CoreMetadata: true, SimpleFormat: "ALL", DigestName: "sha256"}
}

// OptionsFromConfig takes the keys from a bandersnatch.conf.
func OptionsFromConfig(c *sources.Config) Options {
	if c == nil || !c.Given {
		return DefaultOptions()
	}
	return Options{JSON: c.JSON, ReleaseFiles: c.ReleaseFiles, CoreMetadata: c.CoreMetadata,
		SimpleFormat: c.SimpleFormat, HashIndex: c.HashIndex, RootURI: c.RootURI,
		DigestName: c.DigestName, KeepIndexVersions: c.KeepIndexVersions, Filters: c.Filters}
}

// Validate refuses options whose pages bandersnatch would write with a
// value this program must not invent: with release-files off and no
// root_uri, bandersnatch links every page to upstream's files host (and
// asks for a root_uri in its warning); sync asks for the root_uri instead.
func (o Options) Validate() error {
	if !o.ReleaseFiles && o.RootURI == "" {
		return errors.New("[mirror] release-files = false needs [mirror] root_uri (the URL the simple pages link files to, e.g. upstream's files host): bandersnatch falls back to a built-in host, sync does not guess")
	}
	if o.KeepIndexVersions < 0 {
		return fmt.Errorf("[mirror] keep_index_versions = %d: want 0 or more", o.KeepIndexVersions)
	}
	switch o.SimpleFormat {
	case "", "ALL", "HTML", "JSON":
	default:
		return fmt.Errorf("[mirror] simple-format = %q: want ALL, HTML or JSON", o.SimpleFormat)
	}
	return nil
}

func (o Options) html() bool {
	return o.SimpleFormat == "" || o.SimpleFormat == "ALL" || o.SimpleFormat == "HTML"
}
func (o Options) json() bool {
	return o.SimpleFormat == "" || o.SimpleFormat == "ALL" || o.SimpleFormat == "JSON"
}
func (o Options) digest() string {
	if o.DigestName == "" {
		return "sha256"
	}
	return o.DigestName
}

// Project is one fetched project, its document parsed and filtered.
type Project struct {
	Name    string // normalized (packaging's canonicalize_name of RawName)
	RawName string // the name as the index spelled it: the HTML page's title
	// Skip names the metadata filter that excludes the project: bandersnatch
	// then writes nothing for it (not even web/json).
	Skip string

	opts     Options
	doc      *pyjson.Value
	serial   string          // str(int(last_serial)); "" when the document has none
	versions []string        // releases left after the filters, document order
	files    []*pyjson.Value // their files, document order
	parsed   []file          // fileOf each of files, once check passed
	sorted   []file          // parsed sorted by filename, made once for the pages
	err      error           // why bandersnatch stops after writing web/json
}

// Prepare parses one /pypi/<name>/json document as bandersnatch 8's
// process_package reads it. rawName is the project's name as the index
// spelled it (bandersnatch_safe_name of the argument for `sync NAME`).
//
// It returns an error alone when the document is not JSON or the name
// cannot be a folder (nothing is written). It returns a Project and an
// error when bandersnatch writes web/json (with json on) but then stops on
// the document (no releases object, a file without the configured digest, a
// bad URL or upload time, a filter that cannot judge a value): write
// JSONFiles, record the error as the project's problem, and nothing else.
func Prepare(doc []byte, rawName string, o Options) (*Project, error) {
	name := sources.Normalize(rawName) // packaging's canonicalize_name
	if err := checkName(name); err != nil {
		return nil, fmt.Errorf("project %q: %w", rawName, err)
	}
	v, err := pyjson.ParseJSON(doc)
	if err != nil {
		return nil, fmt.Errorf("project %s: %w", name, err)
	}
	p := &Project{Name: name, RawName: rawName, opts: o, doc: v}
	fp, err := p.filterView()
	if o.Filters.FiltersProjects() {
		// the metadata filters read the document before web/json is written:
		// a document they cannot read stops the project with nothing written
		by := ""
		if err == nil {
			by, err = o.Filters.ExcludesProject(fp)
		}
		if err != nil {
			return nil, fmt.Errorf("project %s: %w", name, err)
		}
		if by != "" {
			p.Skip = by
			return p, nil
		}
	}
	if err == nil {
		err = p.filter(fp)
	}
	if err == nil {
		err = p.check()
	}
	if err != nil {
		p.err = fmt.Errorf("project %s: %w", name, err)
		return p, p.err
	}
	return p, nil
}

// Err is why bandersnatch stops after web/json for this project (nil when
// it goes on to files and pages).
func (p *Project) Err() error { return p.err }

// LastSerial is the document's last_serial as bandersnatch reads it (int()).
func (p *Project) LastSerial() (int64, error) {
	if p.serial == "" {
		return 0, errors.New("the document has no integer last_serial")
	}
	return strconv.ParseInt(p.serial, 10, 64)
}

// SafeName is bandersnatch_safe_name: each run of characters other than
// ASCII letters, digits and '.' becomes '-', then lower case. `bandersnatch
// sync NAME` passes SafeName(NAME) as the raw name, so the page title reads
// "alpha-pkg" where a full sync, which takes the index's spelling, writes
// "Alpha_Pkg".
func SafeName(name string) string {
	var b strings.Builder
	run := false
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' {
			b.WriteByte(c)
			run = false
			continue
		}
		if !run {
			b.WriteByte('-')
			run = true
		}
		// a multi-byte character is one run with its neighbours
	}
	return strings.ToLower(b.String())
}

// checkName refuses a name that is not one folder below web/json,
// web/pypi and web/simple.
func checkName(n string) error {
	switch {
	case n == "":
		return errors.New("the name is empty")
	case strings.ContainsAny(n, "/\x00"):
		return errors.New("the name holds '/' or NUL: it cannot be a folder of the mirror")
	case !utf8.ValidString(n):
		return errors.New("the name is not valid UTF-8")
	case len(n) > sources.MaxNameBytes:
		return fmt.Errorf("the name is longer than %d bytes", sources.MaxNameBytes)
	}
	return nil
}

// filterView is what the filters see: info's fields, and each release's
// files with all their fields (Index: the file's position among all the
// document's files, in order).
func (p *Project) filterView() (*filters.Project, error) {
	info := p.doc.Get("info")
	rel := p.doc.Get("releases")
	if p.doc.Kind != pyjson.KindObject || info == nil {
		return nil, errors.New("the document has no info")
	}
	if rel == nil || rel.Kind != pyjson.KindObject {
		return nil, errors.New("the document has no releases object")
	}
	// the fields as Go values only for filters that read them (with none
	// on, converting every file's fields was a fifth of what Prepare cost)
	fields := p.opts.Filters.FiltersFiles() || p.opts.Filters.FiltersProjects()
	fp := &filters.Project{Info: map[string]any{}}
	if info.Kind == pyjson.KindObject && fields {
		fp.Info = info.Any().(map[string]any)
	}
	if n := info.Get("name"); n != nil && n.Kind == pyjson.KindString {
		fp.Name = n.Str
	}
	if s := p.doc.Get("last_serial"); s != nil {
		p.serial = pyIntOf(s)
	}
	n := 0
	for i, version := range rel.Keys {
		files := rel.Elems[i]
		if files.Kind != pyjson.KindArray {
			return nil, fmt.Errorf("releases[%q] is not a list", version)
		}
		r := &filters.Release{Version: version}
		for _, f := range files.Elems {
			if f.Kind != pyjson.KindObject {
				return nil, fmt.Errorf("releases[%q] holds a file that is not an object", version)
			}
			ff := &filters.File{Index: n}
			if fields {
				ff.Fields = f.Any().(map[string]any)
			}
			r.Files = append(r.Files, ff)
			n++
		}
		// bandersnatch drops a release without files whether or not a filter is on
		if len(r.Files) > 0 {
			fp.Releases = append(fp.Releases, r)
		}
	}
	return fp, nil
}

// pyIntOf is str(int(v)) for an integer or a decimal string; "" otherwise.
func pyIntOf(v *pyjson.Value) string {
	switch v.Kind {
	case pyjson.KindInt:
		return pyjson.PyInt(v.Str)
	case pyjson.KindString:
		if n, err := strconv.ParseInt(strings.TrimSpace(v.Str), 10, 64); err == nil {
			return strconv.FormatInt(n, 10)
		}
	}
	return ""
}

// filter runs the release-file and release filters and keeps what they leave.
func (p *Project) filter(fp *filters.Project) error {
	if p.opts.Filters != nil {
		if err := p.opts.Filters.Apply(fp); err != nil {
			return fmt.Errorf("filter %w", err)
		}
	}
	var all []*pyjson.Value
	rel := p.doc.Get("releases")
	for _, files := range rel.Elems {
		all = append(all, files.Elems...)
	}
	for _, r := range fp.Releases {
		p.versions = append(p.versions, r.Version)
		for _, f := range r.Files {
			p.files = append(p.files, all[f.Index])
		}
	}
	return nil
}

// check does what bandersnatch checks before any download or page:
// validate_digest_availability, then each file's fields as the downloads
// and pages read them.
func (p *Project) check() error {
	d := p.opts.digest()
	for _, f := range p.files {
		if str(f.Get("digests").Get(d)) == "" {
			return fmt.Errorf("file %s has no %s digest (digest_name)", str(f.Get("filename")), d)
		}
	}
	parsed := make([]file, 0, len(p.files))
	for _, f := range p.files {
		pf, err := fileOf(f, p.opts)
		if err != nil {
			return err
		}
		parsed = append(parsed, pf)
	}
	if p.serial == "" {
		// bandersnatch downloads the files first, then fails on the pages
		return errors.New("the document has no integer last_serial")
	}
	p.parsed = parsed // the downloads and both pages read them again
	return nil
}

// str is v's string value ("" when v is not a string).
func str(v *pyjson.Value) string {
	if v == nil || v.Kind != pyjson.KindString {
		return ""
	}
	return v.Str
}
