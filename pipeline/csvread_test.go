package pipeline

import (
	"bytes"
	"encoding/csv"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func TestCSVReaderMatchesEncodingCSV(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	alphabet := []string{"a", "b", ",", "\"", "\n", " ", "é", "日", "\r", ""}
	for iter := range 2000 {
		var records [][]string
		for range 1 + rng.IntN(5) {
			rec := make([]string, 4)
			for i := range rec {
				var b strings.Builder
				for range rng.IntN(6) {
					b.WriteString(alphabet[rng.IntN(len(alphabet))])
				}
				rec[i] = b.String()
			}
			records = append(records, rec)
		}
		var buf bytes.Buffer
		w := csv.NewWriter(&buf)
		w.WriteAll(records)
		var want [][]string
		std := csv.NewReader(bytes.NewReader(buf.Bytes()))
		std.FieldsPerRecord = 4
		for {
			rec, err := std.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("iteration %d: encoding/csv: %v", iter, err)
			}
			want = append(want, rec)
		}
		ours := newCSVReader(bytes.NewReader(buf.Bytes()), 4)
		var got [][]string
		for {
			rec, err := ours.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("iteration %d: %v\n%q", iter, err, buf.String())
			}
			got = append(got, slices.Clone(rec))
		}
		if !slices.EqualFunc(got, want, slices.Equal) {
			t.Fatalf("iteration %d: %q\n got %q\nwant %q", iter, buf.String(), got, want)
		}
	}
}

func TestCSVReaderRejectsDamage(t *testing.T) {
	for _, in := range []string{"a,b\n", "a,b,c,d,e\n", "\"a,b,c,d\n", "a\"b,c,d,e\n"} {
		r := newCSVReader(strings.NewReader(in), 4)
		if _, err := r.Read(); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
}

func TestCSVWriterReadsBackWithEncodingCSV(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	alphabet := []string{"a", ",", "\"", "\n", " ", "\t", "é", "\r", ""}
	for iter := range 2000 {
		n := 1 + rng.IntN(4)
		rec := make([]string, n)
		for i := range rec {
			var b strings.Builder
			for range rng.IntN(5) {
				b.WriteString(alphabet[rng.IntN(len(alphabet))])
			}
			rec[i] = b.String()
		}
		data := appendCSVRecord(nil, rec)
		got, err := csv.NewReader(bytes.NewReader(data)).Read()
		if err != nil {
			t.Fatalf("iteration %d: %q: %v", iter, data, err)
		}
		want := slices.Clone(rec)
		for i := range want { // encoding/csv folds \r\n inside quotes to \n
			want[i] = strings.ReplaceAll(want[i], "\r\n", "\n")
		}
		if !slices.Equal(got, want) {
			t.Fatalf("iteration %d: wrote %q, read back %q", iter, rec, got)
		}
	}
}
