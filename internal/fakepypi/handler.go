package fakepypi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// SerialHeader is the header upstream puts its serial in.
const SerialHeader = "X-PyPI-Last-Serial"

// JSONIndexType is the PEP 691 media type of the JSON simple API.
const JSONIndexType = "application/vnd.pypi.simple.v1+json"

// ServeHTTP answers as upstream does; see Warehouse.
func (w *Warehouse) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	w.mu.Lock()
	w.requests[path]++
	h := w.overrides[path]
	w.mu.Unlock()
	if h != nil {
		h(rw, r)
		return
	}
	switch {
	case path == "/simple":
		redirect(rw, r, "/simple/")
	case path == "/simple/":
		w.serveIndex(rw, r)
	case strings.HasPrefix(path, "/simple/"):
		w.serveProjectPage(rw, r, strings.TrimPrefix(path, "/simple/"))
	case strings.HasPrefix(path, "/pypi/") && strings.HasSuffix(path, "/json"):
		w.serveDocument(rw, r, strings.TrimSuffix(strings.TrimPrefix(path, "/pypi/"), "/json"))
	case strings.HasPrefix(path, "/packages/"):
		w.serveFile(rw, r, path)
	default:
		http.NotFound(rw, r)
	}
}

func redirect(rw http.ResponseWriter, r *http.Request, to string) {
	if r.URL.RawQuery != "" {
		to += "?" + r.URL.RawQuery
	}
	http.Redirect(rw, r, to, http.StatusMovedPermanently)
}

func wantsJSON(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), JSONIndexType)
}

func (w *Warehouse) serveIndex(rw http.ResponseWriter, r *http.Request) {
	js := wantsJSON(r)
	ctype := "text/html; charset=utf-8"
	if js {
		ctype = JSONIndexType
	}
	w.mu.Lock()
	a := w.indexAnswer(js)
	w.mu.Unlock()
	write(rw, r, ctype, a.serial, a.body)
}

// indexAnswer is the root index in JSON or HTML. The caller holds w.mu.
func (w *Warehouse) indexAnswer(js bool) cachedAnswer {
	if js {
		return w.rendered("index.json", func() cachedAnswer { return cachedAnswer{w.index(), w.serial} })
	}
	return w.rendered("index.html", func() cachedAnswer {
		var b bytes.Buffer
		b.WriteString("<!DOCTYPE html>\n<html>\n  <head>\n    <meta name=\"pypi:repository-version\" content=\"1.1\">\n    <title>Simple index</title>\n  </head>\n  <body>\n")
		for _, p := range w.sortedProjects() {
			fmt.Fprintf(&b, "    <a href=\"/simple/%s/\">%s</a>\n", Normalize(p.Name), html.EscapeString(p.Name))
		}
		b.WriteString("  </body>\n</html>\n")
		return cachedAnswer{b.Bytes(), w.serial}
	})
}

// documentAnswer is p's JSON API document with file URLs under base. The
// caller holds w.mu.
func (w *Warehouse) documentAnswer(base string, p *Project) cachedAnswer {
	return w.rendered("doc\x00"+base+"\x00"+Normalize(p.Name), func() cachedAnswer { return cachedAnswer{document(base, p), p.Serial} })
}

func write(rw http.ResponseWriter, r *http.Request, ctype string, serial int64, body []byte) {
	rw.Header().Set("Content-Type", ctype)
	rw.Header().Set(SerialHeader, strconv.FormatInt(serial, 10))
	http.ServeContent(rw, r, "", time.Time{}, bytes.NewReader(body))
}

// serveProjectPage answers /simple/<name>/ in HTML or PEP 691 JSON, with a
// 301 to the normalized name (and to the trailing slash) as upstream does.
func (w *Warehouse) serveProjectPage(rw http.ResponseWriter, r *http.Request, rest string) {
	name, slash := strings.CutSuffix(rest, "/")
	if strings.Contains(name, "/") || name == "" {
		http.NotFound(rw, r)
		return
	}
	if n := Normalize(name); n != name || !slash {
		redirect(rw, r, "/simple/"+n+"/")
		return
	}
	w.mu.Lock()
	p := w.projects[name]
	if p == nil {
		w.mu.Unlock()
		http.NotFound(rw, r)
		return
	}
	base, serial := w.base(r), p.Serial
	var a cachedAnswer
	ctype := "text/html; charset=utf-8"
	if wantsJSON(r) {
		ctype = JSONIndexType
		a = w.rendered("page.json\x00"+base+"\x00"+name, func() cachedAnswer { return cachedAnswer{projectJSON(base, p), serial} })
	} else {
		a = w.rendered("page.html\x00"+base+"\x00"+name, func() cachedAnswer { return cachedAnswer{projectHTML(base, p), serial} })
	}
	w.mu.Unlock()
	write(rw, r, ctype, a.serial, a.body)
}

func projectHTML(base string, p *Project) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "<!DOCTYPE html>\n<html>\n  <head>\n    <meta name=\"pypi:repository-version\" content=\"1.1\">\n    <title>Links for %s</title>\n  </head>\n  <body>\n    <h1>Links for %s</h1>\n", html.EscapeString(p.Name), html.EscapeString(p.Name))
	for _, r := range p.Releases {
		for i := range r.Files {
			f := &r.Files[i]
			attrs := ""
			if f.RequiresPython != "" {
				attrs += fmt.Sprintf(` data-requires-python="%s"`, html.EscapeString(f.RequiresPython))
			}
			if f.Yanked {
				attrs += fmt.Sprintf(` data-yanked="%s"`, html.EscapeString(f.YankedReason))
			}
			fmt.Fprintf(&b, "    <a href=\"%s#sha256=%s\"%s>%s</a><br />\n", html.EscapeString(fileURL(base, f.path)), f.SHA256(), attrs, html.EscapeString(f.Filename))
		}
	}
	fmt.Fprintf(&b, "  </body>\n</html>\n<!--SERIAL %d-->\n", p.Serial)
	return b.Bytes()
}

func projectJSON(base string, p *Project) []byte {
	files := []any{}
	versions := []string{}
	for _, r := range p.Releases {
		versions = append(versions, r.Version)
		for i := range r.Files {
			f := &r.Files[i]
			var yanked any = f.Yanked
			if f.Yanked && f.YankedReason != "" {
				yanked = f.YankedReason
			}
			files = append(files, obj{
				{"filename", f.Filename},
				{"hashes", obj{{"sha256", f.SHA256()}}},
				{"requires-python", nullable(f.RequiresPython)},
				{"size", len(f.Content)},
				{"upload-time", f.UploadTime.UTC().Format("2006-01-02T15:04:05.000000Z")},
				{"url", fileURL(base, f.path)},
				{"yanked", yanked},
			})
		}
	}
	b, _ := json.Marshal(obj{
		{"files", files},
		{"meta", obj{{"_last-serial", p.Serial}, {"api-version", "1.1"}}},
		{"name", Normalize(p.Name)},
		{"versions", versions},
	})
	return b
}

// base is the prefix of file URLs for a request.
func (w *Warehouse) base(r *http.Request) string {
	if w.filesBase != "" {
		return w.filesBase
	}
	return "http://" + r.Host
}

// serveDocument answers /pypi/<name>/json: 404 for an unknown project, a
// 301 to upstream's spelling of the name, a stale answer when one is due.
func (w *Warehouse) serveDocument(rw http.ResponseWriter, r *http.Request, name string) {
	if strings.Contains(name, "/") {
		http.NotFound(rw, r)
		return
	}
	w.mu.Lock()
	p := w.projects[Normalize(name)]
	if p == nil {
		w.mu.Unlock()
		http.NotFound(rw, r)
		return
	}
	if p.Name != name {
		w.mu.Unlock()
		redirect(rw, r, "/pypi/"+p.Name+"/json")
		return
	}
	key := Normalize(name)
	var a cachedAnswer
	if w.stale[key] > 0 { // a stale cache's answer, rendered as it is asked
		w.stale[key]--
		old := w.previous[key]
		if old == nil {
			old = p.clone()
			old.Serial--
		}
		a = cachedAnswer{document(w.base(r), old), old.Serial}
	} else {
		a = w.documentAnswer(w.base(r), p)
	}
	w.mu.Unlock()
	write(rw, r, "application/json", a.serial, a.body)
}

func (w *Warehouse) serveFile(rw http.ResponseWriter, r *http.Request, path string) {
	w.mu.Lock()
	f := w.files[path]
	w.mu.Unlock()
	if f == nil || f.Missing {
		http.NotFound(rw, r)
		return
	}
	rw.Header().Set("Content-Type", "application/octet-stream")
	http.ServeContent(rw, r, "", f.UploadTime, bytes.NewReader(f.Content))
}
