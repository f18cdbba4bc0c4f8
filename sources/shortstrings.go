package sources

import (
	"bytes"
	"io"
	"unicode/utf8"
)

// maxString is the longest string value a metadata decoder is handed; longer
// ones (descriptions, readmes) are cut, which bandercheck never reads.
const maxString = 64 << 10

// shortStrings wraps a JSON stream and cuts every string longer than limit
// bytes down to about limit, keeping the JSON valid (a cut never splits a
// UTF-8 character or an escape, nor a surrogate pair), so that a decoder
// buffers at most limit bytes of any token whatever the document's size.
type shortStrings struct {
	r         io.Reader
	limit     int
	inString  bool
	escape    bool    // the previous byte was a backslash
	hexLeft   int     // hex digits of a \u escape still to come
	hex       [4]byte // the digits of the current \u escape
	high      bool    // the last thing kept is a \u escape of a high surrogate
	n         int     // bytes of the current string kept
	drop      bool    // the rest of the current string is dropped
	finishing bool    // dropping, but the last kept character still lacks bytes
}

func newShortStrings(r io.Reader, limit int) io.Reader {
	return &shortStrings{r: r, limit: limit}
}

// Read implements io.Reader, filtering in place.
func (s *shortStrings) Read(p []byte) (int, error) {
	for {
		n, err := s.r.Read(p)
		if w := s.filter(p[:n]); w > 0 || err != nil {
			return w, err
		}
	}
}

// filter compacts p in place and returns the length kept.
func (s *shortStrings) filter(p []byte) int {
	w := 0
	keep := func(b []byte) { w += copy(p[w:], b) }
	for i := 0; i < len(p); {
		if !s.inString {
			j := bytes.IndexByte(p[i:], '"')
			if j < 0 {
				keep(p[i:])
				return w
			}
			keep(p[i : i+j+1])
			i += j + 1
			s.inString, s.n, s.drop, s.finishing, s.escape, s.hexLeft, s.high = true, 0, false, false, false, 0, false
			continue
		}
		if s.escape { // the byte after a backslash
			if p[i] == 'u' {
				s.hexLeft = 4
			}
			if !s.drop {
				keep(p[i : i+1])
				s.n++
			}
			s.escape, s.high = false, false
			i++
			continue
		}
		if s.hexLeft > 0 { // the digits of \uXXXX stay with their escape
			k := min(s.hexLeft, len(p)-i)
			copy(s.hex[4-s.hexLeft:], p[i:i+k])
			if !s.drop {
				keep(p[i : i+k])
				s.n += k
			}
			s.hexLeft -= k
			if s.hexLeft == 0 {
				h := s.hex[0] | 0x20 // lower case
				s.high = h == 'd' && (s.hex[1]|0x20) >= '8' && (s.hex[1]|0x20) <= 'b'
			}
			i += k
			continue
		}
		j := indexQuoteOrBackslash(p[i:])
		seg := p[i:]
		if j >= 0 {
			seg = p[i : i+j]
		}
		switch {
		case !s.drop:
			keep(s.cut(seg))
		case s.finishing:
			k := 0
			for k < len(seg) && !utf8.RuneStart(seg[k]) {
				k++
			}
			keep(seg[:k])
			s.finishing = k == len(seg)
		}
		if j < 0 {
			return w
		}
		i += j
		s.finishing = false // a quote or backslash starts a new character
		switch p[i] {
		case '\\':
			// an escape may start the cut, unless it is the second half of a surrogate pair
			if !s.drop && s.n >= s.limit && !s.high {
				s.drop = true
			}
			if !s.drop {
				keep(p[i : i+1])
				s.n++
			}
			s.escape = true
		case '"':
			keep(p[i : i+1])
			s.inString = false
		}
		i++
	}
	return w
}

// cut returns the part of a run of plain string bytes to keep, and starts
// dropping once the string is over the limit.
func (s *shortStrings) cut(seg []byte) []byte {
	if len(seg) == 0 {
		return seg
	}
	if s.n+len(seg) <= s.limit {
		s.n += len(seg)
		s.high = false
		return seg
	}
	c := max(s.limit-s.n, 0) // < len(seg)
	for c > 0 && !utf8.RuneStart(seg[c]) {
		c--
	}
	if c == 0 {
		// finish a character begun before this run, and never end right
		// after the first half of a surrogate pair
		for c < len(seg) && !utf8.RuneStart(seg[c]) {
			c++
		}
		if c == 0 && s.high {
			for c = 1; c < len(seg) && !utf8.RuneStart(seg[c]); c++ {
			}
		}
	}
	s.n += c
	s.drop = true
	s.finishing = c == len(seg) // the character may go on in the next read
	return seg[:c]
}

// indexQuoteOrBackslash is bytes.IndexAny(b, `"\`) with two vectorized scans.
func indexQuoteOrBackslash(b []byte) int {
	q := bytes.IndexByte(b, '"')
	end := q
	if end < 0 {
		end = len(b)
	}
	if k := bytes.IndexByte(b[:end], '\\'); k >= 0 {
		return k
	}
	return q
}
