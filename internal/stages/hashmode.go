package stages

import (
	"fmt"

	"github.com/alecthomas/kong"
)

// HashMode is --hash: bare (content on POSIX, metadata on S3), =content, =metadata or =full.
type HashMode string

// Hash modes.
const (
	HashNone     HashMode = ""
	HashDefault  HashMode = "default"
	HashContent  HashMode = "content"
	HashMetadata HashMode = "metadata"
	HashFull     HashMode = "full" // content, every file read, no digest reused
)

// Decode implements kong.MapperValue: a bare --hash takes no value.
func (h *HashMode) Decode(ctx *kong.DecodeContext) error {
	if ctx.Scan.Peek().Type != kong.FlagValueToken {
		*h = HashDefault
		return nil
	}
	var v string
	if err := ctx.Scan.PopValueInto("hash", &v); err != nil {
		return err
	}
	switch HashMode(v) {
	case HashContent, HashMetadata, HashFull:
		*h = HashMode(v)
	case "none", "":
		*h = HashNone
	default:
		return fmt.Errorf("--hash=%s: want content, metadata or full", v)
	}
	return nil
}

// IsBool makes a bare --hash valid.
func (h *HashMode) IsBool() bool { return true }

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
