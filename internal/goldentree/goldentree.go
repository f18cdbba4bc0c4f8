// Package goldentree records a mirror tree (every path, its type, mode,
// size, sha256, and the mtime of release files) in a MANIFEST, with a copy
// of each small file that is not a release file, and compares a tree held
// in memory with such a record. testdata/golden/generate.sh records the
// trees the real bandersnatch writes; the writers' tests compare with them.
package goldentree

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Volatile are files whose bytes depend on when the sync ran: recorded
// and compared by presence and mode only.
var Volatile = []string{"web/last-modified", ".lock"}

// Entry is one path of a tree.
type Entry struct {
	Path   string
	Dir    bool
	Link   string // symlink target, "" for files and folders
	Mode   uint32 // permission bits of a file
	Data   []byte // content of a file
	Mtime  time.Time
	Varies bool // bytes not compared
}

// Tree is a mirror tree by path.
type Tree map[string]*Entry

// Root stands for the mirror's folder in recorded symlink targets
// (keep_index_versions links point at absolute paths).
const Root = "@ROOT@"

// stampRE is make_time_stamp() in a versioned page's name
// (index_<serial>_<stamp>.<ext>): when the sync ran, so not compared.
var stampRE = regexp.MustCompile(`_\d{4}-\d{2}-\d{2}T\d{6}(\.\d{6})?Z\.`)

// Normalize replaces the time stamp of a versioned page's name with
// "@STAMP@", in a path or a link target.
func Normalize(p string) string { return stampRE.ReplaceAllString(p, "_@STAMP@.") }

// hasMtime tells whether a path's mtime is part of the tree: release files
// and their .metadata, as bandersnatch sets them to the upload time.
func hasMtime(p string) bool { return strings.HasPrefix(p, "web/packages/") }

// keepsCopy tells whether the record keeps a file's bytes (all but
// release files, which the manifest's digest stands for).
func keepsCopy(p string) bool { return !hasMtime(p) }

// Record writes the MANIFEST of the tree at root, and copies of its small
// files under out/tree/, replacing out.
func Record(root, out string) error {
	t, err := Read(root)
	if err != nil {
		return err
	}
	if err := os.RemoveAll(out); err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	for _, e := range t {
		if e.Dir || e.Link != "" || e.Varies || !keepsCopy(e.Path) {
			continue
		}
		dst := filepath.Join(out, "tree", filepath.FromSlash(e.Path))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(dst, e.Data, 0o644); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(out, "MANIFEST"), []byte(t.Manifest()), 0o644)
}

// Read takes a tree from disk.
func Read(root string) (Tree, error) {
	t := Tree{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		rel = Normalize(filepath.ToSlash(rel))
		e := &Entry{Path: rel}
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			if e.Link, err = os.Readlink(p); err != nil {
				return err
			}
			if rest, ok := strings.CutPrefix(e.Link, root+"/"); ok {
				e.Link = Root + "/" + rest
			}
			e.Link = Normalize(e.Link)
		case d.IsDir():
			e.Dir = true
		default:
			e.Mode = uint32(info.Mode().Perm())
			if e.Data, err = os.ReadFile(p); err != nil {
				return err
			}
			e.Mtime = info.ModTime().UTC()
			e.Varies = slices.Contains(Volatile, rel)
		}
		t[rel] = e
		return nil
	})
	return t, err
}

// Manifest is the tree as text, one path a line in byte order:
// "d <path>", "l <path> -> <target>", or
// "f <mode> <size> <sha256> <mtime|-> <path>" ("v" instead of "f" and "-"
// for the digest of a volatile file).
func (t Tree) Manifest() string {
	paths := make([]string, 0, len(t))
	for p := range t {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	var b strings.Builder
	for _, p := range paths {
		b.WriteString(t[p].line())
		b.WriteByte('\n')
	}
	return b.String()
}

func (e *Entry) line() string {
	switch {
	case e.Dir:
		return "d " + e.Path
	case e.Link != "":
		return "l " + e.Path + " -> " + e.Link
	case e.Varies:
		return fmt.Sprintf("v %04o - - - %s", e.Mode, e.Path)
	}
	mt := "-"
	if hasMtime(e.Path) {
		mt = e.Mtime.UTC().Format(time.RFC3339Nano)
	}
	sum := sha256.Sum256(e.Data)
	return fmt.Sprintf("f %04o %d %s %s %s", e.Mode, len(e.Data), hex.EncodeToString(sum[:]), mt, e.Path)
}

// Load reads a recorded MANIFEST, and the bytes of each copied file.
func Load(dir string) (manifest []string, copies map[string][]byte, err error) {
	f, err := os.Open(filepath.Join(dir, "MANIFEST"))
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	copies = map[string][]byte{}
	for sc.Scan() {
		line := sc.Text()
		manifest = append(manifest, line)
		if !strings.HasPrefix(line, "f ") {
			continue
		}
		p := line[strings.LastIndexByte(line, ' ')+1:]
		if keepsCopy(p) {
			b, err := os.ReadFile(filepath.Join(dir, "tree", filepath.FromSlash(p)))
			if err != nil {
				return nil, nil, fmt.Errorf("golden copy of %s: %w", p, err)
			}
			copies[p] = b
		}
	}
	return manifest, copies, sc.Err()
}

// Add puts a file into the tree with its parent folders.
func (t Tree) Add(p string, data []byte, mode uint32, mtime time.Time) {
	t[p] = &Entry{Path: p, Data: data, Mode: mode, Mtime: mtime, Varies: slices.Contains(Volatile, p)}
	t.AddDir(path.Dir(p))
}

// AddLink puts a symbolic link into the tree with its parent folders
// (target as Read records it: Root + "/" + a path inside the mirror).
func (t Tree) AddLink(p, target string) {
	t[p] = &Entry{Path: p, Link: target}
	t.AddDir(path.Dir(p))
}

// AddDir puts a folder and its parents into the tree.
func (t Tree) AddDir(p string) {
	for p != "." && p != "/" && p != "" {
		if _, ok := t[p]; ok {
			return
		}
		t[p] = &Entry{Path: p, Dir: true}
		p = path.Dir(p)
	}
}

// Diff compares a tree with a recorded manifest and copies; it returns one
// line per difference (empty when they are the same), with the first
// differing line of a copied file. ignoreModes leaves file modes out (a
// store that writes every file 0644, where bandersnatch leaves status,
// generation and last-modified 0600 and its .lock 0755).
func (t Tree) Diff(manifest []string, copies map[string][]byte, ignoreModes bool) []string {
	got := strings.Split(strings.TrimSuffix(t.Manifest(), "\n"), "\n")
	if ignoreModes {
		got, manifest = withoutModes(got), withoutModes(manifest)
	}
	want := map[string]bool{}
	for _, l := range manifest {
		want[l] = true
	}
	have := map[string]bool{}
	var diffs []string
	for _, l := range got {
		have[l] = true
		if !want[l] {
			diffs = append(diffs, "ours only:   "+l)
		}
	}
	for _, l := range manifest {
		if !have[l] {
			diffs = append(diffs, "golden only: "+l)
		}
	}
	for p, b := range copies {
		if e := t[p]; e != nil && string(e.Data) != string(b) {
			diffs = append(diffs, fmt.Sprintf("%s differs: %s", p, firstDiff(e.Data, b)))
		}
	}
	slices.Sort(diffs)
	return diffs
}

// withoutModes blanks the mode field of file lines.
func withoutModes(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		if f := strings.SplitN(l, " ", 3); len(f) == 3 && (f[0] == "f" || f[0] == "v") {
			l = f[0] + " ---- " + f[2]
		}
		out[i] = l
	}
	return out
}

func firstDiff(got, want []byte) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	ctx := func(b []byte) string {
		lo, hi := max(0, i-40), min(len(b), i+60)
		return strconv.Quote(string(b[lo:hi]))
	}
	return fmt.Sprintf("at byte %d: ours %s, golden %s", i, ctx(got), ctx(want))
}

// ErrNoGolden is returned when a golden folder is missing.
var ErrNoGolden = errors.New("no golden tree: run testdata/golden/generate.sh")

// LineDiff lists the lines only one of two manifests has, each after its
// side's label: got's in got's order, then want's.
func LineDiff(got, want, gotLabel, wantLabel string) string {
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(s, "\n") {
			m[l] = true
		}
		return m
	}
	g, w := in(got), in(want)
	var out []string
	for _, l := range strings.Split(got, "\n") {
		if !w[l] {
			out = append(out, gotLabel+" "+l)
		}
	}
	for _, l := range strings.Split(want, "\n") {
		if !g[l] {
			out = append(out, wantLabel+" "+l)
		}
	}
	return strings.Join(out, "\n")
}
