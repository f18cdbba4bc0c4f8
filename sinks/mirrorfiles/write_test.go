package mirrorfiles

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bandercheck/bandercheck/internal/fakepypi"
	"github.com/bandercheck/bandercheck/internal/store/posixstore"
)

func TestWriteThroughTheStore(t *testing.T) {
	root := t.TempDir()
	for _, d := range BootstrapDirs(jsonOn()) { // as bandersnatch's start makes them
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	st, err := posixstore.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	w, _ := fakepypi.Golden("http://h", 0)
	p, err := Prepare(w.Document("beta"), "beta", jsonOn())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	outs := append(p.JSONFiles(), p.Pages()...)
	outs = append(outs, StatusFile(1002))
	if err := Write(ctx, st, outs...); err != nil {
		t.Fatal(err)
	}
	for _, o := range outs {
		b, err := os.ReadFile(filepath.Join(root, o.Path))
		if err != nil || string(b) != string(o.Data) {
			t.Fatalf("%s: %v, %d bytes", o.Path, err, len(b))
		}
	}
	// status with the same serial is left alone (update_safe); another one replaces it
	status := filepath.Join(root, "status")
	old := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	os.Chtimes(status, old, old)
	if err := Write(ctx, st, StatusFile(1002)); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(status); !fi.ModTime().Equal(old) {
		t.Fatal("an unchanged status was rewritten")
	}
	if err := Write(ctx, st, StatusFile(1003)); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(status); string(b) != "1003" {
		t.Fatalf("status %q", b)
	}
	// a key that escapes the mirror is refused by the store
	if err := Write(ctx, st, Output{Path: "../outside", Data: []byte("x")}); err == nil {
		t.Fatal("wrote outside the mirror")
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(root), "outside")); err == nil {
		t.Fatal("a file appeared outside the mirror")
	}
}
