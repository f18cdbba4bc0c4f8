package synth

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/bandercheck/bandercheck/sources"
)

// serveUpstream answers as upstream does: /simple/ (PEP 691 JSON with
// serials when asked for, HTML otherwise), /simple/<name>/, /pypi/<name>/json
// (with X-PyPI-Last-Serial) and the files under /packages/, as upstream has
// them (a planted defect is in the bucket, not here). Projects removed
// upstream are 404.
func (s *Server) serveUpstream(w http.ResponseWriter, r *http.Request) {
	if s.serveStats(w, r) {
		return
	}
	m := s.Mirror
	p := r.URL.Path
	wantJSON := strings.Contains(r.Header.Get("Accept"), sources.SimpleJSONType)
	switch {
	case p == "/simple/" || p == "/simple":
		s.counts.index.Add(1)
		if wantJSON {
			w.Header().Set("Content-Type", sources.SimpleJSONType)
		} else {
			w.Header().Set("Content-Type", "text/html")
		}
		w.Header().Set("X-PyPI-Last-Serial", strconv.FormatInt(m.lastSerial(), 10))
		w.Write(m.rootIndex(wantJSON, true))
	case strings.HasPrefix(p, "/simple/"):
		s.counts.projectPage.Add(1)
		i, ok := s.live(strings.Trim(strings.TrimPrefix(p, "/simple/"), "/"))
		if !ok {
			s.counts.notFound.Add(1)
			http.NotFound(w, r)
			return
		}
		kind, ct := docSimple, "text/html"
		if wantJSON {
			kind, ct = docSimpleV1, sources.SimpleJSONType
		}
		w.Header().Set("Content-Type", ct)
		w.Header().Set("X-PyPI-Last-Serial", strconv.FormatInt(m.serial(i), 10))
		w.Write(m.document(i, kind, true))
	case strings.HasPrefix(p, "/pypi/") && strings.HasSuffix(p, "/json"):
		s.counts.projectJSON.Add(1)
		i, ok := s.live(strings.TrimSuffix(strings.TrimPrefix(p, "/pypi/"), "/json"))
		if !ok {
			s.counts.notFound.Add(1)
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-PyPI-Last-Serial", strconv.FormatInt(m.serial(i), 10))
		w.Write(m.document(i, docJSON, true))
	case strings.HasPrefix(p, "/packages/"):
		s.counts.files.Add(1)
		rel := strings.TrimPrefix(p, "/")
		f, ok := m.fileByRel(strings.TrimSuffix(rel, ".metadata"))
		meta := strings.HasSuffix(rel, ".metadata")
		if !ok || !f.designated() || meta && !f.meta {
			s.counts.notFound.Add(1)
			http.NotFound(w, r)
			return
		}
		o := f.content
		if meta {
			o = f.metaObject()
		}
		cw := &countingWriter{ResponseWriter: w}
		w.Header().Set("Content-Type", "application/octet-stream")
		http.ServeContent(cw, r, "", f.uploaded, m.newReader(o))
		s.counts.fileBytes.Add(cw.n)
	default:
		s.counts.notFound.Add(1)
		http.NotFound(w, r)
	}
}

// live finds a project upstream still lists, by any spelling of its name.
func (s *Server) live(name string) (int, bool) {
	i, ok := s.Mirror.project(sources.Normalize(name))
	if !ok || s.Mirror.removed(i) {
		return 0, false
	}
	return i, true
}
