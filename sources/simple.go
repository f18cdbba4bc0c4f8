package sources

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"golang.org/x/net/html"
)

// ParseSimpleJSON streams a PEP 691 project page (index.v1_json) of project
// normalized and calls fn for each file, with hrefs resolved to mirror keys.
func ParseSimpleJSON(r io.Reader, normalized string, fn func(File) error) (Project, error) {
	p := Project{Serial: -1}
	dec := newDecoder(r)
	sawFiles := false
	err := members(dec, "page", func(key string) (err error) {
		switch key {
		case "name":
			p.Name, err = readString(dec)
		case "meta":
			err = members(dec, "meta", func(k string) (err error) {
				if k == "_last-serial" && dec.PeekKind() == '0' {
					p.Serial, err = readInt(dec, k)
					return err
				}
				return skip(dec)
			})
		case "files":
			sawFiles = true
			err = elements(dec, "files", func(i int) error {
				f, err := parseFile(dec, fileKeysSimple)
				if err == nil {
					err = f.resolve(normalized)
				}
				if err != nil {
					return fmt.Errorf("files[%d]: %w", i, err)
				}
				return fn(f)
			})
		default:
			err = skip(dec)
		}
		return err
	})
	if err == nil {
		err = endOfDocument(dec, "page")
	}
	if err == nil && !sawFiles {
		err = errors.New("page has no files array")
	}
	return p, err
}

// resolve checks a simple-page file and resolves its href.
func (f *File) resolve(normalized string) error {
	if f.Filename == "" {
		return errors.New("no filename")
	}
	if f.URL == "" {
		return fmt.Errorf("%s: no url", f.Filename)
	}
	href, frag, _ := strings.Cut(f.URL, "#")
	if f.SHA256 == "" {
		if v, ok := strings.CutPrefix(frag, "sha256="); ok {
			f.SHA256 = v
		}
	}
	if f.SHA256 != "" && !ValidSHA256(f.SHA256) {
		return fmt.Errorf("%s: sha256 %q is not 64 hex digits", f.Filename, f.SHA256)
	}
	key, err := SimpleFileKey(normalized, href)
	if err != nil {
		return fmt.Errorf("%s: %w", f.Filename, err)
	}
	f.Path, f.URL = key, href
	f.SHA256, _ = checkSHA256(f.SHA256)
	f.MetadataSHA256, _ = checkSHA256(f.MetadataSHA256)
	return nil
}

// ParseSimpleHTML streams a PEP 503 project page (index.html) and calls fn
// for each anchor. A page that does not reach </html> is truncated.
func ParseSimpleHTML(r io.Reader, normalized string, fn func(File) error) (Project, error) {
	p := Project{Serial: -1}
	z := html.NewTokenizer(r)
	var cur *File
	var text strings.Builder
	closed := false
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			if z.Err() == io.EOF {
				if !closed {
					return p, errors.New("page is truncated (no </html>)")
				}
				return p, nil
			}
			return p, fmt.Errorf("read page: %w", z.Err())
		case html.CommentToken:
			if s, ok := strings.CutPrefix(strings.TrimSpace(string(z.Text())), "SERIAL "); ok {
				if n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64); err == nil {
					p.Serial = n
				}
			}
		case html.StartTagToken:
			name, hasAttr := z.TagName()
			if string(name) != "a" {
				continue
			}
			cur = &File{Size: -1}
			text.Reset()
			for hasAttr {
				var k, v []byte
				k, v, hasAttr = z.TagAttr()
				switch string(k) {
				case "href":
					cur.URL = string(v)
				case "data-core-metadata", "data-dist-info-metadata":
					if s, ok := strings.CutPrefix(string(v), "sha256="); ok && (string(k) == "data-core-metadata" || cur.MetadataSHA256 == "") {
						if !ValidSHA256(s) {
							return p, fmt.Errorf("anchor %q: %s %q is not a sha256", cur.URL, k, v)
						}
						cur.MetadataSHA256 = s
					}
				}
			}
		case html.TextToken:
			if cur != nil {
				text.Write(z.Text())
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			switch string(name) {
			case "a":
				if cur == nil {
					continue
				}
				cur.Filename = strings.TrimSpace(text.String())
				if err := cur.resolve(normalized); err != nil {
					return p, fmt.Errorf("anchor: %w", err)
				}
				if err := fn(*cur); err != nil {
					return p, err
				}
				cur = nil
			case "html":
				closed = true
			}
		}
	}
}
