// Package redact hides the userinfo of URLs (http://user:password@host/…)
// in text that bandercheck writes or prints: applied rows, logs, errors.
// A download-mirror or --download-base may carry credentials; they must not
// reach a file an operator greps or a log a collector ships.
package redact

import (
	"bytes"
	"io"
	"regexp"
	"strings"
	"sync"
)

// Mask replaces a URL's userinfo.
const Mask = "REDACTED"

// userinfo is a URL's scheme and what stands between "//" and "@", up to the
// first character that ends an authority; compiled when a text with an '@'
// is first redacted, not at init.
var userinfo = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.\-]*://)[^/?#@\s"'<>\\]+@`)
})

// String returns s with the userinfo of every URL in it replaced by Mask.
func String(s string) string {
	if !strings.Contains(s, "@") {
		return s
	}
	return userinfo().ReplaceAllString(s, "${1}"+Mask+"@")
}

// Writer returns a writer that redacts each Write before passing it on (a
// logger and the progress line write whole lines at once).
func Writer(w io.Writer) io.Writer { return writer{w} }

type writer struct{ w io.Writer }

func (r writer) Write(p []byte) (int, error) {
	if !bytes.Contains(p, []byte("@")) {
		return r.w.Write(p)
	}
	if _, err := io.WriteString(r.w, String(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}
