package sources

import (
	"errors"
	"fmt"
	"io"

	"github.com/go-json-experiment/json/jsontext"
)

// ParseJSON streams a PyPI JSON API document (web/json/<name>) and calls fn
// for each release file under releases.<version>[]. Memory holds one token
// at a time (the largest is usually info.description), never the document.
// Any defect (not an object, no releases, a file without url or filename, a
// URL outside /packages/, a bad size or digest, truncation) is an error:
// a project's files are only trusted when its whole document is.
func ParseJSON(r io.Reader, fn func(File) error) (Project, error) {
	p := Project{Serial: -1}
	dec := newDecoder(r)
	sawReleases := false
	err := members(dec, "document", func(key string) (err error) {
		switch key {
		case "info":
			p.Name, err = parseInfo(dec)
		case "last_serial":
			p.Serial, err = readInt(dec, "last_serial")
		case "releases":
			sawReleases = true
			err = parseReleases(dec, fn)
		default:
			err = skip(dec)
		}
		return err
	})
	if err == nil {
		err = endOfDocument(dec, "document")
	}
	if err == nil && !sawReleases {
		err = errors.New("document has no releases object")
	}
	return p, err
}

func parseInfo(dec *jsontext.Decoder) (string, error) {
	if dec.PeekKind() != '{' {
		return "", skip(dec)
	}
	name := ""
	err := members(dec, "info", func(key string) (err error) {
		if key == "name" && dec.PeekKind() == '"' {
			name, err = readString(dec)
			return err
		}
		return skip(dec)
	})
	return name, err
}

func parseReleases(dec *jsontext.Decoder, fn func(File) error) error {
	return members(dec, "releases", func(version string) error {
		return elements(dec, fmt.Sprintf("releases[%q]", version), func(i int) error {
			f, err := parseFile(dec, fileKeysJSON)
			if err == nil {
				err = f.check()
			}
			if err != nil {
				return fmt.Errorf("releases[%q][%d]: %w", version, i, err)
			}
			return fn(f)
		})
	})
}

// fileKeys names the fields of a file object in one API.
type fileKeys struct {
	digests, uploadTime string
	sizeRequired        bool
}

var (
	fileKeysJSON   = fileKeys{digests: "digests", uploadTime: "upload_time_iso_8601", sizeRequired: true}
	fileKeysSimple = fileKeys{digests: "hashes", uploadTime: "upload-time"}
)

// parseFile reads one file object; the URL is resolved by the caller.
func parseFile(dec *jsontext.Decoder, keys fileKeys) (File, error) {
	f := File{Size: -1}
	sawSize, coreSeen := false, false
	err := members(dec, "file entry", func(key string) (err error) {
		switch key {
		case "filename":
			f.Filename, err = readString(dec)
		case "url":
			f.URL, err = readString(dec)
		case "size":
			sawSize = true
			f.Size, err = readInt(dec, "size")
			if err == nil && f.Size < 0 {
				err = fmt.Errorf("size %d is negative", f.Size)
			}
		case keys.digests:
			f.SHA256, err = readDigests(dec, key)
		case keys.uploadTime:
			if dec.PeekKind() == 'n' {
				return skip(dec)
			}
			f.UploadTime, err = readString(dec)
		case "core-metadata", "data-dist-info-metadata":
			var sum string
			sum, err = readMetadataDigest(dec, key)
			if key == "core-metadata" || !coreSeen {
				f.MetadataSHA256 = sum
			}
			coreSeen = coreSeen || key == "core-metadata"
		default:
			err = skip(dec)
		}
		return err
	})
	if err == nil && keys.sizeRequired && !sawSize {
		err = errors.New("no size")
	}
	return f, err
}

// readDigests reads {"sha256": …, …} and returns the sha256.
func readDigests(dec *jsontext.Decoder, what string) (string, error) {
	sum := ""
	err := members(dec, what, func(k string) (err error) {
		if k == "sha256" {
			sum, err = readString(dec)
			return err
		}
		return skip(dec)
	})
	return sum, err
}

// readMetadataDigest reads core-metadata: a dict of digests, true or false.
func readMetadataDigest(dec *jsontext.Decoder, what string) (string, error) {
	if dec.PeekKind() != '{' {
		return "", skip(dec)
	}
	sum, err := readDigests(dec, what)
	if err == nil && sum != "" && !ValidSHA256(sum) {
		err = fmt.Errorf("%s sha256 %q is not 64 hex digits", what, sum)
	}
	return sum, err
}

// check validates a file entry of the JSON API and fills its mirror path.
func (f *File) check() error {
	if f.Filename == "" {
		return errors.New("no filename")
	}
	if f.URL == "" {
		return fmt.Errorf("%s: no url", f.Filename)
	}
	sum, ok := checkSHA256(f.SHA256)
	if !ok {
		return fmt.Errorf("%s: sha256 %q is not 64 hex digits", f.Filename, f.SHA256)
	}
	f.SHA256 = sum
	p, err := MirrorPath(f.URL)
	if err != nil {
		return fmt.Errorf("%s: %w", f.Filename, err)
	}
	f.Path = p
	f.MetadataSHA256, _ = checkSHA256(f.MetadataSHA256) // checked when read
	return nil
}
