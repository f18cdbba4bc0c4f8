package sources

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
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
				if k == "_last-serial" && dec.PeekKind() == '"' { // bandersnatch writes str(serial)
					s, err := readString(dec)
					if n, perr := strconv.ParseInt(s, 10, 64); err == nil && perr == nil && n >= 0 {
						p.Serial = n
					}
					return err
				}
				return skip(dec)
			})
		case "files":
			sawFiles = true
			err = elements(dec, "files", func(i int) error {
				f, err := parseFile(dec, fileKeysSimple, nil)
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
	f.Path, f.URL = key, absoluteHref(href, key)
	f.SHA256, _ = checkSHA256(f.SHA256)
	f.MD5 = checkMD5(f.MD5)
	return nil
}

// ParseSimpleHTML streams a PEP 503 project page (index.html) and calls fn
// for each anchor. A page that does not reach </html> is truncated.
func ParseSimpleHTML(r io.Reader, normalized string, fn func(File) error) (Project, error) {
	p := Project{Serial: -1}
	serial := func(c string) {
		if s, ok := strings.CutPrefix(strings.TrimSpace(c), "SERIAL "); ok {
			if n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64); err == nil {
				p.Serial = n
			}
		}
	}
	err := walkAnchors(r, "page", serial, func(attrs []attr, text string) error {
		f := File{Size: -1, Filename: text}
		for _, a := range attrs {
			switch a.key {
			case "href":
				f.URL = a.val
			case "data-core-metadata":
				if algo, sum, ok := strings.Cut(a.val, "="); ok {
					if !isHex(sum) || (algo == "sha256" && !ValidSHA256(sum)) {
						return fmt.Errorf("anchor %q: %s %q is not a digest", f.URL, a.key, a.val)
					}
					f.MetadataDigests = map[string]string{algo: strings.ToLower(sum)}
				}
			}
		}
		if err := f.resolve(normalized); err != nil {
			return fmt.Errorf("anchor: %w", err)
		}
		return fn(f)
	})
	return p, err
}

// absoluteHref is the URL a simple page's file is downloaded from: an absolute
// href as it is, a relative one (bandersnatch writes ../../packages/…) as the
// absolute path /packages/… that it resolves to, which apply prefixes with the
// upstream or --download-base.
func absoluteHref(href, key string) string {
	if u, err := url.Parse(href); err == nil && u.IsAbs() {
		return href
	}
	return (&url.URL{Path: strings.TrimPrefix(key, "web")}).EscapedPath()
}
