package synth

import (
	"sort"
	"strings"
)

// The bucket's key space, in byte order, as a merge of a few sorted streams:
// the root's status, web/json, web/packages, web/pypi and web/simple (with
// its root index pages). Each stream can seek to the first key at or after
// any string, so a listing may start anywhere without holding anything.

// Entry kinds.
const (
	entStatus = iota
	entRootIndex
	entJSON
	entPyPI
	entSimple
	entPackage
)

// entry is one object of the bucket.
type entry struct {
	key  string
	kind int
	i    int  // project (documents), or which root index page
	sub  int  // entSimple: docSimple or docSimpleV1; entPackage: 1 for the .metadata
	f    file // entPackage
}

type stream interface {
	seek(k string) // to the first entry whose key is >= k
	cur() (entry, bool)
	next()
}

// arrayStream is n entries whose keys sort as their positions.
type arrayStream struct {
	n   int
	at  func(pos int) entry
	pos int
}

func (s *arrayStream) seek(k string) {
	s.pos = sort.Search(s.n, func(p int) bool { return s.at(p).key >= k })
}

func (s *arrayStream) cur() (entry, bool) {
	if s.pos >= s.n {
		return entry{}, false
	}
	return s.at(s.pos), true
}

func (s *arrayStream) next() { s.pos++ }

// packageStream walks release files (and their .metadata) in key order,
// skipping what the bucket does not hold.
type packageStream struct {
	m   *Mirror
	g   uint64
	sub int
	f   file // the file at g
	ok  bool // f is loaded
}

func (s *packageStream) load() {
	if !s.ok && s.g < s.m.slots {
		s.f, s.ok = s.m.fileAtG(s.g), true
	}
}

// settle moves forward to an entry the bucket holds.
func (s *packageStream) settle() {
	for s.g < s.m.slots {
		s.load()
		if s.f.inBucket() && (s.sub == 0 || s.f.meta) {
			return
		}
		s.g, s.sub, s.ok = s.g+1, 0, false
	}
}

func (s *packageStream) seek(k string) {
	g := sort.Search(int(s.m.slots), func(g int) bool { return s.m.key(s.m.fileAtG(uint64(g))) >= k })
	s.g, s.sub, s.ok = uint64(g), 0, false
	if g > 0 {
		if prev := s.m.fileAtG(uint64(g - 1)); prev.meta && s.m.key(prev)+".metadata" >= k {
			s.g, s.sub, s.f, s.ok = uint64(g-1), 1, prev, true
		}
	}
	s.settle()
}

func (s *packageStream) cur() (entry, bool) {
	if s.g >= s.m.slots {
		return entry{}, false
	}
	s.load()
	k := s.m.key(s.f)
	if s.sub == 1 {
		k += ".metadata"
	}
	return entry{key: k, kind: entPackage, sub: s.sub, f: s.f}, true
}

func (s *packageStream) next() {
	if s.sub == 0 && s.f.meta {
		s.sub = 1
	} else {
		s.g, s.sub, s.ok = s.g+1, 0, false
	}
	s.settle()
}

// cursor is the merge of every stream.
type cursor struct{ streams []stream }

func (m *Mirror) newCursor() *cursor {
	n := len(m.names)
	roots := []string{"index.html", "index.v1_json"}
	return &cursor{streams: []stream{
		&arrayStream{n: 1, at: func(int) entry { return entry{key: m.root + "status", kind: entStatus} }},
		&arrayStream{n: n, at: func(p int) entry {
			i := int(m.byName[p])
			return entry{key: m.root + "web/json/" + m.names[i], kind: entJSON, i: i}
		}},
		&packageStream{m: m},
		&arrayStream{n: n, at: func(p int) entry {
			i := int(m.byPyPI[p])
			return entry{key: m.root + "web/pypi/" + m.names[i] + "/json", kind: entPyPI, i: i}
		}},
		&arrayStream{n: 2, at: func(p int) entry {
			return entry{key: m.root + "web/simple/" + roots[p], kind: entRootIndex, i: p}
		}},
		&arrayStream{n: 2 * n, at: func(p int) entry {
			i := int(m.bySimple[p/2])
			return entry{key: m.root + "web/simple/" + m.norms[i] + "/" + roots[p%2], kind: entSimple, i: i, sub: docSimple + p%2}
		}},
	}}
}

func (c *cursor) seek(k string) {
	for _, s := range c.streams {
		s.seek(k)
	}
}

// least is the stream holding the smallest current key, or nil at the end.
func (c *cursor) least() (stream, entry) {
	var best stream
	var be entry
	for _, s := range c.streams {
		if e, ok := s.cur(); ok && (best == nil || e.key < be.key) {
			best, be = s, e
		}
	}
	return best, be
}

// lookup finds the entry of key k.
func (m *Mirror) lookup(k string) (entry, bool) {
	if !strings.HasPrefix(k, m.root) {
		return entry{}, false
	}
	rel := k[len(m.root):]
	if strings.HasPrefix(rel, "web/packages/") {
		f, ok := m.fileByRel(strings.TrimSuffix(rel[len("web/"):], ".metadata"))
		sub := 0
		if strings.HasSuffix(rel, ".metadata") {
			sub = 1
		}
		if !ok || !f.inBucket() || sub == 1 && !f.meta {
			return entry{}, false
		}
		return entry{key: k, kind: entPackage, sub: sub, f: f}, true
	}
	c := m.newCursor()
	switch { // seek only the stream that can hold k
	case strings.HasPrefix(rel, "web/json/"):
		c.streams = c.streams[1:2]
	case strings.HasPrefix(rel, "web/pypi/"):
		c.streams = c.streams[3:4]
	case strings.HasPrefix(rel, "web/simple/"):
		c.streams = c.streams[4:6]
	default:
		c.streams = c.streams[0:1]
	}
	c.seek(k)
	if _, e := c.least(); e.key == k {
		return e, true
	}
	return entry{}, false
}

// project finds a project by its normalized name.
func (m *Mirror) project(norm string) (int, bool) {
	p := sort.Search(len(m.bySimple), func(p int) bool { return m.norms[m.bySimple[p]]+"/" >= norm+"/" })
	if p < len(m.bySimple) && m.norms[m.bySimple[p]] == norm {
		return int(m.bySimple[p]), true
	}
	return 0, false
}

// Listed is one key or common prefix of a listing page.
type Listed struct {
	Key    string
	Prefix bool // a common prefix (ends in the delimiter)
	Info   Info // for keys
}

// List returns up to max keys and common prefixes under prefix, after the
// key after (exclusive; a common prefix as after skips all it holds),
// and whether more follow.
func (m *Mirror) List(prefix, after string, afterPrefix bool, delimiter string, max int) ([]Listed, bool) {
	c := m.newCursor()
	from := prefix
	if after >= prefix {
		from = after + "\x00"
		if afterPrefix {
			from = successor(after)
		}
	}
	c.seek(from)
	var out []Listed
	for {
		s, e := c.least()
		if s == nil || !strings.HasPrefix(e.key, prefix) {
			return out, false
		}
		if len(out) == max {
			return out, true
		}
		if delimiter != "" {
			if d := strings.Index(e.key[len(prefix):], delimiter); d >= 0 {
				cp := e.key[:len(prefix)+d+len(delimiter)]
				out = append(out, Listed{Key: cp, Prefix: true})
				c.seek(successor(cp))
				continue
			}
		}
		out = append(out, Listed{Key: e.key, Info: m.info(e, false)})
		s.next()
	}
}

// successor is the least string greater than every string starting with p.
func successor(p string) string {
	b := []byte(p)
	for len(b) > 0 && b[len(b)-1] == 0xff {
		b = b[:len(b)-1]
	}
	if len(b) == 0 {
		return "\xff\xff\xff\xff" // past every key
	}
	b[len(b)-1]++
	return string(b)
}
