package pyjson

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The expected bytes below are what Python 3.11's json module wrote for the
// same input (json.dumps(json.loads(doc), indent=4, sort_keys=True) and
// json.dumps(json.loads(doc))).
const trickyDoc = `{"b": 1, "a": [1.0, 1e16, 1e15, 0.0001, 0.00001, -0, -0.0, 1E2, 12345678901234567890123, 1.5e300, 1e400, 3.14159], "\u007f del": "\u007f\u0000\u001f \u00e9 \ud834\udd1e \u2028", "dup": 1, "dup": 2, "e": {}, "f": [], "g": {"z": null, "y": true, "x": false}, "\u00e9": "</script>&"}`

const trickyIndentSorted = "{\n    \"a\": [\n        1.0,\n        1e+16,\n        1000000000000000.0,\n        0.0001,\n        1e-05,\n        0,\n        -0.0,\n        100.0,\n        12345678901234567890123,\n        1.5e+300,\n        Infinity,\n        3.14159\n    ],\n    \"b\": 1,\n    \"dup\": 2,\n    \"e\": {},\n    \"f\": [],\n    \"g\": {\n        \"x\": false,\n        \"y\": true,\n        \"z\": null\n    },\n    \"\\u007f del\": \"\\u007f\\u0000\\u001f \\u00e9 \\ud834\\udd1e \\u2028\",\n    \"\\u00e9\": \"</script>&\"\n}"

const trickyCompact = "{\"b\": 1, \"a\": [1.0, 1e+16, 1000000000000000.0, 0.0001, 1e-05, 0, -0.0, 100.0, 12345678901234567890123, 1.5e+300, Infinity, 3.14159], \"\\u007f del\": \"\\u007f\\u0000\\u001f \\u00e9 \\ud834\\udd1e \\u2028\", \"dup\": 2, \"e\": {}, \"f\": [], \"g\": {\"z\": null, \"y\": true, \"x\": false}, \"\\u00e9\": \"</script>&\"}"

func TestPythonJSON(t *testing.T) {
	v, err := ParseJSON([]byte(trickyDoc))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(DumpIndentSorted(v)); got != trickyIndentSorted {
		t.Errorf("indent=4, sort_keys:\n got %q\nwant %q", got, trickyIndentSorted)
	}
	if got := string(Dumps(v)); got != trickyCompact {
		t.Errorf("dumps:\n got %q\nwant %q", got, trickyCompact)
	}
	for _, bad := range []string{``, `{`, `{"a": 1} x`, `[1, 2,]`, "\"\xff\"", `NaN`} {
		if _, err := ParseJSON([]byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
	deep := make([]byte, 0, 2*1000)
	for range 1000 {
		deep = append(deep, '[')
	}
	for range 1000 {
		deep = append(deep, ']')
	}
	if _, err := ParseJSON(deep); err == nil {
		t.Error("1000 nested arrays parsed (Python's recursion limit refuses them)")
	}
}

func TestPythonFloat(t *testing.T) {
	for f, want := range map[float64]string{1: "1.0", 0.1: "0.1", 1e22: "1e+22", 123456789012345.6: "123456789012345.6", -2.5e-7: "-2.5e-07"} {
		if got := PyFloat(f); got != want {
			t.Errorf("PyFloat(%v) = %s, want %s", f, got, want)
		}
	}
}

// TestPyStringPlainAndEscaped: PyString and WritePyString give what
// Python's json.dumps (ensure_ascii) gives, for every byte alone and after
// a plain prefix, for non-ASCII text and for strings that need no escape
// (written as they are). The expected strings are Python's own, written by
// testdata/gen.py into testdata/pystring.txt.
func TestPyStringPlainAndEscaped(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "pystring.txt"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) < 500 {
		t.Fatalf("testdata/pystring.txt holds %d cases", len(lines))
	}
	for _, line := range lines {
		in, want, ok := strings.Cut(line, "\t")
		raw, err := hex.DecodeString(in)
		if !ok || err != nil {
			t.Fatalf("testdata/pystring.txt: bad line %q", line)
		}
		s := string(raw)
		if got := PyString(s); got != want {
			t.Errorf("PyString(%q) = %s, Python gives %s", s, got, want)
		}
		var b bytes.Buffer
		WritePyString(&b, s)
		if b.String() != want {
			t.Errorf("WritePyString(%q) = %s, Python gives %s", s, b.String(), want)
		}
	}
}

// TestParseManyKeysAndReuse: an object past mapAfter keys still keeps a
// repeated key's first place with its last value, as a dict does, and a
// parse's Values stay as they were after the pooled parser reads another
// document.
func TestParseManyKeysAndReuse(t *testing.T) {
	var doc strings.Builder
	doc.WriteString("{")
	for i := range 40 {
		fmt.Fprintf(&doc, `"k%d": [%d, {"a": "x%d"}], `, i, i, i)
	}
	doc.WriteString(`"k3": "last", "k39": null}`)
	v, err := ParseJSON([]byte(doc.String()))
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(strings.Replace(doc.String(), `"k3": [3, {"a": "x3"}]`, `"k3": "last"`, 1), `"k39": [39, {"a": "x39"}], "k3": "last", "k39": null`, `"k39": null`, 1)
	if got := string(Dumps(v)); got != want {
		t.Errorf("dumps:\n got %s\nwant %s", got, want)
	}
	if _, err := ParseJSON([]byte(`{"k0": [7, {"a": "overwritten?"}], "z": [1, 2, 3]}`)); err != nil {
		t.Fatal(err)
	}
	if got := string(Dumps(v)); got != want {
		t.Errorf("after another parse:\n got %s\nwant %s", got, want)
	}
}
