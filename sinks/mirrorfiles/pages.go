package mirrorfiles

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/bandercheck/bandercheck/internal/pyjson"
)

// Output is one file to write whole (atomically: bandersnatch writes a
// temp file and renames it).
type Output struct {
	Path string
	Data []byte
	// Mode is the file mode bandersnatch leaves on a new file (0644 for its
	// rewrite and copies, 0600 for status, generation and last-modified);
	// on S3 it means nothing.
	Mode uint32
	// UpdateSafe marks a file bandersnatch leaves untouched when its bytes
	// are unchanged (status, generation, web/last-modified).
	UpdateSafe bool
}

// Link is a symbolic link keep_index_versions makes: Path points at the
// absolute path of the mirror root joined with Target (on S3 bandersnatch
// copies Target to Path instead).
type Link struct {
	Path   string
	Target string
}

// JSONFiles are web/json/<name> (json.dump(doc, indent=4, sort_keys=True),
// the document before any filter) and its copy web/pypi/<name>/json; none
// when json is off or a metadata filter skips the project.
func (p *Project) JSONFiles() []Output {
	if !p.opts.JSON || p.Skip != "" {
		return nil
	}
	b := pyjson.DumpIndentSorted(p.doc)
	return []Output{
		{Path: "web/json/" + p.Name, Data: b, Mode: 0o644},
		{Path: "web/pypi/" + p.Name + "/json", Data: b, Mode: 0o644},
	}
}

// SimpleDir is the project's simple folder ("web/simple/<name>/", or with
// hash-index "web/simple/<first character>/<name>/").
func (p *Project) SimpleDir() string { return SimpleDir(p.Name, p.opts.HashIndex) }

// SimpleDir is a project's simple folder; hash-index takes the first
// character (not byte) of the name, as Python's name[0] does.
func SimpleDir(normalized string, hashIndex bool) string {
	if hashIndex && normalized != "" {
		_, n := utf8.DecodeRuneInString(normalized)
		return "web/simple/" + normalized[:n] + "/" + normalized + "/"
	}
	return "web/simple/" + normalized + "/"
}

// Pages are the project's simple pages for simple-format: index.html and
// index.v1_html (the same bytes) for HTML, index.v1_json for JSON. With
// keep_index_versions > 0 use VersionedPages instead.
func (p *Project) Pages() []Output {
	if p.err != nil || p.Skip != "" {
		return nil
	}
	dir := p.SimpleDir()
	var out []Output
	if p.opts.html() {
		h := p.HTML()
		out = append(out, Output{Path: dir + "index.html", Data: h, Mode: 0o644}, Output{Path: dir + "index.v1_html", Data: h, Mode: 0o644})
	}
	if p.opts.json() {
		out = append(out, Output{Path: dir + "index.v1_json", Data: p.PageJSON(), Mode: 0o644})
	}
	return out
}

// sortedFiles are the kept files sorted by filename (a stable sort of
// document order, as Python's list.sort).
func (p *Project) sortedFiles() []file {
	if p.sorted != nil {
		return p.sorted
	}
	fs := slices.Clone(p.parsed)
	if p.parsed == nil {
		fs = make([]file, 0, len(p.files))
		for _, v := range p.files {
			f, _ := fileOf(v, p.opts)
			fs = append(fs, f)
		}
	}
	slices.SortStableFunc(fs, func(a, b file) int { return strings.Compare(a.filename, b.filename) })
	if p.parsed != nil {
		p.sorted = fs
	}
	return fs
}

// href is _file_url_to_local_url: root_uri (or "../..") + the URL's path
// as written, percent-encoding kept.
func (p *Project) href(f file) string {
	prefix := p.opts.RootURI
	if prefix == "" {
		prefix = "../.."
	}
	return prefix + f.rawPath
}

// HTML is generate_html_simple_page.
func (p *Project) HTML() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "<!DOCTYPE html>\n<html>\n  <head>\n    <meta name=\"pypi:repository-version\" content=\"1.0\">\n"+
		"    <title>Links for %s</title>\n  </head>\n  <body>\n    <h1>Links for %s</h1>\n", p.RawName, p.RawName)
	d := p.opts.digest()
	for i, f := range p.sortedFiles() {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, `    <a href="%s#%s=%s"%s>%s</a><br/>`, p.href(f), d, f.digest, p.tags(f), f.filename)
	}
	fmt.Fprintf(&b, "\n  </body>\n</html>\n<!--SERIAL %s-->", p.serial)
	return b.Bytes()
}

// tags is gen_html_file_tags: data-requires-python, data-core-metadata
// with data-dist-info-metadata, data-yanked.
func (p *Project) tags(f file) string {
	var b strings.Builder
	if rp := f.v.Get("requires_python"); rp != nil && rp.Kind == pyjson.KindString {
		fmt.Fprintf(&b, ` data-requires-python="%s"`, htmlEscape(rp.Str))
	}
	if f.metaName != "" {
		fmt.Fprintf(&b, ` data-core-metadata="%s=%s" data-dist-info-metadata="%s=%s"`, f.metaName, f.metaDigest, f.metaName, f.metaDigest)
	}
	if f.v.Get("yanked").Truthy() {
		if yr := f.v.Get("yanked_reason"); yr.Truthy() {
			fmt.Fprintf(&b, ` data-yanked="%s"`, htmlEscape(yr.Str))
		} else {
			b.WriteString(` data-yanked=""`)
		}
	}
	return b.String()
}

// htmlEscape is Python's html.escape(s, quote=True).
var htmlEscape = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&#x27;").Replace

// PageJSON is generate_json_simple_page: json.dumps of files, meta, name,
// versions in that order (not sorted), default separators.
func (p *Project) PageJSON() []byte {
	// written as pyjson.Dumps writes the tree of it, with no tree built
	d := p.opts.digest()
	var b bytes.Buffer
	b.Grow(512 + 640*len(p.files))
	b.WriteString(`{"files": [`)
	for i, f := range p.sortedFiles() {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(`{"filename": `)
		pyjson.WritePyString(&b, f.filename)
		b.WriteString(`, "hashes": {`)
		pyjson.WritePyString(&b, d)
		b.WriteString(": ")
		pyjson.WritePyString(&b, f.digest)
		b.WriteString(`}, "requires-python": `)
		writeOr(&b, f.v, "requires_python", `""`)
		b.WriteString(`, "size": `)
		writeOr(&b, f.v, "size", "null")
		b.WriteString(`, "upload-time": `)
		writeOr(&b, f.v, "upload_time_iso_8601", `""`)
		b.WriteString(`, "url": `)
		pyjson.WritePyString(&b, p.href(f))
		b.WriteString(`, "yanked": `)
		writeOr(&b, f.v, "yanked", "false")
		if p.opts.CoreMetadata {
			if f.metaName != "" {
				b.WriteString(`, "core-metadata": {`)
				pyjson.WritePyString(&b, f.metaName)
				b.WriteString(": ")
				pyjson.WritePyString(&b, f.metaDigest)
				b.WriteString("}")
			} else if cm := f.v.Get("core-metadata"); cm != nil && cm.Kind == pyjson.KindFalse {
				b.WriteString(`, "core-metadata": false`)
			}
		}
		b.WriteString("}")
	}
	b.WriteString(`], "meta": {"api-version": "1.1", "_last-serial": `)
	pyjson.WritePyString(&b, p.serial)
	b.WriteString(`}, "name": `)
	pyjson.WritePyString(&b, p.Name)
	b.WriteString(`, "versions": [`)
	sorted := slices.Clone(p.versions)
	slices.Sort(sorted)
	for i, v := range sorted {
		if i > 0 {
			b.WriteString(", ")
		}
		pyjson.WritePyString(&b, v)
	}
	b.WriteString("]}")
	return b.Bytes()
}

// writeOr writes dict.get(key) of v as json.dumps does, or def (JSON) when
// v has no key.
func writeOr(b *bytes.Buffer, v *pyjson.Value, key, def string) {
	if e := v.Get(key); e != nil {
		pyjson.WriteDumps(b, e)
		return
	}
	b.WriteString(def)
}

// VersionedPages is what keep_index_versions = keep > 0 writes instead of
// Pages: each page as versions/index_<serial>_<time>.<ext> under the simple
// folder, and index.html, index.v1_html, index.v1_json as links to them.
// existing are the file names already in versions/; Remove are the oldest
// of each extension beyond keep-1, deleted first. indexSerial is the
// serial the index gave the project (0 for `bandersnatch sync NAME`); now
// is the time the pages are written.
func (p *Project) VersionedPages(existing []string, indexSerial int64, now time.Time) (write []Output, links []Link, remove []string) {
	if p.err != nil || p.Skip != "" {
		return nil, nil, nil
	}
	dir := p.SimpleDir() + "versions/"
	for _, ext := range []string{".html", ".v1_html", ".v1_json"} {
		var have []string
		for _, n := range existing {
			if strings.HasSuffix(n, ext) {
				have = append(have, n)
			}
		}
		slices.Sort(have)
		for i := 0; i < len(have)-p.opts.KeepIndexVersions+1; i++ {
			remove = append(remove, dir+have[i])
		}
	}
	stamp := TimeStamp(now)
	var html, js []byte
	if p.opts.html() {
		html = p.HTML()
	}
	if p.opts.json() {
		js = p.PageJSON()
	}
	for _, e := range []struct {
		link, ext string
		data      []byte
	}{{"index.html", "html", html}, {"index.v1_html", "v1_html", html}, {"index.v1_json", "v1_json", js}} {
		if e.data == nil {
			continue
		}
		name := fmt.Sprintf("%sindex_%d_%s.%s", dir, indexSerial, stamp, e.ext)
		write = append(write, Output{Path: name, Data: e.data, Mode: 0o644})
		links = append(links, Link{Path: p.SimpleDir() + e.link, Target: name})
	}
	return write, links, remove
}

// TimeStamp is make_time_stamp(): utcnow().isoformat() + "Z" without colons
// (microseconds only when not zero, as isoformat writes them).
func TimeStamp(now time.Time) string {
	now = now.UTC()
	s := now.Format("2006-01-02T150405")
	if us := now.Nanosecond() / 1000; us != 0 {
		s += fmt.Sprintf(".%06d", us)
	}
	return s + "Z"
}
