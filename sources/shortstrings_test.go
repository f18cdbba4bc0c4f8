package sources

import (
	"bytes"
	"encoding/json"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/go-json-experiment/json/jsontext"
)

func TestShortStringsKeepsJSONValid(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	pieces := []string{"a", "é", "日本", "😀", "\"", "\\", "\n", "\u2028", "x"}
	for iter := range 500 {
		var long strings.Builder
		for range rng.IntN(400) {
			long.WriteString(pieces[rng.IntN(len(pieces))])
		}
		doc := map[string]any{"info": map[string]any{"name": "Proj", "description": long.String()}, "short": "kept as is", "n": 3}
		raw, _ := json.Marshal(doc)
		if rng.IntN(2) == 0 { // also \u escapes, as other writers emit them
			raw = bytes.ReplaceAll(raw, []byte("😀"), []byte(`\ud83d\ude00`))
			raw = bytes.ReplaceAll(raw, []byte("日"), []byte(`\u65e5`))
		}
		limit := 12 + rng.IntN(60) // keys are strings too; real limits are 64 KiB
		var r io.Reader = newShortStrings(bytes.NewReader(raw), limit)
		switch rng.IntN(3) {
		case 0:
			r = newShortStrings(iotest.OneByteReader(bytes.NewReader(raw)), limit)
		case 1:
			r = newShortStrings(iotest.HalfReader(bytes.NewReader(raw)), limit)
		}
		out, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		dec := jsontext.NewDecoder(bytes.NewReader(out))
		v, err := dec.ReadValue()
		if err != nil {
			t.Fatalf("iteration %d (limit %d): filtered JSON is invalid: %v\n%s", iter, limit, err, out)
		}
		var got map[string]any
		if err := json.Unmarshal(v, &got); err != nil {
			t.Fatal(err)
		}
		if got["short"] != "kept as is" && limit >= 10 {
			t.Fatalf("a short string changed: %v", got["short"])
		}
		desc := got["info"].(map[string]any)["description"].(string)
		if !strings.HasPrefix(long.String(), desc) {
			t.Fatalf("iteration %d: cut string is not a prefix:\n%q\n%q", iter, desc, long.String())
		}
		if len(desc) > limit+8 {
			t.Fatalf("iteration %d: string of %d bytes kept with limit %d", iter, len(desc), limit)
		}
	}
}
