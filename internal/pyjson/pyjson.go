// Package pyjson reads and writes JSON byte for byte as Python's json
// module does: a Value keeps an object's first-key order (a repeated key
// takes its last value, as a dict does) and number literals; Dumps and
// DumpIndentSorted write json.dumps's default and indent=4, sort_keys=True
// forms with ensure_ascii and Python's float repr.
package pyjson

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/go-json-experiment/json/jsontext"
)

// Value is a JSON value as Python's json.loads holds it: objects keep the
// order of their first keys (a repeated key keeps its first place and takes
// its last value, as a dict does), numbers keep their literal until written.
type Value struct {
	Kind  byte     // KindObject, KindArray, KindString, KindInt, KindFloat, KindTrue, KindFalse, KindNull
	Str   string   // string value; number literal
	Keys  []string // object keys, in order
	Elems []*Value // object values (parallel to Keys) or array elements
}

// Kinds of Value.
const (
	KindObject = '{'
	KindArray  = '['
	KindString = '"'
	KindInt    = 'i'
	KindFloat  = 'f'
	KindTrue   = 't'
	KindFalse  = 'F'
	KindNull   = 'n'
)

// maxDepth bounds nesting, as Python's recursion limit does for json.loads.
const maxDepth = 900

// ParseJSON reads one JSON document whole (nothing may follow it).
func ParseJSON(doc []byte) (*Value, error) {
	p := parsers.Get().(*parser)
	defer p.release()
	// from a bytes.Buffer the decoder reads doc in place, with no copy
	p.dec.Reset(bytes.NewBuffer(doc), jsontext.AllowDuplicateNames(true))
	v, err := p.value(0)
	if err != nil {
		return nil, fmt.Errorf("parse the document: %w", err)
	}
	if _, err := p.dec.ReadToken(); err != io.EOF {
		return nil, errors.New("parse the document: data after the JSON value")
	}
	return v, nil
}

// parser is one parse's decoder and scratch space, pooled: a sync parses a
// document a project, and a new decoder, a map a JSON object and slices
// grown one append at a time were most of what the parse allocated.
type parser struct {
	dec   *jsontext.Decoder
	slab  []Value  // Values are cut from it, slabSize at a time
	keys  []string // the keys of the objects being read, innermost last
	elems []*Value // their values (or the arrays' elements), innermost last
}

// slabSize is how many Values one allocation holds.
const slabSize = 64

// mapAfter is how many keys an object may have before its repeated keys
// are found through a map (a project's releases: thousands) rather than by
// looking through the keys so far; a release file's object has 17 keys,
// info about as many, and a map for each was a third of the parse.
const mapAfter = 32

var parsers = sync.Pool{New: func() any { return &parser{dec: jsontext.NewDecoder(new(bytes.Buffer))} }}

// release returns p to the pool holding nothing of the document.
func (p *parser) release() {
	clear(p.keys[:cap(p.keys)])
	clear(p.elems[:cap(p.elems)])
	p.keys, p.elems, p.slab = p.keys[:0], p.elems[:0], nil
	p.dec.Reset(new(bytes.Buffer)) // (dropping doc)
	parsers.Put(p)
}

// alloc is a new Value of kind k, from the slab.
func (p *parser) alloc(k byte, str string) *Value {
	if len(p.slab) == cap(p.slab) {
		p.slab = make([]Value, 0, slabSize)
	}
	p.slab = append(p.slab, Value{Kind: k, Str: str})
	return &p.slab[len(p.slab)-1]
}

func (p *parser) value(depth int) (*Value, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("nested deeper than %d", maxDepth)
	}
	dec := p.dec
	tok, err := dec.ReadToken()
	if err != nil {
		return nil, err
	}
	switch tok.Kind() {
	case '{':
		v := p.alloc(KindObject, "")
		kbase, ebase := len(p.keys), len(p.elems)
		var index map[string]int // past mapAfter keys
		for dec.PeekKind() != '}' {
			k, err := dec.ReadToken()
			if err != nil {
				return nil, err
			}
			key := k.String() // before the next read voids the token
			e, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			keys := p.keys[kbase:]
			i := -1
			if index != nil {
				if j, ok := index[key]; ok {
					i = j
				}
			} else {
				i = slices.Index(keys, key)
			}
			if i >= 0 { // a repeated key keeps its place and takes the last value
				p.elems[ebase+i] = e
				continue
			}
			if index == nil && len(keys) >= mapAfter {
				index = make(map[string]int, 2*len(keys))
				for j, k := range keys {
					index[k] = j
				}
			}
			if index != nil {
				index[key] = len(keys)
			}
			p.keys = append(p.keys, key)
			p.elems = append(p.elems, e)
		}
		if _, err := dec.ReadToken(); err != nil {
			return nil, err
		}
		if n := len(p.keys) - kbase; n > 0 {
			v.Keys = slices.Clone(p.keys[kbase:])
			v.Elems = slices.Clone(p.elems[ebase:])
			clear(p.keys[kbase:])
			clear(p.elems[ebase:])
			p.keys, p.elems = p.keys[:kbase], p.elems[:ebase]
		}
		return v, nil
	case '[':
		v := p.alloc(KindArray, "")
		ebase := len(p.elems)
		for dec.PeekKind() != ']' {
			e, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			p.elems = append(p.elems, e)
		}
		if _, err := dec.ReadToken(); err != nil {
			return nil, err
		}
		if len(p.elems) > ebase {
			v.Elems = slices.Clone(p.elems[ebase:])
			clear(p.elems[ebase:])
			p.elems = p.elems[:ebase]
		}
		return v, nil
	case '"':
		return p.alloc(KindString, tok.String()), nil
	case '0':
		lit := tok.String()
		if strings.ContainsAny(lit, ".eE") {
			return p.alloc(KindFloat, lit), nil
		}
		return p.alloc(KindInt, lit), nil
	case 't':
		return p.alloc(KindTrue, ""), nil
	case 'f':
		return p.alloc(KindFalse, ""), nil
	case 'n':
		return p.alloc(KindNull, ""), nil
	}
	return nil, fmt.Errorf("unexpected token %v", tok)
}

// Get returns the value of key in an object (nil when absent or v is not one).
func (v *Value) Get(key string) *Value {
	if v == nil || v.Kind != KindObject {
		return nil
	}
	if i := slices.Index(v.Keys, key); i >= 0 {
		return v.Elems[i]
	}
	return nil
}

// Truthy is Python's truth value of v.
func (v *Value) Truthy() bool {
	if v == nil {
		return false
	}
	switch v.Kind {
	case KindObject, KindArray:
		return len(v.Elems) > 0
	case KindString:
		return v.Str != ""
	case KindInt:
		return strings.Trim(v.Str, "-0") != ""
	case KindFloat:
		f, _ := strconv.ParseFloat(v.Str, 64)
		return f != 0
	case KindTrue:
		return true
	}
	return false
}

// Any converts v into what encoding/json decodes into any (the filters'
// input): map[string]any, []any, string, float64, bool, nil; integers that
// fit become int64 as the metadata scan gives sizes.
func (v *Value) Any() any {
	switch v.Kind {
	case KindObject:
		m := make(map[string]any, len(v.Keys))
		for i, k := range v.Keys {
			m[k] = v.Elems[i].Any()
		}
		return m
	case KindArray:
		a := make([]any, len(v.Elems))
		for i, e := range v.Elems {
			a[i] = e.Any()
		}
		return a
	case KindString:
		return v.Str
	case KindInt:
		if n, err := strconv.ParseInt(v.Str, 10, 64); err == nil {
			return n
		}
		f, _ := strconv.ParseFloat(v.Str, 64)
		return f
	case KindFloat:
		f, _ := strconv.ParseFloat(v.Str, 64)
		return f
	case KindTrue:
		return true
	case KindFalse:
		return false
	}
	return nil
}

// pyWriter writes JSON as Python's json.dump does: ensure_ascii; either the
// default separators (", ", ": ") or indent=4 with ",", ": "; sort_keys.
type pyWriter struct {
	b      *bytes.Buffer
	indent bool
	sort   bool
}

// DumpIndentSorted is json.dump(v, f, indent=4, sort_keys=True): what
// bandersnatch writes to web/json/<name>.
func DumpIndentSorted(v *Value) []byte {
	var b bytes.Buffer
	(&pyWriter{b: &b, indent: true, sort: true}).value(v, 0)
	return b.Bytes()
}

// Dumps is json.dumps(v) with default separators, in key order.
func Dumps(v *Value) []byte {
	var b bytes.Buffer
	(&pyWriter{b: &b}).value(v, 0)
	return b.Bytes()
}

// WriteDumps appends json.dumps(v) (default separators, in key order) to b.
func WriteDumps(b *bytes.Buffer, v *Value) {
	(&pyWriter{b: b}).value(v, 0)
}

func (w *pyWriter) newline(depth int) {
	w.b.WriteByte('\n')
	for range depth {
		w.b.WriteString("    ")
	}
}

func (w *pyWriter) value(v *Value, depth int) {
	switch v.Kind {
	case KindObject:
		if len(v.Keys) == 0 {
			w.b.WriteString("{}")
			return
		}
		order := make([]int, len(v.Keys))
		for i := range order {
			order[i] = i
		}
		if w.sort {
			slices.SortStableFunc(order, func(a, b int) int { return strings.Compare(v.Keys[a], v.Keys[b]) })
		}
		w.b.WriteByte('{')
		for n, i := range order {
			w.sep(n, depth+1)
			WritePyString(w.b, v.Keys[i])
			w.b.WriteString(": ")
			w.value(v.Elems[i], depth+1)
		}
		w.end(depth)
		w.b.WriteByte('}')
	case KindArray:
		if len(v.Elems) == 0 {
			w.b.WriteString("[]")
			return
		}
		w.b.WriteByte('[')
		for n, e := range v.Elems {
			w.sep(n, depth+1)
			w.value(e, depth+1)
		}
		w.end(depth)
		w.b.WriteByte(']')
	case KindString:
		WritePyString(w.b, v.Str)
	case KindInt:
		w.b.WriteString(PyInt(v.Str))
	case KindFloat:
		w.b.WriteString(pyFloatLiteral(v.Str))
	case KindTrue:
		w.b.WriteString("true")
	case KindFalse:
		w.b.WriteString("false")
	default:
		w.b.WriteString("null")
	}
}

func (w *pyWriter) sep(n, depth int) {
	if n > 0 {
		if w.indent {
			w.b.WriteByte(',')
		} else {
			w.b.WriteString(", ")
		}
	}
	if w.indent {
		w.newline(depth)
	}
}

func (w *pyWriter) end(depth int) {
	if w.indent {
		w.newline(depth)
	}
}

// PyString quotes s as json.dumps with ensure_ascii does: `"` and `\`
// escaped, \n \r \t \b \f by name, every other byte outside ' '…'~'
// (DEL included) as \u00XX, non-ASCII as \uXXXX (surrogate pairs above
// U+FFFF), hex digits in lower case.
func PyString(s string) string {
	if plainString(s) {
		return `"` + s + `"`
	}
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r >= ' ' && r <= '~':
			b.WriteRune(r)
		case r >= 0x10000:
			r -= 0x10000
			fmt.Fprintf(&b, `\u%04x\u%04x`, 0xd800+(r>>10), 0xdc00+(r&0x3ff))
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// WritePyString writes s as PyString gives it, without a copy of s when it
// needs no escape (project names, file names, URLs, digests).
func WritePyString(w io.StringWriter, s string) {
	if plainString(s) {
		w.WriteString(`"`)
		w.WriteString(s)
		w.WriteString(`"`)
		return
	}
	w.WriteString(PyString(s))
}

// plainString tells a string json.dumps writes as it is between quotes:
// printable ASCII without '"' or '\\'.
func plainString(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c > '~' || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// PyInt writes an integer literal as Python's int() then str() does ("-0"
// is 0); arbitrary size.
func PyInt(lit string) string {
	n, ok := new(big.Int).SetString(lit, 10)
	if !ok {
		return lit
	}
	return n.String()
}

// pyFloatLiteral writes a JSON float literal as Python's float repr does.
func pyFloatLiteral(lit string) string {
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil && !math.IsInf(f, 0) {
		return lit
	}
	return PyFloat(f)
}

// PyFloat is Python's repr of a float: the shortest digits that read back,
// fixed notation for exponents -4 … 15 with at least one decimal ("1.0"),
// else d.ddde±XX; json writes inf as Infinity.
func PyFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case math.IsNaN(f):
		return "NaN"
	}
	e := strconv.FormatFloat(f, 'e', -1, 64)
	exp, _ := strconv.Atoi(e[strings.IndexByte(e, 'e')+1:])
	if exp < -4 || exp >= 16 {
		return e
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.ContainsRune(s, '.') {
		s += ".0"
	}
	return s
}
