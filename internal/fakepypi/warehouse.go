package fakepypi

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/blake2b"
)

// Warehouse is a fake upstream that serves what the real one serves to a
// mirror client: the PEP 691 JSON simple index with `_last-serial` per
// project and in `meta`, `/pypi/<name>/json` with `X-PyPI-Last-Serial`, 301s
// for other spellings of a name, release files and their `.metadata` under
// `/packages/`, and per-project simple pages. Its state is a small in-memory
// model that a test changes between syncs (AddProject, AddRelease, Yank,
// DropFile, RemoveProject); every change takes the next serial, as upstream's
// journal does. Everything it serves is a function of the model and
// FilesBase, so two runs of the same scenario serve the same bytes.
//
// All methods are safe for concurrent use.
type Warehouse struct {
	mu sync.Mutex
	// filesBase prefixes every file URL ("http://127.0.0.1:PORT"); empty
	// means the URL of the request that asked for the document.
	filesBase string
	serial    int64
	projects  map[string]*Project // by normalized name
	stale     map[string]int      // normalized name -> stale answers still to give
	previous  map[string]*Project // the answer a stale cache holds
	overrides map[string]http.HandlerFunc
	requests  map[string]int // path -> count
	files     map[string]*File
	// answers holds rendered answers (the index, documents, pages) by
	// kind, base and name; every change of the model empties it, so an
	// answer is rendered once per state, not once per request
	answers map[string]cachedAnswer
	keep    bool // Prerender was called: answers are kept
}

// cachedAnswer is a rendered body and the serial its header carries.
type cachedAnswer struct {
	body   []byte
	serial int64
}

// Project is one project upstream: its display name (as upstream spells it),
// the serial of its last change and its releases in upstream's order.
type Project struct {
	Name     string
	Serial   int64
	Summary  string
	Releases []Release
}

// Release is one version and its files.
type Release struct {
	Version string
	Files   []File
}

// File is one release file. Zero fields take deterministic defaults: the
// content is generated from the file name, the upload time from the serial
// that added it, the package type from the extension.
type File struct {
	Filename       string
	Content        []byte
	UploadTime     time.Time
	RequiresPython string // empty: null
	Yanked         bool
	YankedReason   string
	// Metadata is the PEP 658 core metadata served at URL+".metadata"; nil
	// means the document says "core-metadata": false.
	Metadata []byte
	// MetadataNoHash advertises core metadata as `true` (no digest), which a
	// mirror cannot verify and so does not fetch.
	MetadataNoHash bool
	// Missing makes /packages/ answer 404 for this file (the document still
	// lists it).
	Missing bool

	path string // /packages/aa/bb/rest/filename, filled in by the warehouse
	// the hex digests of Content, filled in by the warehouse ("" for
	// unknown: computed when asked)
	sha256, md5sum, blake2 string
}

// Epoch is the upload time of serial 0; serial n is Epoch + n hours (plus a
// fraction of a second, so mtimes carry microseconds as upstream's do).
var Epoch = time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)

// NewWarehouse returns an empty upstream at serial startSerial. filesBase
// prefixes file URLs in documents (e.g. "http://127.0.0.1:39123"); "" takes
// the scheme and host of each request.
func NewWarehouse(filesBase string, startSerial int64) *Warehouse {
	return &Warehouse{
		filesBase: strings.TrimRight(filesBase, "/"),
		serial:    startSerial,
		projects:  map[string]*Project{},
		stale:     map[string]int{},
		previous:  map[string]*Project{},
		overrides: map[string]http.HandlerFunc{},
		requests:  map[string]int{},
		files:     map[string]*File{},
	}
}

var normRE = regexp.MustCompile(`[-_.]+`)

// Normalize is the PEP 503 normal form of a project name.
func Normalize(name string) string { return strings.ToLower(normRE.ReplaceAllString(name, "-")) }

// Serial is upstream's last serial.
func (w *Warehouse) Serial() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.serial
}

// SetFilesBase changes the prefix of file URLs (call it once the server
// listens, before any document is served).
func (w *Warehouse) SetFilesBase(base string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.filesBase = strings.TrimRight(base, "/")
	w.answers = nil
}

// next takes the next serial for project p (nil for a change without one)
// and keeps p's old state for stale answers.
func (w *Warehouse) next(p *Project) int64 {
	w.answers = nil
	w.serial++
	if p != nil {
		if p.Serial != 0 {
			w.previous[Normalize(p.Name)] = p.clone()
		}
		p.Serial = w.serial
	}
	return w.serial
}

func (p *Project) clone() *Project {
	c := *p
	c.Releases = make([]Release, len(p.Releases))
	for i, r := range p.Releases {
		c.Releases[i] = Release{Version: r.Version, Files: append([]File(nil), r.Files...)}
	}
	return &c
}

// AddProject adds a project (or replaces one of the same normalized name)
// with its releases, at the next serial, and returns that serial.
func (w *Warehouse) AddProject(name string, releases ...Release) int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	p := &Project{Name: name, Summary: "The " + name + " project ☃"}
	if old := w.projects[Normalize(name)]; old != nil {
		w.previous[Normalize(name)] = old.clone()
	}
	s := w.next(nil)
	p.Serial = s
	for _, r := range releases {
		w.addRelease(p, r, s)
	}
	w.projects[Normalize(name)] = p
	return s
}

// AddRelease appends a release to a project at the next serial.
func (w *Warehouse) AddRelease(name string, r Release) (int64, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	p := w.projects[Normalize(name)]
	if p == nil {
		return 0, fmt.Errorf("fakepypi: no project %q", name)
	}
	s := w.next(p)
	w.addRelease(p, r, s)
	return s, nil
}

func (w *Warehouse) addRelease(p *Project, r Release, serial int64) {
	rel := Release{Version: r.Version}
	for _, f := range r.Files {
		w.prepare(p, &f, serial)
		rel.Files = append(rel.Files, f)
	}
	p.Releases = append(p.Releases, rel)
}

// prepare fills a file's defaults and registers its path.
func (w *Warehouse) prepare(p *Project, f *File, serial int64) {
	if f.Content == nil {
		f.Content = []byte(fmt.Sprintf("%s release file %s\n", p.Name, f.Filename))
	}
	if f.UploadTime.IsZero() {
		f.UploadTime = Epoch.Add(time.Duration(serial)*time.Hour + time.Duration(serial)*123457*time.Microsecond)
	}
	b := blake2b.Sum256(f.Content)
	h := hex.EncodeToString(b[:])
	f.blake2, f.sha256, f.md5sum = h, f.SHA256(), f.md5()
	f.path = "/packages/" + h[:2] + "/" + h[2:4] + "/" + h[4:] + "/" + f.Filename
	w.files[f.path] = f
	if f.Metadata != nil {
		w.files[f.path+".metadata"] = &File{Filename: f.Filename + ".metadata", Content: f.Metadata, path: f.path + ".metadata"}
	}
}

// RemoveProject deletes a project upstream, at the next serial. Its files
// stay served (upstream's CDN keeps them), as a late client may still ask.
func (w *Warehouse) RemoveProject(name string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.projects[Normalize(name)] == nil {
		return fmt.Errorf("fakepypi: no project %q", name)
	}
	delete(w.projects, Normalize(name))
	w.next(nil)
	return nil
}

// Yank marks a release's files yanked (reason may be empty), at the next serial.
func (w *Warehouse) Yank(name, version, reason string) error {
	return w.change(name, func(p *Project) bool {
		found := false
		for i := range p.Releases {
			if p.Releases[i].Version != version {
				continue
			}
			for j := range p.Releases[i].Files {
				p.Releases[i].Files[j].Yanked = true
				p.Releases[i].Files[j].YankedReason = reason
				found = true
			}
		}
		return found
	})
}

// DropFile removes one file from whichever release lists it, at the next
// serial (the release stays, even when emptied, as upstream keeps it).
func (w *Warehouse) DropFile(name, filename string) error {
	return w.change(name, func(p *Project) bool {
		for i := range p.Releases {
			fs := p.Releases[i].Files
			for j := range fs {
				if fs[j].Filename == filename {
					p.Releases[i].Files = append(fs[:j:j], fs[j+1:]...)
					return true
				}
			}
		}
		return false
	})
}

// change applies fn to a project at the next serial; fn says whether it
// found what it was to change.
func (w *Warehouse) change(name string, fn func(*Project) bool) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	p := w.projects[Normalize(name)]
	if p == nil {
		return fmt.Errorf("fakepypi: no project %q", name)
	}
	old := p.clone()
	if !fn(p) {
		return fmt.Errorf("fakepypi: nothing to change in %q", name)
	}
	w.answers = nil
	w.serial++
	w.previous[Normalize(name)] = old
	p.Serial = w.serial
	return nil
}

// Stale makes the next n answers of /pypi/<name>/json come from a stale
// cache: the project's previous document with its older serial (or, for a
// project that never changed, serial-1), as a CDN in front of upstream can.
func (w *Warehouse) Stale(name string, n int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stale[Normalize(name)] = n
}

// Override answers path (exactly, e.g. "/pypi/foo/json") with h instead of
// the model, for hostile or failing answers; nil removes the override.
func (w *Warehouse) Override(path string, h http.HandlerFunc) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if h == nil {
		delete(w.overrides, path)
		return
	}
	w.overrides[path] = h
}

// Requests is how many times path was asked for.
func (w *Warehouse) Requests(path string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.requests[path]
}

// RequestsUnder is how many requests asked for a path beginning with prefix
// (e.g. "/packages/": the number of file downloads).
func (w *Warehouse) RequestsUnder(prefix string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for p, c := range w.requests {
		if strings.HasPrefix(p, prefix) {
			n += c
		}
	}
	return n
}

// ResetRequests forgets the request counts.
func (w *Warehouse) ResetRequests() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.requests = map[string]int{}
}

// Project returns a copy of a project's current state (nil if absent).
func (w *Warehouse) Project(name string) *Project {
	w.mu.Lock()
	defer w.mu.Unlock()
	p := w.projects[Normalize(name)]
	if p == nil {
		return nil
	}
	return p.clone()
}

// sortedProjects lists the projects in normalized-name order.
func (w *Warehouse) sortedProjects() []*Project {
	ps := make([]*Project, 0, len(w.projects))
	for _, p := range w.projects {
		ps = append(ps, p)
	}
	sort.Slice(ps, func(i, j int) bool { return Normalize(ps[i].Name) < Normalize(ps[j].Name) })
	return ps
}

// Path is the file's URL path under the warehouse ("/packages/…/name",
// with '+' and other reserved bytes percent-encoded as upstream does).
func (f *File) Path() string { return f.path }

// SHA256 is the hex sha256 of the file's content.
func (f *File) SHA256() string {
	if f.sha256 != "" {
		return f.sha256
	}
	s := sha256.Sum256(f.Content)
	return hex.EncodeToString(s[:])
}

func (f *File) md5() string {
	if f.md5sum != "" {
		return f.md5sum
	}
	s := md5.Sum(f.Content)
	return hex.EncodeToString(s[:])
}

func (f *File) blake2b() string {
	if f.blake2 != "" {
		return f.blake2
	}
	s := blake2b.Sum256(f.Content)
	return hex.EncodeToString(s[:])
}

// rendered is the answer cached under key, rendered by render when there is
// none for the model's present state. The caller holds w.mu.
func (w *Warehouse) rendered(key string, render func() cachedAnswer) cachedAnswer {
	if a, ok := w.answers[key]; ok {
		return a
	}
	a := render()
	if !w.keep {
		return a
	}
	if w.answers == nil {
		w.answers = map[string]cachedAnswer{}
	}
	w.answers[key] = a
	return a
}

// Prerender renders the root index (JSON and HTML) and every project's
// document now, so that serving them costs a copy and the fake upstream is
// not the bottleneck of a benchmark: the clients compared then all get
// answers of the same cost. From then on answers are kept (pages too, as
// they are first asked for) until the model changes, which drops them all;
// the next answers are kept again. Without a files base (SetFilesBase or
// NewWarehouse's) only the index is rendered now.
func (w *Warehouse) Prerender() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.keep = true
	w.indexAnswer(false)
	w.indexAnswer(true)
	if w.filesBase == "" {
		return
	}
	for _, p := range w.projects {
		w.documentAnswer(w.filesBase, p)
	}
}
