package sinks

import (
	"fmt"
	"strings"
	"testing"

	"github.com/bandercheck/bandercheck/internal/pyjson"
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

// bandersnatchRootIndex writes the root indexes as bandersnatch 8's
// sync_index_page does for projects (its simple.py, read line by line).
func bandersnatchRootIndex(projects []string, serial int, pretty bool) (htmlPage, jsonPage string) {
	var h strings.Builder
	h.WriteString("<!DOCTYPE html>\n<html>\n  <head>\n    <meta name=\"pypi:repository-version\" content=\"1.0\">\n    <title>Simple Index</title>\n  </head>\n  <body>\n")
	for _, p := range projects {
		h.WriteString("    <a href=\"" + p + "/\">" + p + "</a><br/>\n")
	}
	h.WriteString("  </body>\n</html>")
	var j strings.Builder
	if !pretty {
		fmt.Fprintf(&j, `{"meta": {"_last-serial": %d, "api-version": "1.1"}, "projects": [`, serial)
		for i, p := range projects {
			if i > 0 {
				j.WriteString(", ")
			}
			j.WriteString(`{"name": "` + p + `"}`)
		}
		j.WriteString("]}")
		return h.String(), j.String()
	}
	fmt.Fprintf(&j, "{\n    \"meta\": {\n        \"_last-serial\": %d,\n        \"api-version\": \"1.1\"\n    },\n    \"projects\": [", serial)
	for i, p := range projects {
		if i > 0 {
			j.WriteString(",")
		}
		j.WriteString("\n        {\n            \"name\": \"" + p + "\"\n        }")
	}
	if len(projects) > 0 {
		j.WriteString("\n    ")
	}
	j.WriteString("]\n}")
	return h.String(), j.String()
}

// TestRootIndexRewriteKeepsBandersnatchBytes: after removals the root
// indexes are the bytes bandersnatch would write for the projects left.
func TestRootIndexRewriteKeepsBandersnatchBytes(t *testing.T) {
	all := []string{"alpha", "beta-pkg", "gamma", "zeta"}
	for _, pretty := range []bool{false, true} {
		for _, removed := range []map[string]bool{{"beta-pkg": true}, {"alpha": true, "zeta": true}, {"alpha": true, "beta-pkg": true, "gamma": true, "zeta": true}} {
			var left []string
			for _, p := range all {
				if !removed[p] {
					left = append(left, p)
				}
			}
			inHTML, inJSON := bandersnatchRootIndex(all, 42, pretty)
			wantHTML, wantJSON := bandersnatchRootIndex(left, 42, pretty)
			var gotHTML, gotJSON strings.Builder
			if err := filterHTML(strings.NewReader(inHTML), &gotHTML, removed); err != nil {
				t.Fatal(err)
			}
			if err := filterJSON(strings.NewReader(inJSON), &gotJSON, removed); err != nil {
				t.Fatal(err)
			}
			if gotHTML.String() != wantHTML {
				t.Errorf("html without %v:\n%q\nwant\n%q", removed, gotHTML.String(), wantHTML)
			}
			if gotJSON.String() != wantJSON {
				t.Errorf("json (pretty %v) without %v:\n%q\nwant\n%q", pretty, removed, gotJSON.String(), wantJSON)
			}
		}
	}
	// Python's ensure_ascii escapes DEL too: only ' ' … '~' stay as written
	if got := pyjson.PyString("caf\u00e9 \"q\" \x01 \x7f \U0001F600"); got != `"caf\u00e9 \"q\" \u0001 \u007f \ud83d\ude00"` {
		t.Errorf("pyString: %s", got)
	}
}
