package sources

import (
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/go-json-experiment/json/jsontext"
)

// newDecoder reads a metadata document: strings cut to maxString, and no
// bookkeeping of member names (a duplicate name is not a defect we act on).
func newDecoder(r io.Reader) *jsontext.Decoder {
	return jsontext.NewDecoder(newShortStrings(r, maxString), jsontext.AllowDuplicateNames(true))
}

// The helpers below walk a JSON stream token by token, so that memory holds
// one token at a time. Callbacks must consume the value they are handed.

// members reads an object and calls fn with each member's key.
func members(dec *jsontext.Decoder, what string, fn func(key string) error) error {
	if err := expect(dec, '{', what); err != nil {
		return err
	}
	for dec.PeekKind() != '}' {
		key, err := readString(dec)
		if err != nil {
			return err
		}
		if err := fn(key); err != nil {
			return err
		}
	}
	_, err := dec.ReadToken()
	return syntaxErrOrNil(err)
}

// elements reads an array and calls fn for each element.
func elements(dec *jsontext.Decoder, what string, fn func(i int) error) error {
	if err := expect(dec, '[', what); err != nil {
		return err
	}
	for i := 0; dec.PeekKind() != ']'; i++ {
		if err := fn(i); err != nil {
			return err
		}
	}
	_, err := dec.ReadToken()
	return syntaxErrOrNil(err)
}

// skip consumes a value.
func skip(dec *jsontext.Decoder) error { return syntaxErrOrNil(dec.SkipValue()) }

// endOfDocument checks that nothing follows the top-level value.
func endOfDocument(dec *jsontext.Decoder, what string) error {
	if _, err := dec.ReadToken(); err != io.EOF {
		return fmt.Errorf("%s: data after the end of the JSON object", what)
	}
	return nil
}

func syntaxErr(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return errors.New("document is truncated")
	}
	return fmt.Errorf("document is not valid JSON: %w", err)
}

func syntaxErrOrNil(err error) error {
	if err == nil {
		return nil
	}
	return syntaxErr(err)
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
