package sources

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/bandercheck/bandercheck/internal/work"
)

// SimpleJSONType is the PEP 691 media type of the JSON simple index.
const SimpleJSONType = "application/vnd.pypi.simple.v1+json"

// NoSerial is the serial of a project whose index entry gives none (an HTML
// index, or a JSON entry without `_last-serial`).
const NoSerial = -1

// FetchIndex GETs <base>/simple/ (PEP 691 JSON preferred, PEP 503 HTML
// accepted) and calls fn with each project name and its `_last-serial`
// (NoSerial when the index gives none) as they stream in. An answer that is
// cut short, empty or not an index is an error: it is never taken to mean
// that upstream has no projects.
func FetchIndex(ctx context.Context, client *http.Client, base string, fn func(name string, serial int64) error) (int64, error) {
	url := strings.TrimSuffix(base, "/") + "/simple/"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, fmt.Errorf("upstream %s: %w", url, err)
	}
	req.Header.Set("Accept", SimpleJSONType+", text/html;q=0.1")
	resp, err := client.Do(req)
	if err != nil {
		return 0, &work.RetryableError{Err: fmt.Errorf("upstream %s: %w", url, err)}
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
		return 0, &work.RetryableError{Err: fmt.Errorf("upstream %s: %s", url, resp.Status)}
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("upstream %s: %s", url, resp.Status)
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	var n int64
	count := func(name string, serial int64) error { n++; return fn(name, serial) }
	if mt == SimpleJSONType || mt == "application/json" {
		err = parseIndexJSON(resp.Body, count)
	} else {
		err = parseIndexHTML(resp.Body, count)
	}
	if err != nil {
		return n, &work.RetryableError{Err: fmt.Errorf("upstream %s: %w", url, err)}
	}
	if n == 0 {
		return 0, &work.RetryableError{Err: fmt.Errorf("upstream %s: the index lists no projects", url)}
	}
	return n, nil
}

// indexProject reads one entry of an index's projects: its "name" and
// "_last-serial" (NoSerial when that is missing or not a number), skipping
// any other member. Member names and values are read raw, so that the only
// copy made is the name's (10,000 projects cost 30,000 copies before).
func indexProject(dec *jsontext.Decoder) (name string, serial int64, err error) {
	serial = NoSerial
	if err := expect(dec, '{', "project"); err != nil {
		return "", serial, err
	}
	for dec.PeekKind() != '}' {
		key, err := dec.ReadValue() // a member name: a JSON string
		if err != nil {
			return "", serial, syntaxErr(err)
		}
		switch {
		case rawStringIs(key, "name"):
			if k := dec.PeekKind(); k != '"' {
				_, err := readString(dec) // the error it gives
				return "", serial, err
			}
			v, err := dec.ReadValue()
			if err != nil {
				return "", serial, syntaxErr(err)
			}
			if name, err = unquoteRaw(v); err != nil {
				return "", serial, syntaxErr(err)
			}
		case rawStringIs(key, "_last-serial") && dec.PeekKind() == '0':
			v, err := dec.ReadValue()
			if err != nil {
				return "", serial, syntaxErr(err)
			}
			if serial, err = rawInt(v, "_last-serial"); err != nil {
				return "", serial, err
			}
		default:
			if err := skip(dec); err != nil {
				return "", serial, err
			}
		}
	}
	_, err = dec.ReadToken()
	return name, serial, syntaxErrOrNil(err)
}

// rawStringIs tells whether the JSON string raw (quoted, as read) is s.
func rawStringIs(raw []byte, s string) bool {
	if bytes.IndexByte(raw, '\\') < 0 {
		return len(raw) == len(s)+2 && string(raw[1:len(raw)-1]) == s
	}
	u, err := jsontext.AppendUnquote(nil, raw)
	return err == nil && string(u) == s
}

// unquoteRaw is the value of the JSON string raw (quoted, as read).
func unquoteRaw(raw []byte) (string, error) {
	if bytes.IndexByte(raw, '\\') < 0 && len(raw) >= 2 {
		return string(raw[1 : len(raw)-1]), nil
	}
	u, err := jsontext.AppendUnquote(nil, raw)
	return string(u), err
}

// rawInt is the JSON number raw as a whole number, as readInt reads one.
func rawInt(raw []byte, what string) (int64, error) {
	if len(raw) > 0 && len(raw) <= 18 {
		n := int64(0)
		for _, c := range raw {
			if c < '0' || c > '9' {
				n = -1
				break
			}
			n = n*10 + int64(c-'0')
		}
		if n >= 0 {
			return n, nil
		}
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s %s is not a whole number", what, raw)
	}
	return n, nil
}

// maxIndexName is the longest project name an index may list (a file name
// on a mirror holds 255 bytes; anything far longer is an attack or a fault).
const maxIndexName = 4096

// parseIndexJSON reads a PEP 691 index as bandersnatch 8's master.py does:
// each project's "name" and "_last-serial". An entry without a serial is
// passed on with NoSerial (bandersnatch skips it; sync fetches it only
// when the mirror lacks it), an entry without a name is skipped.
func parseIndexJSON(r io.Reader, fn func(string, int64) error) error {
	dec := newDecoder(r) // strings cut to maxString: an endless name is an error, not a heap
	saw := false
	err := members(dec, "index", func(key string) error {
		if key != "projects" {
			return skip(dec)
		}
		saw = true
		return elements(dec, "projects", func(i int) error {
			name, serial, err := indexProject(dec)
			switch {
			case err != nil:
				return fmt.Errorf("projects[%d]: %w", i, err)
			case len(name) > maxIndexName:
				return fmt.Errorf("a project name of more than %d bytes: not an index", maxIndexName)
			case name == "":
				return nil
			}
			return fn(name, serial)
		})
	})
	if err == nil && !saw {
		err = errors.New("index has no projects array")
	}
	return err
}

func parseIndexHTML(r io.Reader, fn func(string, int64) error) error {
	return walkAnchors(r, "index", nil, func(_ []attr, name string) error {
		if name == "" {
			return nil
		}
		if len(name) > maxIndexName {
			return fmt.Errorf("a project name of more than %d bytes: not an index", maxIndexName)
		}
		return fn(name, NoSerial)
	})
}
