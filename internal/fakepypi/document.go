package fakepypi

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strings"
)

// obj is a JSON object that keeps its keys in the order given, as
// upstream's documents do.
type obj []kv

type kv struct {
	k string
	v any
}

// MarshalJSON writes the keys in order.
func (o obj) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, e := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(e.k)
		b.Write(k)
		b.WriteByte(':')
		v, err := json.Marshal(e.v)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// fileURL is the file's URL: base + its path with '+' (and what PathEscape
// escapes) percent-encoded, as upstream writes `%2B` for local versions.
func fileURL(base, path string) string {
	segs := strings.Split(path, "/")
	for i, s := range segs {
		segs[i] = strings.ReplaceAll(url.PathEscape(s), "+", "%2B")
	}
	return base + strings.Join(segs, "/")
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func packageType(filename string) (string, string) {
	switch {
	case strings.HasSuffix(filename, ".whl"):
		parts := strings.Split(strings.TrimSuffix(filename, ".whl"), "-")
		py := "py3"
		if len(parts) >= 3 {
			py = parts[len(parts)-3]
		}
		return "bdist_wheel", py
	case strings.HasSuffix(filename, ".egg"):
		return "bdist_egg", "3.8"
	default:
		return "sdist", "source"
	}
}

// fileJSON is one entry of releases.<version>[] as upstream's JSON API
// writes it.
func fileJSON(base string, f *File) obj {
	pt, py := packageType(f.Filename)
	o := obj{
		{"comment_text", ""},
		{"digests", obj{{"blake2b_256", f.blake2b()}, {"md5", f.md5()}, {"sha256", f.SHA256()}}},
		{"downloads", -1},
		{"filename", f.Filename},
		{"has_sig", false},
		{"md5_digest", f.md5()},
		{"packagetype", pt},
		{"python_version", py},
		{"requires_python", nullable(f.RequiresPython)},
		{"size", len(f.Content)},
		{"upload_time", f.UploadTime.UTC().Format("2006-01-02T15:04:05")},
		{"upload_time_iso_8601", f.UploadTime.UTC().Format("2006-01-02T15:04:05.000000Z")},
		{"url", fileURL(base, f.path)},
		{"yanked", f.Yanked},
		{"yanked_reason", nullable(f.YankedReason)},
	}
	var meta any = false
	switch {
	case f.Metadata != nil:
		m := &File{Content: f.Metadata}
		meta = obj{{"sha256", m.SHA256()}}
	case f.MetadataNoHash:
		meta = true
	}
	o = append(o, kv{"core-metadata", meta}, kv{"data-dist-info-metadata", meta})
	return o
}

// document is /pypi/<name>/json for p: info, last_serial, releases (in
// upstream's order), urls (the files of the last release), vulnerabilities.
func document(base string, p *Project) []byte {
	latest := ""
	var urls []any
	releases := obj{}
	for _, r := range p.Releases {
		files := []any{}
		for i := range r.Files {
			files = append(files, fileJSON(base, &r.Files[i]))
		}
		releases = append(releases, kv{r.Version, files})
		latest = r.Version
		urls = files
	}
	if urls == nil {
		urls = []any{}
	}
	info := obj{
		{"author", "A. Ûthor <a@example.org>"},
		{"classifiers", []string{"Programming Language :: Python :: 3"}},
		{"description", "Long <b>description</b> of " + p.Name + "\n\n\"quoted\" \\ tab\t 𝄞 ☃"},
		{"description_content_type", nil},
		{"downloads", obj{{"last_day", -1}, {"last_month", -1}, {"last_week", -1}}},
		{"home_page", ""},
		{"keywords", nil},
		{"license", "MIT"},
		{"name", p.Name},
		{"project_urls", obj{}},
		{"requires_dist", nil},
		{"requires_python", nil},
		{"summary", p.Summary},
		{"version", latest},
		{"yanked", false},
		{"yanked_reason", nil},
	}
	doc := obj{
		{"info", info},
		{"last_serial", p.Serial},
		{"releases", releases},
		{"urls", urls},
		{"vulnerabilities", []any{}},
	}
	b, err := json.Marshal(doc)
	if err != nil {
		panic(err) // the model holds only strings, numbers and booleans
	}
	return b
}

// Document is the JSON API document upstream serves now for name (nil when
// the project does not exist), with file URLs under the warehouse's base.
func (w *Warehouse) Document(name string) []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	p := w.projects[Normalize(name)]
	if p == nil {
		return nil
	}
	return document(w.filesBase, p)
}

// index is the PEP 691 JSON root index.
func (w *Warehouse) index() []byte {
	projects := []any{}
	for _, p := range w.sortedProjects() {
		projects = append(projects, obj{{"_last-serial", p.Serial}, {"name", p.Name}})
	}
	b, _ := json.Marshal(obj{
		{"meta", obj{{"_last-serial", w.serial}, {"api-version", "1.1"}}},
		{"projects", projects},
	})
	return b
}
