package stages

import (
	"fmt"

	"github.com/bandercheck/bandercheck/pipeline"
)

// HashMode is what scan storage fills the sha256 column from: HashDefault
// (content on POSIX, metadata on S3), HashContent, HashMetadata or HashFull.
type HashMode string

// Hash modes.
const (
	HashNone     HashMode = ""
	HashDefault  HashMode = "default"
	HashContent  HashMode = "content"
	HashMetadata HashMode = "metadata"
	HashFull     HashMode = "full" // content, every file read, no digest reused
)

// Validate refuses a mode that is none of the above.
func (h HashMode) Validate() error {
	switch h {
	case HashNone, HashDefault, HashContent, HashMetadata, HashFull:
		return nil
	}
	return usage("--hash=%s: want content, metadata or full", string(h))
}

// resolve picks the mode for a store.
func (h HashMode) resolve(s3 bool) HashMode {
	if h == HashDefault {
		if s3 {
			return HashMetadata
		}
		return HashContent
	}
	return h
}

// usage is a *pipeline.UsageError (exit 2) with a formatted message.
func usage(format string, args ...any) error {
	return &pipeline.UsageError{Msg: fmt.Sprintf(format, args...)}
}
