package sources

import (
	"fmt"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Normalize returns a project name in PEP 503 normal form: lower case, each
// run of "-", "_" and "." one "-". A name already in that form (upstream's
// index spells nearly every name so) is returned as it is, without a copy.
func Normalize(name string) string {
	if isNormal(name) {
		return name
	}
	var b strings.Builder
	b.Grow(len(name))
	sep := false
	for _, r := range name {
		if r == '-' || r == '_' || r == '.' {
			sep = true
			continue
		}
		if sep {
			b.WriteByte('-')
			sep = false
		}
		b.WriteRune(unicode.ToLower(r))
	}
	if sep {
		b.WriteByte('-')
	}
	return b.String()
}

// isNormal tells a name Normalize leaves as it is: ASCII without upper
// case letters, '_' or '.', and no "--".
func isNormal(name string) bool {
	dash := false
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case c >= utf8.RuneSelf || c >= 'A' && c <= 'Z' || c == '_' || c == '.':
			return false
		case c == '-':
			if dash {
				return false
			}
			dash = true
		default:
			dash = false
		}
	}
	return true
}

// Limits of names every POSIX file system takes: a path segment of at most
// 255 bytes, a whole path of at most 4,000 (PATH_MAX is 4,096 with the root).
const (
	MaxNameBytes = 255
	MaxPathBytes = 4000
)

// MirrorPath turns a release file URL into its key in the mirror: "web" plus
// the percent-decoded URL path, whatever the host. The path must lie under
// /packages/ and hold no empty, "." or ".." segment.
func MirrorPath(rawURL string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", fmt.Errorf("url %q: %w", rawURL, err)
	}
	return packagesKey(u.Path, rawURL)
}

// MirrorPathFromPath is MirrorPath for a URL path that the caller has
// already percent-decoded (as bandersnatch's unquote does).
func MirrorPathFromPath(p, rawURL string) (string, error) { return packagesKey(p, rawURL) }

func packagesKey(p, rawURL string) (string, error) {
	if !strings.HasPrefix(p, "/packages/") {
		return "", fmt.Errorf("url %q: path is not under /packages/", rawURL)
	}
	if strings.IndexByte(p, 0) >= 0 {
		return "", fmt.Errorf("url %q: path holds a NUL byte", rawURL)
	}
	if strings.IndexByte(p, '\r') >= 0 {
		return "", fmt.Errorf("url %q: path holds a carriage return, which the manifests cannot keep", rawURL)
	}
	if len(p) > MaxPathBytes {
		return "", fmt.Errorf("url %q: path is longer than %d bytes", rawURL, MaxPathBytes)
	}
	for _, seg := range strings.Split(p[1:], "/") {
		if seg == "" || seg == "." || seg == ".." {
			return "", fmt.Errorf("url %q: path has an empty, . or .. segment", rawURL)
		}
		if len(seg) > MaxNameBytes {
			return "", fmt.Errorf("url %q: path has a name longer than %d bytes", rawURL, MaxNameBytes)
		}
	}
	if !utf8.ValidString(p) {
		return "", fmt.Errorf("url %q: path is not valid UTF-8", rawURL)
	}
	return "web" + p, nil
}

// SimpleFileKey resolves an href of the simple page of project normalized
// (relative links resolve against /simple/<normalized>/, also with
// hash-index) to a mirror key.
func SimpleFileKey(normalized, href string) (string, error) {
	base := &url.URL{Path: "/simple/" + normalized + "/"}
	ref, err := url.Parse(href)
	if err != nil {
		return "", fmt.Errorf("href %q: %w", href, err)
	}
	// resolve by hand: ResolveReference cleans ".." away, which we want only for the base
	if ref.IsAbs() || strings.HasPrefix(ref.Path, "/") {
		return packagesKey(ref.Path, href)
	}
	return packagesKey(base.ResolveReference(&url.URL{Path: ref.Path}).Path, href)
}

// hexDigit classifies bytes: 1 lower-case hex digit or decimal, 2 upper-case hex.
var hexDigit = func() (t [256]uint8) {
	for c := '0'; c <= '9'; c++ {
		t[c] = 1
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = 1
	}
	for c := 'A'; c <= 'F'; c++ {
		t[c] = 2
	}
	return t
}()

// checkSHA256 tells whether s is 64 hex digits, and returns it lower-cased.
func checkSHA256(s string) (string, bool) {
	if len(s) != 64 {
		return s, false
	}
	var seen uint8
	for i := 0; i < 64; i++ {
		k := hexDigit[s[i]]
		if k == 0 {
			return s, false
		}
		seen |= k
	}
	if seen&2 != 0 {
		return strings.ToLower(s), true
	}
	return s, true
}

// ValidSHA256 tells whether s is 64 lower- or upper-case hex digits.
func ValidSHA256(s string) bool {
	_, ok := checkSHA256(s)
	return ok
}

// SimplePath is the folder of a project's simple page.
func SimplePath(normalized string, hashIndex bool) string {
	if hashIndex && normalized != "" {
		return "web/simple/" + normalized[:1] + "/" + normalized + "/"
	}
	return "web/simple/" + normalized + "/"
}
