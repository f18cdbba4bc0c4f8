package sources

import (
	"errors"
	"fmt"
	"io"
	"strconv"
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
	p := Project{Serial: -1}
	dec := jsontext.NewDecoder(r)
	if err := expect(dec, '{', "document"); err != nil {
		return p, err
	}
	sawReleases := false
	for dec.PeekKind() != '}' {
		key, err := readString(dec)
		if err != nil {
			return p, err
		}
		switch key {
		case "info":
			if p.Name, err = parseInfo(dec); err != nil {
				return p, err
			}
		case "last_serial":
			if p.Serial, err = readInt(dec, "last_serial"); err != nil {
				return p, err
			}
		case "releases":
			sawReleases = true
			if err := parseReleases(dec, fn); err != nil {
				return p, err
			}
		default:
			if err := dec.SkipValue(); err != nil {
				return p, syntaxErr(err)
			}
		}
	}
	if _, err := dec.ReadToken(); err != nil {
		return p, syntaxErr(err)
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		return p, fmt.Errorf("document: data after the end of the JSON object")
	}
	if !sawReleases {
		return p, errors.New("document has no releases object")
	}
	return p, nil
}

func syntaxErr(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return errors.New("document is truncated")
	}
	return fmt.Errorf("document is not valid JSON: %w", err)
}

func expect(dec *jsontext.Decoder, kind jsontext.Kind, what string) error {
	tok, err := dec.ReadToken()
	if err != nil {
		return syntaxErr(err)
	}
	if tok.Kind() != kind {
		return fmt.Errorf("%s is %s, want %s", what, kindName(tok.Kind()), kindName(kind))
	}
	return nil
}

func kindName(k jsontext.Kind) string {
	switch k {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case '0':
		return "a number"
	case 'n':
		return "null"
	case 't', 'f':
		return "a boolean"
	}
	return "invalid"
}

func readString(dec *jsontext.Decoder) (string, error) {
	tok, err := dec.ReadToken()
	if err != nil {
		return "", syntaxErr(err)
	}
	if tok.Kind() != '"' {
		return "", fmt.Errorf("expected a string, found %s", kindName(tok.Kind()))
	}
	return tok.String(), nil
}

func readInt(dec *jsontext.Decoder, what string) (int64, error) {
	tok, err := dec.ReadToken()
	if err != nil {
		return 0, syntaxErr(err)
	}
	if tok.Kind() != '0' {
		return 0, fmt.Errorf("%s is %s, want a number", what, kindName(tok.Kind()))
	}
	n, err := strconv.ParseInt(tok.String(), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s %s is not a whole number", what, tok.String())
	}
	return n, nil
}

func parseInfo(dec *jsontext.Decoder) (string, error) {
	if dec.PeekKind() != '{' {
		return "", dec.SkipValue()
	}
	if _, err := dec.ReadToken(); err != nil {
		return "", syntaxErr(err)
	}
	name := ""
	for dec.PeekKind() != '}' {
		key, err := readString(dec)
		if err != nil {
			return "", err
		}
		if key == "name" && dec.PeekKind() == '"' {
			if name, err = readString(dec); err != nil {
				return "", err
			}
			continue
		}
		if err := dec.SkipValue(); err != nil {
			return "", syntaxErr(err)
		}
	}
	_, err := dec.ReadToken()
	return name, syntaxErrOrNil(err)
}

func syntaxErrOrNil(err error) error {
	if err == nil {
		return nil
	}
	return syntaxErr(err)
}

func parseReleases(dec *jsontext.Decoder, fn func(File) error) error {
	if err := expect(dec, '{', "releases"); err != nil {
		return err
	}
	for dec.PeekKind() != '}' {
		version, err := readString(dec)
		if err != nil {
			return err
		}
		if err := expect(dec, '[', fmt.Sprintf("releases[%q]", version)); err != nil {
			return err
		}
		for i := 0; dec.PeekKind() != ']'; i++ {
			f, err := parseFile(dec, fileKeysJSON)
			if err == nil {
				err = f.check()
			}
			if err != nil {
				return fmt.Errorf("releases[%q][%d]: %w", version, i, err)
			}
			if err := fn(f); err != nil {
				return err
			}
		}
		if _, err := dec.ReadToken(); err != nil {
			return syntaxErr(err)
		}
	}
	_, err := dec.ReadToken()
	return syntaxErrOrNil(err)
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
	if err := expect(dec, '{', "file entry"); err != nil {
		return f, err
	}
	sawSize := false
	coreSeen := false
	for dec.PeekKind() != '}' {
		key, err := readString(dec)
		if err != nil {
			return f, err
		}
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
				err = dec.SkipValue()
			} else {
				f.UploadTime, err = readString(dec)
			}
		case "core-metadata", "data-dist-info-metadata":
			var sum string
			sum, err = readMetadataDigest(dec, key)
			if key == "core-metadata" || !coreSeen {
				f.MetadataSHA256 = sum
			}
			coreSeen = coreSeen || key == "core-metadata"
		default:
			err = dec.SkipValue()
		}
		if err != nil {
			return f, err
		}
	}
	if _, err := dec.ReadToken(); err != nil {
		return f, syntaxErr(err)
	}
	if keys.sizeRequired && !sawSize {
		return f, errors.New("no size")
	}
	return f, nil
}

// readDigests reads {"sha256": …, …} and returns the sha256.
func readDigests(dec *jsontext.Decoder, what string) (string, error) {
	if err := expect(dec, '{', what); err != nil {
		return "", err
	}
	sum := ""
	for dec.PeekKind() != '}' {
		k, err := readString(dec)
		if err != nil {
			return "", err
		}
		if k == "sha256" {
			if sum, err = readString(dec); err != nil {
				return "", err
			}
			continue
		}
		if err := dec.SkipValue(); err != nil {
			return "", syntaxErr(err)
		}
	}
	_, err := dec.ReadToken()
	return sum, syntaxErrOrNil(err)
}

// readMetadataDigest reads core-metadata: a dict of digests, true or false.
func readMetadataDigest(dec *jsontext.Decoder, what string) (string, error) {
	if dec.PeekKind() == '{' {
		sum, err := readDigests(dec, what)
		if err == nil && sum != "" && !ValidSHA256(sum) {
			err = fmt.Errorf("%s sha256 %q is not 64 hex digits", what, sum)
		}
		return sum, err
	}
	return "", dec.SkipValue()
}

// check validates a file entry of the JSON API and fills its mirror path.
func (f *File) check() error {
	if f.Filename == "" {
		return errors.New("no filename")
	}
	if f.URL == "" {
		return fmt.Errorf("%s: no url", f.Filename)
	}
	if !ValidSHA256(f.SHA256) {
		return fmt.Errorf("%s: sha256 %q is not 64 hex digits", f.Filename, f.SHA256)
	}
	p, err := MirrorPath(f.URL)
	if err != nil {
		return fmt.Errorf("%s: %w", f.Filename, err)
	}
	f.Path = p
	f.SHA256 = strings.ToLower(f.SHA256)
	f.MetadataSHA256 = strings.ToLower(f.MetadataSHA256)
	return nil
}
