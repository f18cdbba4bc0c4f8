package mirrorfiles

import (
	"testing"
	"time"
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

func TestPythonFloatAndTime(t *testing.T) {
	for f, want := range map[float64]string{1: "1.0", 0.1: "0.1", 1e22: "1e+22", 123456789012345.6: "123456789012345.6", -2.5e-7: "-2.5e-07"} {
		if got := PyFloat(f); got != want {
			t.Errorf("PyFloat(%v) = %s, want %s", f, got, want)
		}
	}
	// Python: datetime(2020,2,12,20,6,8,580457,tzinfo=utc).timestamp() -> 1581537968.580457;
	// os.utime with it leaves st_mtime_ns 1581537968580456972 (seen on the golden trees)
	up := time.Date(2020, 2, 12, 20, 6, 8, 580457000, time.UTC)
	if got := Mtime(up).UnixNano(); got != 1581537968580456972 {
		t.Errorf("Mtime = %d", got)
	}
	if got := (Download{DigestName: "sha256", Digest: "x", UploadTime: up}).S3Metadata()["uploaded-at"]; got != "1581537968.580457" {
		t.Errorf("uploaded-at %s", got)
	}
	if got := TimeStamp(time.Date(2026, 12, 4, 17, 24, 44, 0, time.UTC)); got != "2026-12-04T172444Z" {
		t.Errorf("TimeStamp %s", got)
	}
	if got := TimeStamp(time.Date(2026, 12, 4, 17, 24, 44, 5000, time.UTC)); got != "2026-12-04T172444.000005Z" {
		t.Errorf("TimeStamp %s", got)
	}
	for s, want := range map[string]string{
		"2020-01-02T03:04:05.123456Z":      "2020-01-02T03:04:05.123456Z",
		"2020-01-02T03:04:05Z":             "2020-01-02T03:04:05Z",
		"2020-01-02T03:04:05.1234567Z":     "2020-01-02T03:04:05.123456Z",
		"2020-01-02 03:04:05+01:00":        "2020-01-02T02:04:05Z",
		"2020-01-02T03:04:05.1":            "2020-01-02T03:04:05.1Z",
		"2020-01-02T03:04:05.000001-02:30": "2020-01-02T05:34:05.000001Z",
	} {
		got, err := parseUploadTime(s)
		if err != nil || got.Format(time.RFC3339Nano) != want {
			t.Errorf("parseUploadTime(%s) = %v %v, want %s", s, got, err, want)
		}
	}
	if _, err := parseUploadTime("yesterday"); err == nil {
		t.Error("yesterday parsed")
	}
}

func TestURLPathAndUnquote(t *testing.T) {
	for u, want := range map[string]string{
		"http://h/packages/a/b;x?q#f":    "/packages/a/b",
		"https://h:1/packages/a%2Bb.whl": "/packages/a%2Bb.whl",
		"//h/packages/x":                 "/packages/x",
		"/packages/x?y":                  "/packages/x",
		"http://h":                       "",
	} {
		if got := urlPath(u); got != want {
			t.Errorf("urlPath(%s) = %q, want %q", u, got, want)
		}
	}
	if got := pyUnquote("/packages/a%2Bb%zz%C3%A9%2"); got != "/packages/a+b%zzé%2" {
		t.Errorf("pyUnquote: %q", got)
	}
	for _, bad := range []string{"http://h/packages/../../etc/passwd", "http://h/packages/a/%2E%2E/x", "http://h/simple/x", "http://h/packages/a//b", "http://h/packages/%ff"} {
		if _, err := localPath(urlPath(bad), bad); err == nil {
			t.Errorf("%s accepted as a mirror path", bad)
		}
	}
}
