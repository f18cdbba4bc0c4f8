package sources

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestMirrorPathRejectsWhatNoFileSystemTakes(t *testing.T) {
	for _, u := range []string{
		"https://h/packages/ab/x%00y.whl",
		"https://h/packages/ab/" + strings.Repeat("n", 256) + ".whl",
		"https://h/packages/" + strings.Repeat("d/", 2100) + "x.whl",
	} {
		if p, err := MirrorPath(u); err == nil {
			t.Errorf("MirrorPath(%.60q…) = %.60q, want an error", u, p)
		}
	}
	if _, err := MirrorPath("https://h/packages/ab/" + strings.Repeat("n", 250) + ".whl"); err != nil {
		t.Errorf("a 254-byte name: %v", err)
	}
}

func TestSimplePageURLsAreAbsolutePaths(t *testing.T) {
	page := `<html><body><a href="../../packages/ab/cd/x-1.0%2Bcpu.tar.gz#sha256=` + strings.Repeat("a", 64) + `">x</a>` +
		`<a href="https://files.example.invalid/packages/ab/y.whl">y</a></body></html>`
	var urls []string
	if _, err := ParseSimpleHTML(strings.NewReader(page), "x", func(f File) error { urls = append(urls, f.URL); return nil }); err != nil {
		t.Fatal(err)
	}
	want := []string{"/packages/ab/cd/x-1.0+cpu.tar.gz", "https://files.example.invalid/packages/ab/y.whl"}
	if len(urls) != 2 || urls[0] != want[0] || urls[1] != want[1] {
		t.Errorf("urls %q, want %q", urls, want)
	}
}

// endless is a reader of n bytes: head, then fill repeated, then tail.
type endless struct {
	head, tail string
	fill       byte
	n          int64
	off        int64
}

func (e *endless) Read(p []byte) (int, error) {
	if e.off >= e.n {
		return 0, io.EOF
	}
	i := 0
	for ; i < len(p) && e.off < e.n; i++ {
		switch {
		case e.off < int64(len(e.head)):
			p[i] = e.head[e.off]
		case e.off >= e.n-int64(len(e.tail)):
			p[i] = e.tail[e.off-(e.n-int64(len(e.tail)))]
		default:
			p[i] = e.fill
		}
		e.off++
	}
	return i, nil
}

func TestHostileIndexesFailInBoundedMemory(t *testing.T) {
	const size = 300 << 20
	bodies := map[string]struct {
		ctype string
		body  func() io.Reader
	}{
		"endless anchor text": {"text/html", func() io.Reader {
			return &endless{head: "<html><body><a href=\"x/\">", fill: 'a', tail: "</a></body></html>", n: size}
		}},
		"endless JSON name": {SimpleJSONType, func() io.Reader {
			return &endless{head: `{"projects":[{"name":"`, fill: 'a', tail: `"}]}`, n: size}
		}},
		"endless comment": {"text/html", func() io.Reader {
			return &endless{head: "<html><!--", fill: 'a', tail: "--></html>", n: size}
		}},
	}
	for name, b := range bodies {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", b.ctype)
				io.Copy(w, b.body())
			}))
			defer srv.Close()
			_, err := FetchIndex(context.Background(), srv.Client(), srv.URL, func(string, int64) error { return nil })
			if err == nil || !strings.Contains(err.Error(), "not") {
				t.Errorf("a hostile index was taken: %v", err)
			}
		})
	}
	// a page of a project: one anchor with endless text
	_, err := ParseSimpleHTML(&endless{head: "<html><body><a href=\"../../packages/ab/x.whl\">", fill: 'a', tail: "</a></body></html>", n: size}, "x", func(File) error { return nil })
	if err == nil {
		t.Errorf("a page with an endless anchor text was taken")
	}
}
