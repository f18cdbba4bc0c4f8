package sources

import (
	"slices"
	"strings"
)

// File is one release file a project's metadata designates.
type File struct {
	Path       string // mirror key
	Filename   string
	URL        string
	Size       int64 // -1 when unknown
	SHA256     string
	MD5        string // 32 lower-case hex digits, or "" (simple pages give none)
	UploadTime string // RFC 3339, may be empty
	Version    string // the release it belongs to (JSON API only)
	Type       string // packagetype (JSON API only)

	// MetadataDigests is the PEP 658/714 core-metadata dict (algorithm →
	// hex digest); nil when upstream has none, or only true, or only the
	// legacy data-dist-info-metadata key, none of which bandersnatch mirrors.
	MetadataDigests map[string]string

	// Fields are the file's JSON fields that ParseOptions.FileFields asked for.
	Fields map[string]any
}

// Project is what a metadata document says of its project besides files.
type Project struct {
	Name    string
	Serial  int64          // -1 when unknown
	Version string         // info.version (JSON API only)
	Info    map[string]any // the info fields ParseOptions.InfoFields asked for
}

// MetadataDigest chooses the digest of the file's .metadata as bandersnatch
// 8's find_core_metadata_digest does: the preferred algorithm, then sha256,
// then any other it can verify, in name order. It returns "" when the
// file's .metadata is not mirrored, the hex digest for sha256, and
// "algorithm:hex" for another algorithm.
func (f File) MetadataDigest(preferred string) string {
	d := f.MetadataDigests
	if d == nil {
		return ""
	}
	if v := d["sha256"]; v != "" {
		return v // what bandersnatch names first or second; sha256 verifies it as well
	}
	if v := d[preferred]; v != "" && slices.Contains(digestNames, preferred) {
		return preferred + ":" + v
	}
	names := make([]string, 0, len(d))
	for k := range d {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		if d[k] != "" && slices.Contains(digestNames, k) {
			return k + ":" + d[k]
		}
	}
	return ""
}

// SplitDigest splits a digest column ("hex" or "algorithm:hex") into its
// algorithm and hex digest.
func SplitDigest(s string) (algorithm, hex string) {
	if a, h, ok := strings.Cut(s, ":"); ok {
		return a, h
	}
	return "sha256", s
}
