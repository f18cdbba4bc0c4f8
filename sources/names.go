package sources

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"unicode/utf8"
)

var separators = regexp.MustCompile(`[-_.]+`)

// Normalize returns a project name in PEP 503 normal form.
func Normalize(name string) string {
	return strings.ToLower(separators.ReplaceAllString(name, "-"))
}

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

func packagesKey(p, rawURL string) (string, error) {
	if !strings.HasPrefix(p, "/packages/") {
		return "", fmt.Errorf("url %q: path is not under /packages/", rawURL)
	}
	for _, seg := range strings.Split(p[1:], "/") {
		if seg == "" || seg == "." || seg == ".." {
			return "", fmt.Errorf("url %q: path has an empty, . or .. segment", rawURL)
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

// ValidSHA256 tells whether s is 64 lower- or upper-case hex digits.
func ValidSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// SimplePath is the folder of a project's simple page.
func SimplePath(normalized string, hashIndex bool) string {
	if hashIndex && normalized != "" {
		return "web/simple/" + normalized[:1] + "/" + normalized + "/"
	}
	return "web/simple/" + normalized + "/"
}
