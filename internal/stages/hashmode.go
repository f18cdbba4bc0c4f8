package stages

import (
	"fmt"

	"github.com/bandercheck/bandercheck/pipeline"
)

// HashMode is what scan storage fills the sha256 column from: HashDefault
// (content on POSIX, etag on S3), HashContent, HashMetadata, HashETag,
// HashETagContent or HashFull.
type HashMode string

// Hash modes.
const (
	HashNone     HashMode = ""
	HashDefault  HashMode = "default"
	HashContent  HashMode = "content"
	HashMetadata HashMode = "metadata"
	HashFull     HashMode = "full" // content, every file read, no digest reused
	// HashETag proves an S3 object by its listed ETag (the MD5 of its bytes),
	// which plan compares with the designated md5, at no request an object;
	// an object whose ETag is no MD5 falls back to its sha256 metadata.
	HashETag HashMode = "etag"
	// HashETagContent is HashETag falling back to reading the content.
	HashETagContent HashMode = "etag+content"
)

// Validate refuses a mode that is none of the above.
func (h HashMode) Validate() error {
	switch h {
	case HashNone, HashDefault, HashContent, HashMetadata, HashFull, HashETag, HashETagContent:
		return nil
	}
	return usage("--hash=%s: want content, metadata, etag, etag+content or full", string(h))
}

// resolve picks the mode for a store.
func (h HashMode) resolve(s3 bool) HashMode {
	if h == HashDefault {
		if s3 {
			return HashETag
		}
		return HashContent
	}
	if !s3 && (h == HashETag || h == HashETagContent) {
		return HashContent // files on disk carry no ETag: read them
	}
	return h
}

// etagMode tells whether h proves objects by their ETags.
func (h HashMode) etagMode() bool { return h == HashETag || h == HashETagContent }

// usage is a *pipeline.UsageError (exit 2) with a formatted message.
func usage(format string, args ...any) error {
	return &pipeline.UsageError{Msg: fmt.Sprintf(format, args...)}
}
