package sinks

import (
	"strings"
	"testing"
)

func TestFilterHTMLDropsOnlyRemovedAnchors(t *testing.T) {
	removed := map[string]bool{"gone-pkg": true, "b": true}
	cases := []struct{ name, in, want string }{
		{"bandersnatch's format",
			"<!DOCTYPE html>\n<html>\n  <head>\n    <title>Simple Index</title>\n  </head>\n  <body>\n    <a href=\"a/\">a</a><br/>\n    <a href=\"gone-pkg/\">Gone_Pkg</a><br/>\n    <a href=\"c/\">c</a><br/>\n  </body>\n</html>",
			"<!DOCTYPE html>\n<html>\n  <head>\n    <title>Simple Index</title>\n  </head>\n  <body>\n    <a href=\"a/\">a</a><br/>\n    <a href=\"c/\">c</a><br/>\n  </body>\n</html>"},
		{"all anchors on one line",
			`<html><body><a href="a/">a</a><br/><a href="b/">b</a><br/><a href="c/">c</a><br/></body></html>`,
			`<html><body><a href="a/">a</a><br/><a href="c/">c</a><br/></body></html>`},
		{"the last one goes",
			"<html><body>\n    <a href=\"a/\">a</a><br/>\n    <a href=\"b/\">b</a><br/>\n</body></html>\n",
			"<html><body>\n    <a href=\"a/\">a</a><br/>\n</body></html>\n"},
		{"upper case tags and entities kept as they are",
			"<HTML><BODY><A HREF=\"x/\">x&amp;y</A><BR/><a href=\"b/\">b</a></BODY></HTML>",
			"<HTML><BODY><A HREF=\"x/\">x&amp;y</A><BR/></BODY></HTML>"},
		{"nothing removed", "<html><body><a href=\"a/\">a</a></body></html>", "<html><body><a href=\"a/\">a</a></body></html>"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out strings.Builder
			if err := filterHTML(strings.NewReader(c.in), &out, removed); err != nil {
				t.Fatal(err)
			}
			if out.String() != c.want {
				t.Errorf("got\n%q\nwant\n%q", out.String(), c.want)
			}
		})
	}
}
