package pipeline

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"testing"
)

// TestSmallShardsShareOneEncoder: three shards written side by side (sync
// fetch's projects, files and written) take one encoder between them, each
// for its commit, where they held one each while open; a shard past
// smallShard streams through its own. Every shard's file is what one
// encoder makes of its bytes, so the manifests are the same as before.
func TestSmallShardsShareOneEncoder(t *testing.T) {
	dir := t.TempDir()
	runtime.GC()
	runtime.GC() // the pool's encoders are dropped: each one taken below is made
	// and no collection drops them while the test writes; one P, for a
	// pool hands an encoder back only to the P that put it
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	before := encodersMade.Load()
	rows := []int{200, 300, 150, 4000} // the last is past smallShard
	var ws []*shardWriter
	want := make([][]byte, len(rows))
	for i := range rows {
		header := []byte("path,size\n")
		w, err := createShard(dir, i+1, header)
		if err != nil {
			t.Fatal(err)
		}
		ws = append(ws, w)
		want[i] = append(want[i], header...)
	}
	for r := range 4000 {
		for i, w := range ws {
			if r >= rows[i] {
				continue
			}
			line := []byte(fmt.Sprintf("web/packages/%02x/%d/file-%d.tar.gz,%d\n", r%256, i, r, r*37))
			if err := w.write(line, 1); err != nil {
				t.Fatal(err)
			}
			want[i] = append(want[i], line...)
		}
	}
	if len(want[3]) <= 64<<10 || len(want[0]) > 64<<10 {
		t.Fatalf("test shards of %d and %d bytes do not straddle smallShard", len(want[0]), len(want[3]))
	}
	for i, w := range ws[:3] {
		if w.zw != nil {
			t.Errorf("shard %d of %d bytes holds an encoder before its commit", i+1, len(want[i]))
		}
	}
	for _, w := range ws {
		if _, err := w.commit(); err != nil {
			t.Fatal(err)
		}
	}
	if made := encodersMade.Load() - before; made > 2 {
		t.Errorf("4 shards (3 small, written side by side) made %d encoders, want at most 2", made)
	}
	for i := range rows {
		got, err := os.ReadFile(filepath.Join(dir, shardName(i+1)))
		if err != nil {
			t.Fatal(err)
		}
		var one bytes.Buffer
		e := newEncoder(true)
		e.Reset(&one)
		if _, err := e.Write(want[i]); err != nil {
			t.Fatal(err)
		}
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, one.Bytes()) {
			t.Errorf("shard %d: %d bytes, not what one encoder makes of its %d bytes (%d)", i+1, len(got), len(want[i]), one.Len())
		}
	}
	// a small shard, written and committed, allocates a few KiB: no
	// buffer of its own (it held a 256 KiB one), its raw bytes pooled
	lines := make([][]byte, 500)
	for r := range lines {
		lines[r] = []byte(fmt.Sprintf("web/packages/%d.tar.gz,%d\n", r, r))
	}
	small := func(n int) uint64 {
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		w, err := createShard(dir, n, []byte("path,size\n"))
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range lines {
			if err := w.write(l, 1); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := w.commit(); err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&m1)
		return m1.TotalAlloc - m0.TotalAlloc
	}
	least := small(10) // the pools warm; the least of five (a collection empties the pools)
	for n := 11; n < 15; n++ {
		least = min(least, small(n))
	}
	if least > 64<<10 {
		t.Errorf("a small shard allocated %d bytes, want a few KiB", least)
	}
	// a dropped shard gives its bytes back and leaves no file
	w, err := createShard(dir, 9, []byte("h\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.abort(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, shardName(9)+".tmp")); !os.IsNotExist(err) {
		t.Errorf("aborted shard left its file: %v", err)
	}
}
