package sources_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
	"unsafe"

	"github.com/bandercheck/bandercheck/sources"
)

func fixture(t *testing.T, name string) *os.File {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

var goodPaths = []string{
	"web/packages/aa/bb/cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc/good_project-1.0.tar.gz",
	"web/packages/dd/ee/ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff/good_project-1.0-py3-none-any.whl",
	"web/packages/dd/ee/ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff/good_project-1.0-py3-none-any.whl.metadata",
	"web/packages/11/22/333333333333333333333333333333333333333333333333333333333333/good_project-1.1+cpu.tar.gz",
	"web/packages/source/g/good_project/good_project-0.1.tar.gz",
}

func collect(files []sources.File) []string {
	var out []string
	for _, f := range files {
		out = append(out, f.Path)
		if f.MetadataDigest("sha256") != "" {
			out = append(out, f.Path+".metadata")
		}
	}
	slices.Sort(out)
	return out
}

func TestParseGoodMetadataAllSourcesAgree(t *testing.T) {
	want := slices.Sorted(slices.Values(goodPaths))
	parsers := map[string]func() (sources.Project, []sources.File, error){
		"json": func() (sources.Project, []sources.File, error) {
			var fs []sources.File
			p, err := sources.ParseJSON(fixture(t, "json/good.json"), func(f sources.File) error { fs = append(fs, f); return nil })
			return p, fs, err
		},
		"simple json": func() (sources.Project, []sources.File, error) {
			var fs []sources.File
			p, err := sources.ParseSimpleJSON(fixture(t, "simple/good.v1_json"), "good-project", func(f sources.File) error { fs = append(fs, f); return nil })
			return p, fs, err
		},
		"simple html": func() (sources.Project, []sources.File, error) {
			var fs []sources.File
			p, err := sources.ParseSimpleHTML(fixture(t, "simple/good.html"), "good-project", func(f sources.File) error { fs = append(fs, f); return nil })
			return p, fs, err
		},
	}
	for name, parse := range parsers {
		t.Run(name, func(t *testing.T) {
			p, files, err := parse()
			if err != nil {
				t.Fatal(err)
			}
			if p.Serial != 42 {
				t.Errorf("serial %d, want 42", p.Serial)
			}
			if got := collect(files); !slices.Equal(got, want) {
				t.Fatalf("paths\n got %q\nwant %q", got, want)
			}
			for _, f := range files {
				if !sources.ValidSHA256(f.SHA256) {
					t.Errorf("%s: digest %q", f.Path, f.SHA256)
				}
				if name != "simple html" && f.Size != 100 {
					t.Errorf("%s: size %d", f.Path, f.Size)
				}
			}
		})
	}
}

func TestParseBadJSONDocuments(t *testing.T) {
	for name, msg := range map[string]string{
		"truncated":            "truncated",
		"not-object":           "document is an array, want an object",
		"no-releases":          "no releases",
		"releases-not-object":  "releases is an array",
		"no-url":               "no url",
		"no-filename":          "no filename",
		"url-outside-packages": "not under /packages/",
		"url-dotdot":           ".. segment",
		"negative-size":        "negative",
		"string-size":          "size is a string, want a number",
		"bad-digest":           "not 64 hex digits",
		"trailing-garbage":     "data after the end",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := sources.ParseJSON(fixture(t, "json/"+name+".json"), func(sources.File) error { return nil })
			if err == nil || !strings.Contains(err.Error(), msg) {
				t.Fatalf("error %v, want one containing %q", err, msg)
			}
		})
	}
}

func TestParseBadSimplePages(t *testing.T) {
	for name, msg := range map[string]string{"truncated.html": "truncated", "bad-href.html": "not under /packages/"} {
		_, err := sources.ParseSimpleHTML(fixture(t, "simple/"+name), "good-project", func(sources.File) error { return nil })
		if err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: error %v, want %q", name, err, msg)
		}
	}
}

func TestMirrorPathAndNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"https://files.example.invalid/packages/ab/cd/x-1.0%2Bcpu.tar.gz": "web/packages/ab/cd/x-1.0+cpu.tar.gz",
		"http://old.example.invalid/packages/source/x/x/x%20y.zip":        "web/packages/source/x/x/x y.zip",
	} {
		if got, err := sources.MirrorPath(in); err != nil || got != want {
			t.Errorf("MirrorPath(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for in, want := range map[string]string{"Foo.Bar__baz": "foo-bar-baz", "a-_.-b": "a-b", "ZOPE": "zope"} {
		if got := sources.Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestNormalizeEveryShortName: every name of up to 4 characters over an
// alphabet of each kind of character Normalize treats apart (lower and upper
// case, digits, the three separators, non-ASCII and an invalid byte) is
// normalized as PEP 503's regular expression and lower-casing do, and an ASCII one
// already normal is the same string, not a copy.
func TestNormalizeEveryShortName(t *testing.T) {
	re := regexp.MustCompile(`[-_.]+`)
	slow := func(name string) string { return strings.ToLower(re.ReplaceAllString(name, "-")) } // PEP 503's rule
	alphabet := []string{"a", "Z", "7", "-", "_", ".", "é", "\xff"}
	names := []string{""}
	for range 4 {
		var next []string
		for _, n := range names {
			for _, c := range alphabet {
				next = append(next, n+c)
			}
		}
		names = next
		for _, name := range names {
			got, want := sources.Normalize(name), slow(name)
			if got != want {
				t.Fatalf("Normalize(%q) = %q, want %q", name, got, want)
			}
			ascii := !strings.ContainsFunc(name, func(r rune) bool { return r >= utf8.RuneSelf })
			if got == name && ascii && len(name) > 0 && unsafe.StringData(got) != unsafe.StringData(name) {
				t.Fatalf("Normalize(%q) copied an ASCII name already normal", name)
			}
		}
	}
	if n := "proj-0000001"; unsafe.StringData(sources.Normalize(n)) != unsafe.StringData(n) {
		t.Errorf("Normalize(%q) made a copy", n)
	}
}

func TestNormalizeMatchesPEP503Regexp(t *testing.T) {
	re := regexp.MustCompile(`[-_.]+`)
	for _, name := range []string{"", "-", "a--b", "_a_", "Foo.Bar__baz", "ZOPE", "a.-_b", "Ünï_Côde", "x-", ".x", "a\xffb"} {
		want := strings.ToLower(re.ReplaceAllString(name, "-"))
		if got := sources.Normalize(name); got != want && utf8.ValidString(name) {
			t.Errorf("Normalize(%q) = %q, want %q", name, got, want)
		}
	}
}
