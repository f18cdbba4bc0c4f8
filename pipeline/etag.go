package pipeline

import (
	"crypto/md5"
	"encoding/hex"
	"strings"
)

// How a stored file's content was proven, the storage manifest's verified
// column: by its listed ETag (plan compares it with the designated md5), by
// the sha256 metadata beside it, by reading it, or not at all ("").
const (
	VerifiedETag     = "etag"
	VerifiedMetadata = "metadata"
	VerifiedContent  = "content"
	// ProvenBySize is JoinSummary.Proven's key for a stored file of the
	// right size whose content nothing proved (no digest to compare).
	ProvenBySize = "size"
)

// ETagMD5 reads an S3 ETag (quoted or not) as a content digest: a plain ETag
// of 32 hex digits is the MD5 of the bytes; "<32 hex>-1", a multipart upload
// of one part, is the MD5 of that part's MD5, so of the bytes' MD5. Any
// other ETag (several parts, SSE-KMS or SSE-C, a gateway's own) proves
// nothing: ok is false.
func ETagMD5(etag string) (sum string, onePart, ok bool) {
	e := strings.Trim(etag, `"`)
	if h, found := strings.CutSuffix(e, "-1"); found {
		e, onePart = h, true
	}
	if len(e) != 32 {
		return "", false, false
	}
	for _, c := range e {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return "", false, false
		}
	}
	return strings.ToLower(e), onePart, true
}

// ETagMatches tells whether an object whose bytes have the MD5 md5hex would
// carry etag. An ETag ETagMD5 cannot read, or a malformed md5hex, never matches.
func ETagMatches(etag, md5hex string) bool {
	sum, onePart, ok := ETagMD5(etag)
	if !ok || len(md5hex) != 32 {
		return false
	}
	want := strings.ToLower(md5hex)
	if onePart {
		raw, err := hex.DecodeString(want)
		if err != nil {
			return false
		}
		h := md5.Sum(raw)
		want = hex.EncodeToString(h[:])
	}
	return sum == want
}

// Confirmer is a Planner that can read a stored file to confirm a mismatch
// its ETag suggests: Join never plans a download from an ETag alone.
// ConfirmMismatch tells whether the stored bytes of path differ from
// sha256 (a hex digest).
type Confirmer interface {
	ConfirmMismatch(path, sha256 string) (bool, error)
}
