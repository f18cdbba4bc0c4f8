package stages

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestJSONLogLinesAreValidJSON(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	msg := "odd bytes: \x01 \xff \"quoted\" \\ end"
	newLogger(&b, "json").Info(msg)
	var line map[string]any
	if err := json.Unmarshal(b.Bytes(), &line); err != nil {
		t.Fatalf("log line is not JSON: %v\n%s", err, b.String())
	}
	if got, _ := line["msg"].(string); !strings.HasPrefix(got, "odd bytes: \x01") {
		t.Errorf("msg %q", got)
	}
}
