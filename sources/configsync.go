package sources

import (
	"fmt"
	"math"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// SyncSettings are the [mirror] keys that say how bandersnatch mirror talks
// to upstream, with bandersnatch 8's defaults (its defaults.conf).
type SyncSettings struct {
	Workers       int           // workers (3; bandersnatch refuses more than 10)
	Timeout       time.Duration // timeout (10 s): connecting and each read
	GlobalTimeout time.Duration // global-timeout (1800 s): one whole request
	StopOnError   bool          // stop-on-error (false)
	Cleanup       bool          // cleanup (false): remove a synced project's pre-PEP 503 simple folders
	AllowNonHTTPS bool          // allow-non-https (false): an http:// master is refused
	CompareMethod string        // compare-method: hash (default) or stat
	// Proxy is proxy: every request of a sync (index, documents, files)
	// goes through it; empty for none (then HTTP_PROXY/HTTPS_PROXY apply).
	Proxy string
	// DiffFile is diff-file with its {{section_option}} reference filled
	// in: where a sync writes the list of the files it wrote; empty for
	// none. DiffFileNote says why it fell back to <directory>/mirrored-files
	// (a reference to a missing option), as bandersnatch logs it.
	DiffFile, DiffFileNote string
	DiffAppendEpoch        bool // diff-append-epoch: the diff file's name gains -<unix time>
}

// readSyncSettings reads SyncSettings from the [mirror] section (m reads a key).
func readSyncSettings(m func(key string) string, path string) (SyncSettings, []error) {
	s := SyncSettings{Workers: 3, Timeout: 10 * time.Second, GlobalTimeout: 1800 * time.Second, CompareMethod: "hash"}
	var errs []error
	if v := strings.TrimSpace(m("workers")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10 {
			errs = append(errs, fmt.Errorf("%s: [mirror] workers: %q: give a whole number from 1 to 10 (bandersnatch refuses more than 10)", path, v))
		}
		s.Workers = n
	}
	for _, d := range []struct {
		key  string
		into *time.Duration
	}{{"timeout", &s.Timeout}, {"global-timeout", &s.GlobalTimeout}} {
		v := strings.TrimSpace(m(d.key))
		if v == "" {
			continue
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 || math.IsInf(f, 0) || f > 1e9 {
			errs = append(errs, fmt.Errorf("%s: [mirror] %s: %q: give a positive number of seconds", path, d.key, v))
			continue
		}
		*d.into = time.Duration(f * float64(time.Second))
	}
	for _, b := range []struct {
		key  string
		into *bool
	}{{"stop-on-error", &s.StopOnError}, {"allow-non-https", &s.AllowNonHTTPS}, {"cleanup", &s.Cleanup}} {
		v, err := configBool(m(b.key), false)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: [mirror] %s: %w", path, b.key, err))
		}
		*b.into = v
	}
	if v := strings.TrimSpace(m("proxy")); v != "" {
		u, err := url.Parse(v)
		if err != nil || u.Host == "" || !slices.Contains([]string{"http", "https", "socks5"}, u.Scheme) {
			errs = append(errs, fmt.Errorf("%s: [mirror] proxy: %q is not an http://, https:// or socks5:// URL", path, v))
		}
		s.Proxy = v
	}
	if v := strings.ToLower(strings.TrimSpace(m("compare-method"))); v != "" {
		if v != "hash" && v != "stat" {
			errs = append(errs, fmt.Errorf("%s: [mirror] compare-method: %q is not hash or stat", path, v))
		}
		s.CompareMethod = v
	}
	return s, errs
}

// diffRef and diffRefParts are bandersnatch's patterns for a section
// reference in diff-file: "{{ <section>_<option> }}", the section without
// '_' and at least two characters, the last such reference on the line;
// compiled when a diff-file is first read, not at init.
var (
	diffRef      = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^.*\{\{.+_.+\}\}`) })
	diffRefParts = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^(.*)\{\{\s*([^_\s](?:[^_]*[^_\s]))\s*_\s*(\S(?:.*\S)?)\s*\}\}(.*)$`)
	})
)

// diffFilePath fills diff-file's section reference as bandersnatch does:
// lookup reads [section] option; a reference that does not parse, or names
// a missing option, falls back to <directory>/mirrored-files with a note.
func diffFilePath(value, directory string, lookup func(section, option string) (string, bool)) (path, note string) {
	if value == "" || !diffRef().MatchString(value) {
		return value, ""
	}
	fallback := strings.TrimSuffix(directory, "/") + "/mirrored-files"
	m := diffRefParts().FindStringSubmatch(value)
	if m == nil {
		return fallback, fmt.Sprintf("diff-file %q: its {{section_option}} reference does not parse; the diff file goes to %s, as bandersnatch does", value, fallback)
	}
	v, ok := lookup(m[2], m[3])
	if !ok {
		return fallback, fmt.Sprintf("diff-file %q: [%s] %s is not in the config; the diff file goes to %s, as bandersnatch does", value, m[2], m[3], fallback)
	}
	return m[1] + v + m[4], ""
}
