package sources

import (
	"strings"
	"testing"
)

// TestJSONGivesMD5: digests.md5 (or md5_digest when digests has none) is the
// file's MD5, lower-cased; a value that is not 32 hex digits is dropped
// rather than failing the file; simple pages give none.
func TestJSONGivesMD5(t *testing.T) {
	const sha = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	file := func(name, extra string) string {
		return `{"filename":"` + name + `","url":"https://files.example.invalid/packages/aa/bb/` + name + `","size":1,` + extra + `}`
	}
	doc := `{"info":{"name":"p"},"last_serial":1,"releases":{"1.0":[` +
		file("a.tar.gz", `"digests":{"md5":"0123456789ABCDEF0123456789abcdef","sha256":"`+sha+`"}`) + `,` +
		file("b.tar.gz", `"md5_digest":"fedcba9876543210fedcba9876543210","digests":{"sha256":"`+sha+`"}`) + `,` +
		file("c.tar.gz", `"digests":{"md5":"zz","sha256":"`+sha+`"}`) + `]}}`
	got := map[string]string{}
	if _, err := ParseJSON(strings.NewReader(doc), func(f File) error { got[f.Filename] = f.MD5; return nil }); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a.tar.gz": "0123456789abcdef0123456789abcdef", "b.tar.gz": "fedcba9876543210fedcba9876543210", "c.tar.gz": ""}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: md5 %q, want %q", k, got[k], v)
		}
	}
}
