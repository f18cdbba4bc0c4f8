package sources

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"golang.org/x/net/html"
)

// maxHTMLToken is the most one token of a page may buffer.
const maxHTMLToken = 1 << 20

// attr is one attribute of an anchor.
type attr struct{ key, val string }

// walkAnchors streams an HTML page and calls fn with each <a>'s attributes
// and text, and comment (when not nil) with each comment. A page that ends
// before </html> is truncated, which what says in the error.
func walkAnchors(r io.Reader, what string, comment func(string), fn func(attrs []attr, text string) error) error {
	z := html.NewTokenizer(r)
	z.SetMaxBuf(maxHTMLToken) // an endless tag, comment or text is an error, not a heap
	var attrs []attr
	var text strings.Builder
	inA, closed := false, false
	for {
		switch z.Next() {
		case html.ErrorToken:
			if errors.Is(z.Err(), html.ErrBufferExceeded) {
				return fmt.Errorf("read %s: a tag, comment or text longer than %d bytes: not a simple page", what, maxHTMLToken)
			}
			if z.Err() != io.EOF {
				return fmt.Errorf("read %s: %w", what, z.Err())
			}
			if !closed {
				return errors.New(what + " is truncated (no </html>)")
			}
			return nil
		case html.CommentToken:
			if comment != nil {
				comment(string(z.Text()))
			}
		case html.StartTagToken:
			name, hasAttr := z.TagName()
			if string(name) != "a" {
				continue
			}
			inA, attrs = true, attrs[:0]
			text.Reset()
			for hasAttr {
				var k, v []byte
				k, v, hasAttr = z.TagAttr()
				attrs = append(attrs, attr{string(k), string(v)})
			}
		case html.TextToken:
			if inA {
				if text.Len() > maxString {
					return fmt.Errorf("read %s: an anchor's text is longer than %d bytes: not a simple page", what, maxString)
				}
				text.Write(z.Text())
			}
		case html.EndTagToken:
			switch name, _ := z.TagName(); string(name) {
			case "a":
				if inA {
					inA = false
					if err := fn(attrs, strings.TrimSpace(text.String())); err != nil {
						return err
					}
				}
			case "html":
				closed = true
			}
		}
	}
}
