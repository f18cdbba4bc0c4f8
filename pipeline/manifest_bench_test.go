package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"testing"
)

const benchRows = 1_000_000

func designatedRow(i int) []string {
	sum := sha256.Sum256([]byte(fmt.Sprint(i)))
	h := hex.EncodeToString(sum[:])
	p := fmt.Sprintf("web/packages/%s/%s/%s/project-%d-1.%d.0-py3-none-any.whl", h[:2], h[2:4], h[4:60], i/7, i%7)
	return []string{p, fmt.Sprintf("project-%d", i/7), fmt.Sprint(10000 + i%100000), h, "https://files.example.invalid/" + p[4:], "2024-03-01T12:34:56.123456Z", h[:32]}
}

func writeBenchManifest(b *testing.B, dir string, rows [][]string) {
	st, err := NewState(dir).Stage("bench", true, StageOptions{}, MustSpec("designated"))
	if err != nil {
		b.Fatal(err)
	}
	for i, r := range rows {
		if err := st.Write(0, r...); err != nil {
			b.Fatal(err)
		}
		if i%5 == 4 {
			if err := st.EndUnit(r[1]); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := st.EndUnit("end"); err != nil {
		b.Fatal(err)
	}
	if err := st.Finish(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkManifestWrite writes 1,000,000 designated rows per op.
func BenchmarkManifestWrite(b *testing.B) {
	rows := make([][]string, benchRows)
	for i := range rows {
		rows[i] = designatedRow(i)
	}
	dir := b.TempDir()
	b.ResetTimer()
	for b.Loop() {
		writeBenchManifest(b, dir, rows)
	}
	b.StopTimer()
	reportManifest(b, dir)
}

// BenchmarkManifestRead reads 1,000,000 designated rows per op.
func BenchmarkManifestRead(b *testing.B) {
	rows := make([][]string, benchRows)
	for i := range rows {
		rows[i] = designatedRow(i)
	}
	dir := b.TempDir()
	writeBenchManifest(b, dir, rows)
	rows = nil
	b.ResetTimer()
	for b.Loop() {
		r, err := NewState(dir).Manifest("designated")
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for {
			_, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		r.Close()
		if n != benchRows {
			b.Fatalf("read %d rows", n)
		}
	}
	b.StopTimer()
	reportManifest(b, dir)
}

func reportManifest(b *testing.B, dir string) {
	sf, err := NewState(dir).StageFile("designated")
	if err != nil {
		b.Fatal(err)
	}
	var bytes int64
	for _, sh := range sf.Shards {
		bytes += sh.Bytes
	}
	b.ReportMetric(float64(benchRows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(bytes)/float64(sf.Rows), "disk-bytes/row")
}
