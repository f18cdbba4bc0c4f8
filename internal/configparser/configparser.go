// Package configparser reads INI files exactly as Python's
// configparser.ConfigParser(delimiters="=") reads them with bandersnatch 8's
// settings: keys and section names are case-sensitive (bandersnatch's
// optionxform keeps a key as written), "#" and ";" start comments only at
// the start of a line, a value goes on over lines indented deeper than its
// key (empty lines included, trailing ones dropped), [DEFAULT] is seen from
// every section, and values are expanded with BasicInterpolation ("%%",
// "%(key)s", at most 10 levels deep) when they are read.
//
// Unlike Python it bounds what a file can make it hold: a file is at most
// MaxFileSize bytes, and one expanded value at most MaxValue bytes and
// MaxRefs references, so an interpolation bomb is a clear error, not an
// exhausted memory.
package configparser

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits of what one file may make the parser hold.
const (
	MaxDepth    = 10       // Python's MAX_INTERPOLATION_DEPTH
	MaxFileSize = 16 << 20 // bytes of one file
	MaxValue    = 16 << 20 // bytes of one expanded value
	MaxRefs     = 1 << 20  // %(key)s references expanded for one value
)

// DefaultSection is the section every other one inherits keys from.
const DefaultSection = "DEFAULT"

// Error is what Python would raise, by its class name (Kind), with the
// file, line, section and key where it is known.
type Error struct {
	Kind    string // Python's exception class, e.g. "InterpolationDepthError"; "InterpolationBudgetError" is ours
	File    string
	Line    int
	Section string
	Option  string
	Msg     string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Section != "" {
		fmt.Fprintf(&b, ": [%s]", e.Section)
		if e.Option != "" {
			b.WriteString(" " + e.Option)
		}
	}
	return b.String() + ": " + e.Msg
}

type section struct {
	keys []string          // in file order
	vals map[string]string // joined raw values
	from map[string]origin // where each value was set
}

type origin struct {
	file string
	line int
}

func newSection() *section {
	return &section{vals: map[string]string{}, from: map[string]origin{}}
}

func (s *section) set(k, v string, o origin) {
	if _, ok := s.vals[k]; !ok {
		s.keys = append(s.keys, k)
	}
	s.vals[k] = v
	s.from[k] = o
}

// File is the merged content of every file read into it, as one
// ConfigParser holds it after several read() calls.
type File struct {
	names    []string // sections other than DEFAULT, in order of appearance
	sections map[string]*section
	defaults *section
}

// New returns an empty parser.
func New() *File {
	return &File{sections: map[string]*section{}, defaults: newSection()}
}

// Read adds one file's content, named name in errors, as ConfigParser.read
// does: a later file's keys replace an earlier one's, while a section or key
// given twice within one file is an error.
func (f *File) Read(name string, data []byte) error {
	if len(data) > MaxFileSize {
		return &Error{Kind: "FileTooLarge", File: name, Msg: fmt.Sprintf("%d bytes; a config file may hold at most %d", len(data), MaxFileSize)}
	}
	if !utf8.Valid(data) {
		line := 1 + strings.Count(string(data[:firstInvalid(data)]), "\n")
		return &Error{Kind: "UnicodeDecodeError", File: name, Line: line, Msg: "not UTF-8 text"}
	}
	text := strings.ReplaceAll(string(data), "\r\n", "\n") // universal newlines, as Python's open()
	text = strings.ReplaceAll(text, "\r", "\n")
	lines := strings.Split(text, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	p := parse{f: f, name: name, added: map[string]bool{}, pending: map[*section]map[string][]string{}}
	for i, line := range lines {
		if err := p.line(i+1, line); err != nil {
			return err
		}
	}
	p.join()
	if len(p.bad) > 0 {
		return &Error{Kind: "ParsingError", File: name, Line: p.bad[0],
			Msg: fmt.Sprintf("line %s is neither a [section], a key = value, nor an indented continuation", joinInts(p.bad))}
	}
	return nil
}

func firstInvalid(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(b)
}

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, ", ")
}

// parse is the state of one Read, as the locals of configparser's _read.
type parse struct {
	f        *File
	name     string
	cur      *section
	sectName string
	opt      string // "" when no option is open (Python's None and "" alike)
	indent   int
	added    map[string]bool // sections and section\x00key seen in this file
	pending  map[*section]map[string][]string
	bad      []int
}

// isSpace is Python's str.isspace, which also strips and indents with
// U+001C..U+001F (Go's unicode.IsSpace does not).
func isSpace(r rune) bool { return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f) }

func strip(s string) string { return strings.TrimFunc(s, isSpace) }

func (p *parse) line(n int, line string) error {
	value := strip(line)
	comment := strings.HasPrefix(value, "#") || strings.HasPrefix(value, ";")
	if comment {
		value = ""
	}
	if value == "" {
		// empty_lines_in_values: an empty line (not a comment) belongs to the open value
		if !comment && p.cur != nil && p.opt != "" {
			p.appendLine("")
		}
		return nil
	}
	indent := 0 // in characters, as Python counts
	for _, r := range line {
		if !isSpace(r) {
			break
		}
		indent++
	}
	if p.cur != nil && p.opt != "" && indent > p.indent {
		p.appendLine(value)
		return nil
	}
	p.indent = indent
	if h, ok := header(value); ok {
		if s, exists := p.f.sections[h]; exists {
			if p.added[h] {
				return &Error{Kind: "DuplicateSectionError", File: p.name, Line: n, Section: h, Msg: "section given twice in this file"}
			}
			p.cur = s
			p.added[h] = true
		} else if h == DefaultSection {
			p.cur = p.f.defaults
		} else {
			p.cur = newSection()
			p.f.sections[h] = p.cur
			p.f.names = append(p.f.names, h)
			p.added[h] = true
		}
		p.sectName, p.opt = h, ""
		return nil
	}
	if p.cur == nil {
		return &Error{Kind: "MissingSectionHeaderError", File: p.name, Line: n, Msg: fmt.Sprintf("%q comes before any [section]", line)}
	}
	k, v, ok := strings.Cut(value, "=")
	if !ok {
		p.bad = append(p.bad, n)
		return nil
	}
	k = strings.TrimRightFunc(k, isSpace)
	if k == "" {
		p.bad = append(p.bad, n) // Python notes the error and still stores the value under ""
	}
	if p.added[p.sectName+"\x00"+k] {
		return &Error{Kind: "DuplicateOptionError", File: p.name, Line: n, Section: p.sectName, Option: k, Msg: "key given twice in this section of this file"}
	}
	p.added[p.sectName+"\x00"+k] = true
	p.opt = k
	m := p.pending[p.cur]
	if m == nil {
		m = map[string][]string{}
		p.pending[p.cur] = m
	}
	m[k] = []string{strip(v)}
	p.cur.set(k, "", origin{p.name, n}) // keeps the key's place; join fills the value
	return nil
}

func header(value string) (string, bool) {
	// "\[(?P<header>.+)\]" matched at the start: the header runs to the last "]"
	if !strings.HasPrefix(value, "[") {
		return "", false
	}
	end := strings.LastIndexByte(value, ']')
	if end < 2 {
		return "", false
	}
	return value[1:end], true
}

func (p *parse) appendLine(s string) {
	m := p.pending[p.cur]
	m[p.opt] = append(m[p.opt], s)
}

// join sets each value read in this file: its lines joined by "\n", the
// trailing whitespace dropped.
func (p *parse) join() {
	for s, m := range p.pending {
		for k, lines := range m {
			s.vals[k] = strings.TrimRightFunc(strings.Join(lines, "\n"), isSpace)
		}
	}
}

// Sections lists the sections other than DEFAULT, in order of appearance.
func (f *File) Sections() []string { return f.names }

// HasSection tells whether the section exists (DEFAULT never does, as in Python).
func (f *File) HasSection(name string) bool { _, ok := f.sections[name]; return ok }

// HasOption tells whether key can be read in section: its own or DEFAULT's.
func (f *File) HasOption(sect, key string) bool {
	if _, ok := f.defaults.vals[key]; ok && (sect == DefaultSection || sect == "" || f.HasSection(sect)) {
		return true
	}
	s, ok := f.sections[sect]
	if !ok {
		return false
	}
	_, ok = s.vals[key]
	return ok
}

// Options lists a section's keys, then DEFAULT's that it does not give.
func (f *File) Options(sect string) []string {
	s, ok := f.sections[sect]
	if !ok && sect != DefaultSection {
		return nil
	}
	var out []string
	if ok {
		out = append(out, s.keys...)
	}
	for _, k := range f.defaults.keys {
		if !ok || !has(s, k) {
			out = append(out, k)
		}
	}
	return out
}

func has(s *section, k string) bool { _, ok := s.vals[k]; return ok }

// Raw returns a key's value before interpolation.
func (f *File) Raw(sect, key string) (string, error) {
	s, ok := f.sections[sect]
	if !ok && sect != DefaultSection {
		return "", &Error{Kind: "NoSectionError", Section: sect, Msg: "no such section"}
	}
	if ok && has(s, key) {
		return s.vals[key], nil
	}
	if has(f.defaults, key) {
		return f.defaults.vals[key], nil
	}
	return "", &Error{Kind: "NoOptionError", Section: sect, Option: key, Msg: "no such key"}
}

// Get returns a key's value, interpolated as ConfigParser.get does.
func (f *File) Get(sect, key string) (string, error) {
	raw, err := f.Raw(sect, key)
	if err != nil {
		return "", err
	}
	if !strings.Contains(raw, "%") {
		return raw, nil
	}
	x := expander{f: f, sect: sect, opt: key, at: f.origin(sect, key)}
	if err := x.some(raw, 1); err != nil {
		return "", err
	}
	return x.out.String(), nil
}

func (f *File) origin(sect, key string) origin {
	if s, ok := f.sections[sect]; ok && has(s, key) {
		return s.from[key]
	}
	return f.defaults.from[key]
}

// expander is BasicInterpolation's _interpolate_some, with a budget.
type expander struct {
	f         *File
	sect, opt string
	at        origin
	out       strings.Builder
	refs      int
}

func (x *expander) fail(kind, msg string) error {
	return &Error{Kind: kind, File: x.at.file, Line: x.at.line, Section: x.sect, Option: x.opt, Msg: msg}
}

func (x *expander) write(s string) error {
	if x.out.Len()+len(s) > MaxValue {
		return x.fail("InterpolationBudgetError", fmt.Sprintf("the value expands to more than %d bytes: is a %%(key)s reference repeated at every level? bandersnatch would exhaust its memory on it", MaxValue))
	}
	x.out.WriteString(s)
	return nil
}

func (x *expander) some(rest string, depth int) error {
	if depth > MaxDepth {
		return x.fail("InterpolationDepthError", fmt.Sprintf("%%(key)s references nest deeper than %d levels (a reference to itself, or a chain too long), as Python refuses", MaxDepth))
	}
	for rest != "" {
		p := strings.IndexByte(rest, '%')
		if p < 0 {
			return x.write(rest)
		}
		if err := x.write(rest[:p]); err != nil {
			return err
		}
		rest = rest[p:]
		switch {
		case strings.HasPrefix(rest, "%%"):
			if err := x.write("%"); err != nil {
				return err
			}
			rest = rest[2:]
		case strings.HasPrefix(rest, "%("):
			end := strings.IndexByte(rest, ')')
			if end < 3 || end+1 >= len(rest) || rest[end+1] != 's' {
				return x.fail("InterpolationSyntaxError", fmt.Sprintf("bad interpolation variable reference %q: write %%(key)s, or %%%% for a %%", short(rest)))
			}
			name := rest[2:end]
			rest = rest[end+2:]
			x.refs++
			if x.refs > MaxRefs {
				return x.fail("InterpolationBudgetError", fmt.Sprintf("more than %d %%(key)s references to expand: is a reference repeated at every level? bandersnatch would not finish it", MaxRefs))
			}
			v, err := x.f.Raw(x.sect, name)
			if err != nil {
				return x.fail("InterpolationMissingOptionError", fmt.Sprintf("%%(%s)s names no key of this section or of [DEFAULT]", name))
			}
			if strings.Contains(v, "%") {
				if err := x.some(v, depth+1); err != nil {
					return err
				}
			} else if err := x.write(v); err != nil {
				return err
			}
		default:
			return x.fail("InterpolationSyntaxError", fmt.Sprintf("'%%' must be followed by '%%' or '(', found %q", short(rest)))
		}
	}
	return nil
}

func short(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
