package synth

import (
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
)

// Documents, generated per request. Names are upstream's ([A-Za-z0-9._-]),
// and everything else in a document is generated, so nothing needs escaping
// beyond what jsonStr does.

// Document kinds of a project.
const (
	docJSON     = iota // web/json/<name> and web/pypi/<name>/json
	docSimple          // web/simple/<norm>/index.html
	docSimpleV1        // web/simple/<norm>/index.v1_json
	docKinds
)

// docSizeCache keeps each document's length once computed: a listing gives
// sizes, and a length needs the document generated (its digests need not be).
type docSizeCache struct{ sizes []atomic.Uint32 }

func newDocSizeCache(n int) docSizeCache {
	return docSizeCache{sizes: make([]atomic.Uint32, n*docKinds)}
}

func (m *Mirror) docSize(i, kind int) int64 {
	c := &m.docSizes.sizes[i*docKinds+kind]
	if n := c.Load(); n != 0 {
		return int64(n)
	}
	n := len(m.document(i, kind, false))
	c.Store(uint32(n))
	return int64(n)
}

// docETag is a document's version tag: it changes exactly when the document
// does (a night that changed the project). It is not the MD5 of the body,
// as a multipart upload's ETag is not; only release files carry MD5 ETags.
func (m *Mirror) docETag(i, kind int) string {
	h := hash2(m.cfg.Seed^uint64(kind)<<32, uint64(m.serial(i)))
	return fmt.Sprintf("\"%016x%016x-1\"", h, mix(h))
}

// projectFiles calls fn with each file a project's documents list, in order.
func (m *Mirror) projectFiles(i int, fn func(file)) {
	for p := m.start[i]; p < m.start[i+1]; p++ {
		if f := m.fileAt(p); f.designated() {
			fn(f)
		}
	}
}

// fileURL is where upstream serves a file.
func (m *Mirror) fileURL(f file) string { return "https://files.example.invalid/" + m.relPath(f) }

const zeros = "0000000000000000000000000000000000000000000000000000000000000000"

// document generates one of project i's documents; without digests, every
// digest is zeros of the same length (for its size).
func (m *Mirror) document(i, kind int, digests bool) []byte {
	dig := func(o object) (string, string) {
		if !digests {
			return zeros, zeros[:32]
		}
		return m.digestsOf(o)
	}
	switch kind {
	case docSimple:
		return m.simpleHTML(i, dig)
	case docSimpleV1:
		return m.simpleV1(i, dig)
	}
	return m.jsonDoc(i, dig)
}

func jsonStr(b []byte, s string) []byte { return strconv.AppendQuote(b, s) } // ASCII only: Go and JSON agree

// jsonDoc writes releases before info (JSON objects have no order), so one
// pass over the files gives both.
func (m *Mirror) jsonDoc(i int, dig func(object) (string, string)) []byte {
	b := make([]byte, 0, 1024)
	b = append(b, `{"last_serial":`...)
	b = strconv.AppendInt(b, m.serial(i), 10)
	b = append(b, `,"releases":{`...)
	version := ""
	m.projectFiles(i, func(f file) {
		if f.version != version {
			if version != "" {
				b = append(b, "],"...)
			}
			version = f.version
			b = jsonStr(b, version)
			b = append(b, ":["...)
		} else {
			b = append(b, ',')
		}
		sha, md := dig(f.content)
		b = append(b, `{"comment_text":"",`...)
		if f.meta {
			ms, _ := dig(f.metaObject())
			b = append(b, `"core-metadata":{"sha256":"`...)
			b = append(b, ms...)
			b = append(b, `"},"data-dist-info-metadata":{"sha256":"`...)
			b = append(b, ms...)
			b = append(b, `"},`...)
		}
		b = append(b, `"digests":{"md5":"`...)
		b = append(b, md...)
		b = append(b, `","sha256":"`...)
		b = append(b, sha...)
		b = append(b, `"},"downloads":-1,"filename":`...)
		b = jsonStr(b, f.name)
		b = append(b, `,"has_sig":false,"md5_digest":"`...)
		b = append(b, md...)
		kind, py := "sdist", "source"
		if f.wheel {
			kind, py = "bdist_wheel", "py3"
		}
		b = append(b, `","packagetype":"`+kind+`","python_version":"`+py+`","requires_python":">=3.8","size":`...)
		b = strconv.AppendInt(b, f.content.size, 10)
		b = append(b, `,"upload_time":"`...)
		b = f.uploaded.AppendFormat(b, "2006-01-02T15:04:05")
		b = append(b, `","upload_time_iso_8601":"`...)
		b = f.uploaded.AppendFormat(b, "2006-01-02T15:04:05.000000Z")
		b = append(b, `","url":`...)
		b = jsonStr(b, m.fileURL(f))
		b = append(b, `,"yanked":false,"yanked_reason":null}`...)
	})
	if version != "" {
		b = append(b, ']')
	}
	b = append(b, `},"info":{"author":"synth","classifiers":["Programming Language :: Python :: 3"],"license":"MIT","name":`...)
	b = jsonStr(b, m.names[i])
	b = append(b, `,"summary":"a synthetic project","version":`...)
	b = jsonStr(b, version)
	return append(b, `},"urls":[],"vulnerabilities":[]}`...)
}

func (m *Mirror) simpleHTML(i int, dig func(object) (string, string)) []byte {
	norm := m.norms[i]
	var b strings.Builder
	fmt.Fprintf(&b, "<!DOCTYPE html>\n<html>\n  <head>\n    <meta name=\"pypi:repository-version\" content=\"1.1\">\n    <title>Links for %s</title>\n  </head>\n  <body>\n    <h1>Links for %s</h1>\n", norm, norm)
	m.projectFiles(i, func(f file) {
		sha, _ := dig(f.content)
		attr := ""
		if f.meta {
			ms, _ := dig(f.metaObject())
			attr = ` data-dist-info-metadata="sha256=` + ms + `" data-core-metadata="sha256=` + ms + `"`
		}
		fmt.Fprintf(&b, "    <a href=\"../../%s#sha256=%s\" data-requires-python=\"&gt;=3.8\"%s>%s</a><br/>\n", m.relPath(f), sha, attr, f.name)
	})
	fmt.Fprintf(&b, "  </body>\n</html>\n<!--SERIAL %d-->", m.serial(i))
	return []byte(b.String())
}

func (m *Mirror) simpleV1(i int, dig func(object) (string, string)) []byte {
	b := append(make([]byte, 0, 512), `{"files":[`...)
	first := true
	var versions []string
	m.projectFiles(i, func(f file) {
		if !first {
			b = append(b, ',')
		}
		first = false
		if len(versions) == 0 || versions[len(versions)-1] != f.version {
			versions = append(versions, f.version)
		}
		sha, _ := dig(f.content)
		b = append(b, '{')
		if f.meta {
			ms, _ := dig(f.metaObject())
			b = append(b, `"core-metadata":{"sha256":"`+ms+`"},"data-dist-info-metadata":{"sha256":"`+ms+`"},`...)
		}
		b = append(b, `"filename":`...)
		b = jsonStr(b, f.name)
		b = append(b, `,"hashes":{"sha256":"`+sha+`"},"requires-python":">=3.8","size":`...)
		b = strconv.AppendInt(b, f.content.size, 10)
		b = append(b, `,"upload-time":"`...)
		b = f.uploaded.AppendFormat(b, "2006-01-02T15:04:05.000000Z")
		b = append(b, `","url":`...)
		b = jsonStr(b, "../../"+m.relPath(f)+"#sha256="+sha)
		b = append(b, `,"yanked":false}`...)
	})
	b = append(b, `],"meta":{"_last-serial":`...)
	b = strconv.AppendInt(b, m.serial(i), 10)
	b = append(b, `,"api-version":"1.1"},"name":`...)
	b = jsonStr(b, m.norms[i])
	b = append(b, `,"versions":[`...)
	for k, v := range versions {
		if k > 0 {
			b = append(b, ',')
		}
		b = jsonStr(b, v)
	}
	return append(b, "]}"...)
}

// rootIndex is web/simple/index.html or index.v1_json of the mirror
// (every project), or upstream's /simple/ (upstream: the live ones).
func (m *Mirror) rootIndex(jsonForm, upstream bool) []byte {
	var b []byte
	if jsonForm {
		b = append(b, `{"meta":{"_last-serial":`...)
		b = strconv.AppendInt(b, m.lastSerial(), 10)
		b = append(b, `,"api-version":"1.1"},"projects":[`...)
	} else {
		b = append(b, "<!DOCTYPE html>\n<html>\n  <head>\n    <meta name=\"pypi:repository-version\" content=\"1.1\">\n    <title>Simple Index</title>\n  </head>\n  <body>\n"...)
	}
	first := true
	for _, i := range m.bySimple {
		if upstream && m.removed(int(i)) {
			continue
		}
		if jsonForm {
			if !first {
				b = append(b, ',')
			}
			b = append(b, `{"_last-serial":`...)
			b = strconv.AppendInt(b, m.serial(int(i)), 10)
			b = append(b, `,"name":`...)
			b = jsonStr(b, m.names[i])
			b = append(b, '}')
		} else {
			b = append(b, "    <a href=\""+m.norms[i]+"/\">"+m.names[i]+"</a><br/>\n"...)
		}
		first = false
	}
	if jsonForm {
		return append(b, "]}"...)
	}
	return append(b, "  </body>\n</html>"...)
}
