package redact

import (
	"bytes"
	"testing"
)

func TestString(t *testing.T) {
	for in, want := range map[string]string{
		"http://user:pw@m.example/pypi/packages/a":             "http://REDACTED@m.example/pypi/packages/a",
		"get https://tok@h:8080/x: 500; and s3+http://a:b@c/d": "get https://REDACTED@h:8080/x: 500; and s3+http://REDACTED@c/d",
		"https://m.example/a@b/c":                              "https://m.example/a@b/c",
		"mail me@example.com":                                  "mail me@example.com",
		`"http://u:p%40x@h/"`:                                  `"http://REDACTED@h/"`,
	} {
		if got := String(in); got != want {
			t.Errorf("String(%q) = %q, want %q", in, got, want)
		}
	}
	var b bytes.Buffer
	Writer(&b).Write([]byte("level=INFO msg=\"fetch http://u:secret@h/x\"\n"))
	if bytes.Contains(b.Bytes(), []byte("secret")) {
		t.Errorf("writer passed on %q", b.String())
	}
}
