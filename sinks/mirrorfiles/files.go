package mirrorfiles

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bandercheck/bandercheck/internal/pyjson"
	"github.com/bandercheck/bandercheck/sinks"
	"github.com/bandercheck/bandercheck/sources"
)

// Download is one file bandersnatch fetches for a project: a release file,
// or the PEP 658 .metadata right after it.
type Download struct {
	Path       string    // mirror key: "web" + the percent-decoded URL path
	URL        string    // upstream URL (the file's url, + ".metadata")
	Size       int64     // -1 for .metadata (upstream gives no size)
	DigestName string    // sha256 for release files; the core-metadata algorithm for .metadata
	Digest     string    // hex digest the body must have
	UploadTime time.Time // the release file's upload_time_iso_8601 (microseconds)
	// Mtime is the mtime bandersnatch leaves: os.utime of upload_time's
	// float timestamp, whose nanoseconds are not always UploadTime's.
	Mtime    time.Time
	Metadata bool // a .metadata file
}

// Want is the download as sinks.Fetcher takes it (sha256 only: a .metadata
// digest of another algorithm cannot be checked by it).
func (d Download) Want() sinks.Want {
	sum := ""
	if d.DigestName == "sha256" {
		sum = d.Digest
	}
	return sinks.Want{Key: d.Path, URL: d.URL, Size: d.Size, SHA256: sum, Uploaded: d.Mtime}
}

// S3Metadata is the object metadata bandersnatch's S3 backend stores with a
// downloaded file: {digest_name: digest, "uploaded-at": str(timestamp)}.
func (d Download) S3Metadata() map[string]string {
	return map[string]string{d.DigestName: d.Digest, "uploaded-at": pyjson.PyFloat(pyTimestamp(d.UploadTime))}
}

// Downloads are the files bandersnatch fetches for the project, in its
// order (document order; each .metadata right after its release file):
// none with release-files off; .metadata only with core-metadata on and a
// digest it can verify.
func (p *Project) Downloads() []Download {
	if p.err != nil || p.Skip != "" || !p.opts.ReleaseFiles {
		return nil
	}
	var out []Download
	for i, v := range p.files {
		var f file
		if p.parsed != nil {
			f = p.parsed[i]
		} else {
			f, _ = fileOf(v, p.opts) // checked by Prepare
		}
		out = append(out, Download{Path: f.key, URL: f.url, Size: f.size, DigestName: "sha256", Digest: f.sha256,
			UploadTime: f.uploaded, Mtime: Mtime(f.uploaded)})
		if f.metaName != "" {
			out = append(out, Download{Path: f.key + ".metadata", URL: f.url + ".metadata", Size: -1,
				DigestName: f.metaName, Digest: f.metaDigest, UploadTime: f.uploaded, Mtime: Mtime(f.uploaded), Metadata: true})
		}
	}
	return out
}

// file is what the downloads and pages read of one release file.
type file struct {
	v          *pyjson.Value
	filename   string
	url        string
	rawPath    string // urlparse(url).path, still percent-encoded
	key        string
	size       int64
	sha256     string
	digest     string // the configured digest_name's
	uploaded   time.Time
	metaName   string // find_core_metadata_digest, "" when none
	metaDigest string
}

func fileOf(v *pyjson.Value, o Options) (file, error) {
	f := file{v: v, filename: str(v.Get("filename")), url: str(v.Get("url"))}
	if f.filename == "" {
		return f, fmt.Errorf("a file has no filename")
	}
	if f.url == "" {
		return f, fmt.Errorf("file %s has no url", f.filename)
	}
	f.rawPath = urlPath(f.url)
	var err error
	if f.key, err = localPath(f.rawPath, f.url); err != nil {
		return f, fmt.Errorf("file %s: %w", f.filename, err)
	}
	f.sha256 = str(v.Get("digests").Get("sha256"))
	f.digest = str(v.Get("digests").Get(o.digest()))
	if o.ReleaseFiles {
		if !sources.ValidSHA256(f.sha256) {
			return f, fmt.Errorf("file %s has no sha256 digest", f.filename)
		}
		s := v.Get("size")
		if s == nil || s.Kind != pyjson.KindInt {
			return f, fmt.Errorf("file %s has no integer size", f.filename)
		}
		if f.size, err = strconv.ParseInt(s.Str, 10, 64); err != nil || f.size < 0 {
			return f, fmt.Errorf("file %s: size %s", f.filename, s.Str)
		}
		if f.uploaded, err = parseUploadTime(str(v.Get("upload_time_iso_8601"))); err != nil {
			return f, fmt.Errorf("file %s: upload_time_iso_8601: %w", f.filename, err)
		}
	}
	if o.CoreMetadata {
		f.metaName, f.metaDigest = coreMetadataDigest(v, o.digest())
	}
	if rp := v.Get("requires_python"); rp != nil && rp.Kind != pyjson.KindNull && rp.Kind != pyjson.KindString {
		return f, fmt.Errorf("file %s: requires_python is not a string", f.filename)
	}
	if v.Get("yanked").Truthy() {
		if yr := v.Get("yanked_reason"); yr.Truthy() && yr.Kind != pyjson.KindString {
			return f, fmt.Errorf("file %s: yanked_reason is not a string", f.filename)
		}
	}
	return f, nil
}

// hashlibNames is hashlib.algorithms_available of bandersnatch 8's Python.
var hashlibNames = []string{"blake2b", "blake2s", "md5", "md5-sha1", "ripemd160", "sha1", "sha224", "sha256", "sha384",
	"sha3_224", "sha3_256", "sha3_384", "sha3_512", "sha512", "sha512_224", "sha512_256", "shake_128", "shake_256", "sm3"}

// coreMetadataDigest is find_core_metadata_digest: from a core-metadata
// dict, the preferred digest, then sha256, then the first algorithm hashlib
// knows in name order; none for true, false or an absent key.
func coreMetadataDigest(v *pyjson.Value, preferred string) (string, string) {
	cm := v.Get("core-metadata")
	if cm == nil || cm.Kind != pyjson.KindObject {
		return "", ""
	}
	for _, n := range []string{preferred, "sha256"} {
		if d := str(cm.Get(n)); d != "" {
			return n, d
		}
	}
	keys := slices.Clone(cm.Keys)
	sort.Strings(keys)
	for _, k := range keys {
		if d := str(cm.Get(k)); d != "" && slices.Contains(hashlibNames, k) {
			return k, d
		}
	}
	return "", ""
}

// urlPath is urllib.parse.urlparse(u).path: after the scheme and the
// //netloc, before ?query and #fragment, without the ;params of the last
// segment; still percent-encoded.
func urlPath(u string) string {
	if i := strings.IndexByte(u, '#'); i >= 0 {
		u = u[:i]
	}
	if i := strings.IndexByte(u, ':'); i > 0 && isScheme(u[:i]) {
		u = u[i+1:]
	}
	if strings.HasPrefix(u, "//") {
		rest := u[2:]
		if i := strings.IndexAny(rest, "/?#"); i >= 0 {
			u = rest[i:]
		} else {
			u = ""
		}
	}
	if i := strings.IndexByte(u, '?'); i >= 0 {
		u = u[:i]
	}
	last := strings.LastIndexByte(u, '/')
	if i := strings.IndexByte(u[last+1:], ';'); i >= 0 {
		u = u[:last+1+i]
	}
	return u
}

// schemeRE and isoRE are compiled at their first use: only sync needs them.
var schemeRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*$`) })

func isScheme(s string) bool { return schemeRE().MatchString(s) }

// localPath is _file_url_to_local_path: "web" + unquote(path), refusing
// any path that is not a clean key under web/packages/.
func localPath(rawPath, url string) (string, error) {
	return sources.MirrorPathFromPath(pyUnquote(rawPath), url)
}

// pyUnquote is urllib.parse.unquote for a path: each valid %XX becomes its
// byte, anything else stays as written.
func pyUnquote(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			n, _ := strconv.ParseUint(s[i+1:i+3], 16, 8)
			b.WriteByte(byte(n))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

var isoRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})?$`)
})

// parseUploadTime is datetime.fromisoformat(s.replace("Z", "+00:00")) for
// the forms upstream writes; a time without zone is taken as UTC (the
// local time of a mirror host that runs in UTC, as bandersnatch would).
func parseUploadTime(s string) (time.Time, error) {
	m := isoRE().FindStringSubmatch(s)
	if m == nil {
		return time.Time{}, fmt.Errorf("%q is not an ISO 8601 time", s)
	}
	frac := m[3]
	if len(frac) > 6 {
		frac = frac[:6]
	}
	frac += strings.Repeat("0", 6-len(frac))
	zone := m[4]
	if zone == "" || zone == "Z" {
		zone = "+00:00"
	}
	t, err := time.Parse("2006-01-02T15:04:05.000000-07:00", m[1]+"T"+m[2]+"."+frac+zone)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q: %w", s, err)
	}
	return t.UTC(), nil
}

// pyTimestamp is datetime.timestamp(): microseconds since the epoch
// divided by 10^6, rounded once to a float.
func pyTimestamp(t time.Time) float64 {
	return float64(t.UnixMicro()) / 1e6
}

// Mtime is the mtime os.utime(path, (ts, ts)) leaves for ts =
// upload_time.timestamp(): the float's whole seconds, and its fraction
// times 10^9 rounded down, as Python converts a float to a timespec.
func Mtime(t time.Time) time.Time {
	ts := pyTimestamp(t)
	sec, frac := math.Modf(ts)
	ns := math.Floor(frac * 1e9)
	if frac < 0 {
		ns = math.Floor(frac*1e9) + 1e9
		sec--
	}
	return time.Unix(int64(sec), int64(ns)).UTC()
}
