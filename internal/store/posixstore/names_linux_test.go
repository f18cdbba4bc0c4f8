package posixstore

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestNamesListsWhatReadDirLists: Names gives each entry of a folder once,
// as os.ReadDir does, with dir true for folders only (not for a link to
// one, a file or a FIFO), across many getdents64 buffers (6,000 entries of
// 40-byte names, some 340 KiB of records), hidden names included, "." and
// ".." never; a missing folder lists nothing; a canceled context stops it.
func TestNamesListsWhatReadDirLists(t *testing.T) {
	root := t.TempDir()
	simple := filepath.Join(root, "web", "simple")
	if err := os.MkdirAll(simple, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range 6000 {
		p := filepath.Join(simple, fmt.Sprintf("project-with-a-long-enough-name-%08d", i))
		var err error
		if i%3 == 0 {
			err = os.WriteFile(p, nil, 0o644)
		} else {
			err = os.MkdirAll(p, 0o755)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(simple, ".hidden"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("project-with-a-long-enough-name-00000001", filepath.Join(simple, "link-to-a-folder")); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(filepath.Join(simple, "fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	des, err := os.ReadDir(simple)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, de := range des {
		want = append(want, fmt.Sprintf("%s %v", de.Name(), de.IsDir()))
	}
	st, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	if err := st.Names(context.Background(), "web/simple/", func(name string, dir bool) error {
		got = append(got, fmt.Sprintf("%s %v", name, dir))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("Names gave %d entries, os.ReadDir %d; first differences:\n%s", len(got), len(want), firstDiff(got, want))
	}
	for _, g := range got {
		if strings.HasPrefix(g, "link-to-a-folder ") && g != "link-to-a-folder false" || g == "fifo true" {
			t.Errorf("%s: only a folder is a folder", g)
		}
	}
	if err := st.Names(context.Background(), "web/missing/", func(string, bool) error {
		t.Error("a missing folder listed something")
		return nil
	}); err != nil {
		t.Errorf("a missing folder: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := st.Names(ctx, "web/simple/", func(string, bool) error { return nil }); err == nil {
		t.Error("a canceled listing ended without an error")
	}
}

func firstDiff(a, b []string) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return a[i] + " / " + b[i]
		}
	}
	return "(one is a prefix of the other)"
}

// TestEachDirentReadsRecords: records as getdents64 lays them out (padded
// to 8 bytes, the name NUL-terminated) give their names and types, an
// unknown type as it is (Names stats those); "." and ".." are skipped; a
// record whose length runs past the buffer is an error, not a panic.
func TestEachDirentReadsRecords(t *testing.T) {
	nameOff := int(unsafe.Offsetof(unix.Dirent{}.Name))
	record := func(name string, typ uint8) []byte {
		n := (nameOff + len(name) + 1 + 7) &^ 7
		b := make([]byte, n)
		binary.NativeEndian.PutUint16(b[unsafe.Offsetof(unix.Dirent{}.Reclen):], uint16(n))
		b[unsafe.Offsetof(unix.Dirent{}.Type)] = typ
		copy(b[nameOff:], name)
		return b
	}
	var buf []byte
	for _, r := range []struct {
		name string
		typ  uint8
	}{{".", unix.DT_DIR}, {"..", unix.DT_DIR}, {"a", unix.DT_DIR}, {"bcdefgh", unix.DT_REG}, {"unknown-type", unix.DT_UNKNOWN}} {
		buf = append(buf, record(r.name, r.typ)...)
	}
	var got []string
	if err := eachDirent(buf, func(name string, typ uint8) error {
		got = append(got, fmt.Sprintf("%s:%d", name, typ))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := []string{fmt.Sprintf("a:%d", unix.DT_DIR), fmt.Sprintf("bcdefgh:%d", unix.DT_REG), fmt.Sprintf("unknown-type:%d", unix.DT_UNKNOWN)}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	bad := record("x", unix.DT_REG)
	binary.NativeEndian.PutUint16(bad[unsafe.Offsetof(unix.Dirent{}.Reclen):], uint16(len(bad)+8))
	if err := eachDirent(bad, func(string, uint8) error { return nil }); err == nil {
		t.Error("a record longer than the buffer was read")
	}
}
