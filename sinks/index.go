package sinks

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"golang.org/x/net/html"

	"github.com/bandercheck/bandercheck/internal/pyjson"
	"github.com/bandercheck/bandercheck/internal/store"
	"github.com/bandercheck/bandercheck/sources"
)

// RootIndexes are the root simple index files bandersnatch writes.
var RootIndexes = []string{"web/simple/index.html", "web/simple/index.v1_html", "web/simple/index.v1_json"}

// RewriteRootIndex rewrites the root simple indexes without the removed
// projects (normalized names), so the mirror stops advertising them. Each
// file streams through a filter into an Upload; a missing file is skipped.
func RewriteRootIndex(ctx context.Context, ms store.Reader, m store.Writer, removed map[string]bool) error {
	if len(removed) == 0 {
		return nil
	}
	for _, key := range RootIndexes {
		rc, err := ms.Open(ctx, key)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("rewrite %s: %w", key, err)
		}
		up, err := m.Create(ctx, key, store.Meta{})
		if err != nil {
			rc.Close()
			return fmt.Errorf("rewrite %s: %w", key, err)
		}
		filter := filterHTML
		if strings.HasSuffix(key, ".v1_json") {
			filter = filterJSON
		}
		err = filter(rc, up, removed)
		rc.Close()
		if err != nil {
			return errors.Join(fmt.Errorf("rewrite %s: %w", key, err), up.Abort())
		}
		if err := up.Commit(ctx); err != nil {
			return fmt.Errorf("rewrite %s: %w", key, err)
		}
	}
	return nil
}

// filterHTML copies a root index token by token (the HTML tokenizer, not
// lines: an index may hold all its anchors on one line), leaving out each
// anchor that names a removed project with the <br/> right after it and the
// line break and indentation around it, so the rest stays byte for byte.
func filterHTML(r io.Reader, w io.Writer, removed map[string]bool) error {
	z := html.NewTokenizer(r)
	z.SetMaxBuf(maxIndexToken)
	bw := bufio.NewWriter(w)
	var pending []byte // whitespace text held until we know whether an anchor after it goes
	var anchor []byte  // raw bytes of the open anchor
	var text strings.Builder
	inA, dropped := false, false
	var raw []byte
	flushPending := func() {
		bw.Write(pending)
		pending = pending[:0]
	}
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			if z.Err() != io.EOF {
				return fmt.Errorf("read the index: %w", z.Err())
			}
			if inA {
				bw.Write(anchor)
			}
			flushPending()
			return bw.Flush()
		}
		raw = append(raw[:0], z.Raw()...) // TagName lower-cases the buffer in place
		tag := ""
		if tt == html.StartTagToken || tt == html.EndTagToken || tt == html.SelfClosingTagToken {
			n, _ := z.TagName()
			tag = string(n)
		}
		if inA {
			anchor = append(anchor, raw...)
			switch {
			case tt == html.TextToken:
				if text.Len() < maxIndexToken {
					text.Write(raw)
				}
			case tt == html.EndTagToken && tag == "a":
				inA = false
				name := html.UnescapeString(strings.TrimSpace(text.String()))
				if removed[sources.Normalize(name)] {
					// drop the indentation before the anchor; the line break after it goes below
					pending = bytes.TrimRight(pending, " \t")
					dropped = true
					continue
				}
				flushPending()
				bw.Write(anchor)
			}
			continue
		}
		switch {
		case tt == html.StartTagToken && tag == "a":
			inA, dropped = true, false
			anchor = append(anchor[:0], raw...)
			text.Reset()
			continue
		case dropped && (tt == html.StartTagToken || tt == html.SelfClosingTagToken) && tag == "br":
			continue // the <br/> of a dropped anchor
		case tt == html.TextToken && isSpace(raw):
			if dropped {
				// the line break that ended the dropped anchor's line
				if i := bytes.IndexByte(raw, '\n'); i >= 0 {
					raw = raw[i+1:]
				}
				dropped = false
			}
			flushPending()
			pending = append(pending, raw...)
			continue
		}
		dropped = false
		flushPending()
		bw.Write(raw)
	}
}

// maxIndexToken bounds one token of a root index (an anchor's text, a tag).
const maxIndexToken = 1 << 20

func isSpace(b []byte) bool {
	return len(bytes.TrimLeft(b, " \t\r\n")) == 0
}

// filterJSON rewrites a PEP 691 root index without the removed projects,
// in the bytes bandersnatch's json.dump writes: Python's separators (", ",
// ": "), ASCII only, and indent=4 when the old index was indented. Projects
// stream through; only the small "meta" object is held.
func filterJSON(r io.Reader, w io.Writer, removed map[string]bool) error {
	br := bufio.NewReader(r)
	head, _ := br.Peek(2)
	pw := &pyJSON{w: bufio.NewWriter(w), pretty: len(head) == 2 && head[0] == '{' && head[1] == '\n'}
	dec := jsontext.NewDecoder(br)
	tok, err := dec.ReadToken()
	if err != nil {
		return err
	}
	if tok.Kind() != '{' {
		return errors.New("the index is not a JSON object")
	}
	pw.open('{')
	for dec.PeekKind() != '}' {
		key, err := dec.ReadToken()
		if err != nil {
			return err
		}
		pw.key(key.String())
		if key.String() != "projects" || dec.PeekKind() != '[' {
			v, err := dec.ReadValue()
			if err != nil {
				return err
			}
			if err := pw.value(v); err != nil {
				return err
			}
			continue
		}
		dec.ReadToken() // [
		pw.open('[')
		for dec.PeekKind() != ']' {
			v, err := dec.ReadValue()
			if err != nil {
				return err
			}
			var p struct {
				Name string `json:"name"`
			}
			if err := json.Unmarshal(v, &p); err == nil && removed[sources.Normalize(p.Name)] {
				continue
			}
			pw.item()
			if err := pw.value(v); err != nil {
				return err
			}
		}
		if _, err := dec.ReadToken(); err != nil { // ]
			return err
		}
		pw.close(']')
	}
	if _, err := dec.ReadToken(); err != nil { // }
		return err
	}
	pw.close('}')
	return pw.w.Flush()
}

// pyJSON writes JSON as Python's json.dump does (ensure_ascii, default
// separators, or indent=4 with "," and ": ").
type pyJSON struct {
	w      *bufio.Writer
	pretty bool
	depth  int
	first  []bool // per open container: nothing written in it yet
}

func (p *pyJSON) newline() {
	p.w.WriteByte('\n')
	p.w.WriteString(strings.Repeat("    ", p.depth))
}

func (p *pyJSON) open(c byte) {
	p.w.WriteByte(c)
	p.depth++
	p.first = append(p.first, true)
}

func (p *pyJSON) close(c byte) {
	p.depth--
	empty := p.first[len(p.first)-1]
	p.first = p.first[:len(p.first)-1]
	if p.pretty && !empty {
		p.newline()
	}
	p.w.WriteByte(c)
}

// item starts an element of the innermost container.
func (p *pyJSON) item() {
	i := len(p.first) - 1
	if !p.first[i] {
		if p.pretty {
			p.w.WriteByte(',')
		} else {
			p.w.WriteString(", ")
		}
	}
	p.first[i] = false
	if p.pretty {
		p.newline()
	}
}

func (p *pyJSON) key(k string) {
	p.item()
	pyjson.WritePyString(p.w, k)
	p.w.WriteString(": ")
}

// value writes one JSON value (object, array or scalar) in Python's form.
func (p *pyJSON) value(v jsontext.Value) error {
	dec := jsontext.NewDecoder(bytes.NewReader(v))
	return p.copyValue(dec)
}

func (p *pyJSON) copyValue(dec *jsontext.Decoder) error {
	tok, err := dec.ReadToken()
	if err != nil {
		return err
	}
	switch tok.Kind() {
	case '{':
		p.open('{')
		for dec.PeekKind() != '}' {
			k, err := dec.ReadToken()
			if err != nil {
				return err
			}
			p.key(k.String())
			if err := p.copyValue(dec); err != nil {
				return err
			}
		}
		dec.ReadToken()
		p.close('}')
	case '[':
		p.open('[')
		for dec.PeekKind() != ']' {
			p.item()
			if err := p.copyValue(dec); err != nil {
				return err
			}
		}
		dec.ReadToken()
		p.close(']')
	case '"':
		pyjson.WritePyString(p.w, tok.String())
	default: // numbers, true, false, null: as written
		p.w.WriteString(tok.String())
	}
	return nil
}
