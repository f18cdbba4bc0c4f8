package sources

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/go-json-experiment/json/jsontext"
)

// ParseJSON streams a PyPI JSON API document (web/json/<name>) and calls fn
// for each release file under releases.<version>[]. Memory holds one token
// at a time (the largest is usually info.description), never the document.
// Any defect (not an object, no releases, a file without url or filename, a
// URL outside /packages/, a bad size or digest, truncation) is an error:
// a project's files are only trusted when its whole document is.
func ParseJSON(r io.Reader, fn func(File) error) (Project, error) {
	return ParseOptions{}.ParseJSON(r, fn)
}

// ParseOptions asks the JSON parser for fields beyond those it always
// reads: the ones bandersnatch's filters look at.
type ParseOptions struct {
	InfoFields []string // info.<field> values into Project.Info
	FileFields []string // release file fields into File.Fields
}

// ParseJSON is ParseJSON with the fields o asks for.
func (o ParseOptions) ParseJSON(r io.Reader, fn func(File) error) (Project, error) {
	p := Project{Serial: -1}
	dec := newDecoder(r)
	sawReleases := false
	err := members(dec, "document", func(key string) (err error) {
		switch key {
		case "info":
			err = o.parseInfo(dec, &p)
		case "last_serial":
			p.Serial, err = readInt(dec, "last_serial")
		case "releases":
			sawReleases = true
			err = o.parseReleases(dec, fn)
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

func (o ParseOptions) parseInfo(dec *jsontext.Decoder, p *Project) error {
	if dec.PeekKind() != '{' {
		return skip(dec)
	}
	return members(dec, "info", func(key string) (err error) {
		switch {
		case key == "name" && dec.PeekKind() == '"':
			p.Name, err = readString(dec)
		case key == "version" && dec.PeekKind() == '"':
			p.Version, err = readString(dec)
		case slices.Contains(o.InfoFields, key):
			if p.Info == nil {
				p.Info = map[string]any{}
			}
			p.Info[key], err = readAny(dec)
		default:
			err = skip(dec)
		}
		return err
	})
}

// readAny reads one value whole, as encoding/json decodes it into any.
func readAny(dec *jsontext.Decoder) (any, error) {
	raw, err := dec.ReadValue()
	if err != nil {
		return nil, syntaxErrOrNil(err)
	}
	var v any
	return v, json.Unmarshal(raw, &v)
}

func (o ParseOptions) parseReleases(dec *jsontext.Decoder, fn func(File) error) error {
	return members(dec, "releases", func(version string) error {
		return elements(dec, fmt.Sprintf("releases[%q]", version), func(i int) error {
			f, err := parseFile(dec, fileKeysJSON, o.FileFields)
			f.Version = version
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
func parseFile(dec *jsontext.Decoder, keys fileKeys, fields []string) (File, error) {
	f := File{Size: -1}
	sawSize := false
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
			var md string
			f.SHA256, md, err = readDigests(dec, key)
			if md != "" {
				f.MD5 = md
			}
		case "md5_digest":
			if dec.PeekKind() != '"' {
				return skip(dec)
			}
			var md string
			if md, err = readString(dec); err == nil && f.MD5 == "" {
				f.MD5 = md
			}
		case keys.uploadTime:
			if dec.PeekKind() == 'n' {
				return skip(dec)
			}
			f.UploadTime, err = readString(dec)
		case "core-metadata":
			f.MetadataDigests, err = readMetadataDigests(dec, key)
		case "packagetype":
			if dec.PeekKind() == '"' {
				f.Type, err = readString(dec)
			} else {
				err = skip(dec)
			}
		default:
			if slices.Contains(fields, key) {
				if f.Fields == nil {
					f.Fields = map[string]any{}
				}
				f.Fields[key], err = readAny(dec)
				return err
			}
			err = skip(dec)
		}
		return err
	})
	if err == nil && keys.sizeRequired && !sawSize {
		err = errors.New("no size")
	}
	return f, err
}

// readDigests reads {"sha256": …, "md5": …, …} and returns the sha256 and
// the md5 (as given; File.check keeps it only when it is 32 hex digits).
func readDigests(dec *jsontext.Decoder, what string) (sum, md string, err error) {
	err = members(dec, what, func(k string) (err error) {
		switch {
		case k == "sha256":
			sum, err = readString(dec)
			return err
		case k == "md5" && dec.PeekKind() == '"':
			md, err = readString(dec)
			return err
		}
		return skip(dec)
	})
	return sum, md, err
}

// checkMD5 returns s lower-cased when it is 32 hex digits, else "".
func checkMD5(s string) string {
	if len(s) != 32 || !isHex(s) {
		return ""
	}
	return strings.ToLower(s)
}

// readMetadataDigests reads core-metadata: a dict of digests (its string
// values), or true or false (nil).
func readMetadataDigests(dec *jsontext.Decoder, what string) (map[string]string, error) {
	if dec.PeekKind() != '{' {
		return nil, skip(dec)
	}
	out := map[string]string{}
	err := members(dec, what, func(k string) (err error) {
		if dec.PeekKind() != '"' {
			return skip(dec)
		}
		v, err := readString(dec)
		if err == nil && v != "" {
			if !isHex(v) || (k == "sha256" && !ValidSHA256(v)) {
				return fmt.Errorf("%s %s %q is not a hex digest", what, k, v)
			}
			out[k] = strings.ToLower(v)
		}
		return err
	})
	return out, err
}

func isHex(s string) bool {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return s != ""
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
	f.MD5 = checkMD5(f.MD5) // a bad md5 only loses the ETag check
	p, err := MirrorPath(f.URL)
	if err != nil {
		return fmt.Errorf("%s: %w", f.Filename, err)
	}
	f.Path = p
	return nil
}
