package sources

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

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
			name, serial := "", int64(NoSerial)
			err := members(dec, "project", func(k string) (err error) {
				switch {
				case k == "name":
					name, err = readString(dec)
				case k == "_last-serial" && dec.PeekKind() == '0':
					serial, err = readInt(dec, k)
				default:
					err = skip(dec)
				}
				return err
			})
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
