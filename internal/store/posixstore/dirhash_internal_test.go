package posixstore

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/bandercheck/bandercheck/internal/safefs"
	"github.com/bandercheck/bandercheck/internal/store"
)

// TestHashFallbackNeverFollowsLinks: the path for kernels without openat2
// reads a regular file and refuses a link (as the file or a folder on the
// way) and a FIFO, without blocking.
func TestHashFallbackNeverFollowsLinks(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "aa"), 0o755)
	os.MkdirAll(filepath.Join(dir, "outside"), 0o755)
	os.WriteFile(filepath.Join(dir, "aa/x.whl"), []byte("body"), 0o644)
	os.WriteFile(filepath.Join(dir, "outside/secret"), []byte("s"), 0o644)
	os.Symlink(filepath.Join(dir, "outside/secret"), filepath.Join(dir, "aa/filelink"))
	os.Symlink(filepath.Join(dir, "outside"), filepath.Join(dir, "aa/dirlink"))
	syscall.Mkfifo(filepath.Join(dir, "aa/fifo"), 0o644)
	base, err := safefs.OpenRoot(dir, "web/packages")
	if err != nil {
		t.Fatal(err)
	}
	defer base.Close()
	o, sum, err := hashFallback(base, "web/packages/aa/x.whl", "aa/x.whl", make([]byte, 2))
	want := sha256.Sum256([]byte("body"))
	if err != nil || sum != hex.EncodeToString(want[:]) || o.Size != 4 || o.Inode == 0 {
		t.Errorf("regular file: %+v %q %v", o, sum, err)
	}
	for _, rel := range []string{"aa/filelink", "aa/dirlink/secret", "aa/fifo"} {
		if _, sum, err := hashFallback(base, "web/packages/"+rel, rel, make([]byte, 8)); !errors.Is(err, store.ErrNotRegular) || sum != "" {
			t.Errorf("%s: %q %v, want store.ErrNotRegular", rel, sum, err)
		}
	}
}
