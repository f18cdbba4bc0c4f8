package mirrorfiles

import (
	"testing"
	"time"
)

func TestPythonFloatAndTime(t *testing.T) {
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
