package main

import (
	"bufio"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/crypto/blake2b"

	"github.com/bandercheck/bandercheck/sources"
)

// MirrorCmd writes a bandersnatch-layout mirror and the upstream it should match.
type MirrorCmd struct {
	Out          string  `help:"Mirror folder to write." required:""`
	Upstream     string  `help:"Upstream folder to write (simple index and every package file)." required:""`
	Truth        string  `help:"CSV file listing each defect (kind,path)."`
	Projects     int     `help:"Number of projects." default:"1000"`
	Names        string  `help:"zstd file of project names, one a line (default: synthetic names)."`
	Seed         uint64  `help:"Random seed." default:"1"`
	HashIndex    bool    `help:"Lay simple pages out as web/simple/<c>/<name>/."`
	NoFiles      bool    `help:"Write metadata only, no package files (for the metadata benchmark)."`
	BigDocs      int     `help:"Projects whose JSON document carries a large description." default:"0"`
	BigDocMB     int     `help:"Size of each large description in MB." default:"60"`
	Missing      float64 `help:"Fraction of files missing from the mirror." default:"0.01"`
	Orphans      float64 `help:"Orphan files per project, as a fraction." default:"0.01"`
	SizeMismatch float64 `help:"Fraction of files stored with another size." default:"0.001"`
	HashMismatch float64 `help:"Fraction of files stored with the same size but other bytes." default:"0.001"`
	Removed      float64 `help:"Fraction of projects removed upstream." default:"0.005"`
}

type genFile struct {
	key, url, filename, version string
	content                     []byte
	sha                         string
	meta                        []byte // core metadata, when the wheel has it
	uploaded                    time.Time
}

// baseTime is when generated uploads start; files are dated like real ones,
// long before any grace period.
var baseTime = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

// Run implements the command.
func (c *MirrorCmd) Run() error {
	names, err := loadNames(c.Names, c.Projects)
	if err != nil {
		return err
	}
	var truth *bufio.Writer
	if c.Truth != "" {
		tf, err := os.Create(c.Truth)
		if err != nil {
			return err
		}
		defer tf.Close()
		truth = bufio.NewWriter(tf)
		defer truth.Flush()
		fmt.Fprintln(truth, "kind,path")
	}
	defect := func(kind, path string) {
		if truth != nil {
			fmt.Fprintf(truth, "%s,%s\n", kind, path)
		}
	}
	w := &treeWriter{}
	seen := map[string]bool{}
	var live, all []string
	for i, name := range names {
		norm := sources.Normalize(name)
		if seen[norm] || norm == "" {
			continue
		}
		seen[norm] = true
		rng := rand.New(rand.NewPCG(c.Seed, uint64(i)))
		files := c.files(rng, name, i)
		removed := rng.Float64() < c.Removed
		all = append(all, name)
		if removed {
			defect("removed-project", norm)
		} else {
			live = append(live, name)
		}
		for _, f := range files {
			w.file(filepath.Join(c.Upstream, f.key[len("web/"):]), f.content, f.uploaded)
			if f.meta != nil {
				w.file(filepath.Join(c.Upstream, f.key[len("web/"):]+".metadata"), f.meta, f.uploaded)
			}
			if c.NoFiles {
				continue
			}
			stored := f.content
			switch r := rng.Float64(); {
			case removed:
				defect("removed-file", f.key)
			case r < c.Missing:
				defect("missing", f.key)
				continue
			case r < c.Missing+c.SizeMismatch:
				defect("size-mismatch", f.key)
				stored = append(append([]byte{}, f.content...), "+extra"...)
			case r < c.Missing+c.SizeMismatch+c.HashMismatch:
				defect("hash-mismatch", f.key)
				stored = append([]byte{}, f.content...)
				stored[0] ^= 0x20
			}
			w.file(filepath.Join(c.Out, f.key), stored, f.uploaded)
			if f.meta != nil {
				w.file(filepath.Join(c.Out, f.key+".metadata"), f.meta, f.uploaded)
			}
		}
		if !c.NoFiles && rng.Float64() < c.Orphans*float64(max(len(files), 1)) {
			h := blake2b.Sum256([]byte(fmt.Sprintf("orphan %d %d", c.Seed, i)))
			x := hex.EncodeToString(h[:])
			key := "web/packages/" + x[:2] + "/" + x[2:4] + "/" + x[4:] + "/" + strings.ToLower(norm) + "-0.0.1.tar.gz"
			w.file(filepath.Join(c.Out, key), []byte("orphan "+x), baseTime)
			defect("orphan", key)
		}
		doc := jsonDoc(name, i, files, c.BigDocMB, i < c.BigDocs)
		w.file(filepath.Join(c.Out, "web/json", name), doc, baseTime)
		w.link(filepath.Join(c.Out, "web/pypi", name, "json"), "../../json/"+name)
		dir := filepath.Join(c.Out, sources.SimplePath(norm, c.HashIndex))
		w.file(filepath.Join(dir, "index.html"), simpleHTML(norm, files, i), baseTime)
		w.file(filepath.Join(dir, "index.v1_json"), simpleJSON(norm, files, i), baseTime)
	}
	w.file(filepath.Join(c.Out, "web/simple/index.html"), rootHTML(all), baseTime)
	w.file(filepath.Join(c.Out, "web/simple/index.v1_json"), rootJSON(all), baseTime)
	w.file(filepath.Join(c.Upstream, "simple/index.html"), rootHTML(live), baseTime)
	w.file(filepath.Join(c.Upstream, "simple/index.v1_json"), rootJSON(live), baseTime)
	w.file(filepath.Join(c.Out, "status"), []byte(fmt.Sprint(len(all))), baseTime)
	return w.err
}

// files makes a project's release files: most projects have 1 to 10, some
// tens, a few hundreds.
func (c *MirrorCmd) files(rng *rand.Rand, name string, i int) []genFile {
	n := 1 + rng.IntN(10)
	switch r := rng.Float64(); {
	case r > 0.99:
		n = 100 + rng.IntN(200)
	case r > 0.9:
		n = 10 + rng.IntN(40)
	}
	base := strings.ToLower(strings.NewReplacer("-", "_", ".", "_").Replace(name))
	out := make([]genFile, n)
	for f := range out {
		version := fmt.Sprintf("1.%d.%d", f/3, f%3)
		filename := fmt.Sprintf("%s-%s.tar.gz", base, version)
		wheel := f%2 == 1
		if wheel {
			filename = fmt.Sprintf("%s-%s-py3-none-any.whl", base, version)
		}
		content := make([]byte, 40+rng.IntN(400))
		for j := range content {
			content[j] = byte('a' + rng.IntN(26))
		}
		copy(content, fmt.Sprintf("%s %s %d\n", name, filename, c.Seed))
		h := blake2b.Sum256(content)
		x := hex.EncodeToString(h[:])
		key := "web/packages/" + x[:2] + "/" + x[2:4] + "/" + x[4:] + "/" + filename
		sum := sha256.Sum256(content)
		g := genFile{key: key, filename: filename, version: version, content: content, sha: hex.EncodeToString(sum[:]),
			url:      "https://files.example.invalid/" + key[len("web/"):],
			uploaded: baseTime.Add(time.Duration(i)*time.Minute + time.Duration(f)*time.Second)}
		if wheel && rng.IntN(2) == 0 {
			g.meta = []byte(fmt.Sprintf("Metadata-Version: 2.1\nName: %s\nVersion: %s\n", name, version))
		}
		out[f] = g
	}
	return out
}

// md5hex is the MD5 of b in hex, as upstream JSON gives it in digests.md5
// and md5_digest (an S3 ETag of a single-part object is the same digest).
func md5hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

func sha256hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func jsonDoc(name string, serial int, files []genFile, bigMB int, big bool) []byte {
	desc := strings.Repeat("A project description line of ordinary length.\n", 20+serial%80)
	if big {
		desc = strings.Repeat("0123456789abcdef", bigMB<<16)
	}
	releases := map[string][]map[string]any{}
	for _, f := range files {
		e := map[string]any{
			"filename": f.filename, "url": f.url, "size": len(f.content),
			"digests":              map[string]string{"md5": md5hex(f.content), "sha256": f.sha, "blake2b_256": "x"},
			"md5_digest":           md5hex(f.content),
			"upload_time":          f.uploaded.Format("2006-01-02T15:04:05"),
			"upload_time_iso_8601": f.uploaded.Format("2006-01-02T15:04:05.000000Z"),
			"packagetype":          "sdist", "python_version": "source", "requires_python": ">=3.8", "yanked": false,
			"comment_text": "", "has_sig": false, "downloads": -1, "yanked_reason": nil,
		}
		if f.meta != nil {
			m := map[string]string{"sha256": sha256hex(f.meta)}
			e["core-metadata"], e["data-dist-info-metadata"] = m, m
		}
		releases[f.version] = append(releases[f.version], e)
	}
	doc := map[string]any{
		"info": map[string]any{"name": name, "version": files[len(files)-1].version, "summary": "generated", "description": desc,
			"classifiers": []string{"Programming Language :: Python :: 3"}, "author": "gen", "license": "MIT"},
		"last_serial": 1000 + serial, "releases": releases, "urls": []any{}, "vulnerabilities": []any{},
	}
	b, _ := json.Marshal(doc)
	return b
}

func href(f genFile) string { return "../../" + f.key[len("web/"):] + "#sha256=" + f.sha }

func simpleHTML(norm string, files []genFile, serial int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "<!DOCTYPE html>\n<html>\n  <head>\n    <meta name=\"pypi:repository-version\" content=\"1.1\">\n    <title>Links for %s</title>\n  </head>\n  <body>\n    <h1>Links for %s</h1>\n", norm, norm)
	for _, f := range files {
		attr := ""
		if f.meta != nil {
			s := sha256hex(f.meta)
			attr = fmt.Sprintf(` data-dist-info-metadata="sha256=%s" data-core-metadata="sha256=%s"`, s, s)
		}
		fmt.Fprintf(&b, "    <a href=\"%s\"%s>%s</a><br/>\n", href(f), attr, f.filename)
	}
	fmt.Fprintf(&b, "  </body>\n</html>\n<!--SERIAL %d-->\n", 1000+serial)
	return []byte(b.String())
}

func simpleJSON(norm string, files []genFile, serial int) []byte {
	var list []map[string]any
	for _, f := range files {
		e := map[string]any{"filename": f.filename, "url": href(f), "hashes": map[string]string{"sha256": f.sha},
			"size": len(f.content), "upload-time": f.uploaded.Format("2006-01-02T15:04:05.000000Z"), "requires-python": ">=3.8"}
		if f.meta != nil {
			m := map[string]string{"sha256": sha256hex(f.meta)}
			e["core-metadata"], e["data-dist-info-metadata"] = m, m
		}
		list = append(list, e)
	}
	b, _ := json.Marshal(map[string]any{"meta": map[string]any{"api-version": "1.1", "_last-serial": 1000 + serial}, "name": norm, "files": list, "versions": []string{}})
	return b
}

func rootHTML(names []string) []byte {
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html>\n  <head>\n    <meta name=\"pypi:repository-version\" content=\"1.1\">\n    <title>Simple Index</title>\n  </head>\n  <body>\n")
	for _, n := range names {
		fmt.Fprintf(&b, "    <a href=\"%s/\">%s</a><br/>\n", sources.Normalize(n), n)
	}
	b.WriteString("  </body>\n</html>\n")
	return []byte(b.String())
}

func rootJSON(names []string) []byte {
	list := make([]map[string]any, len(names))
	for i, n := range names {
		list[i] = map[string]any{"name": n, "_last-serial": 1000 + i}
	}
	b, _ := json.Marshal(map[string]any{"meta": map[string]any{"api-version": "1.1", "_last-serial": 9999}, "projects": list})
	return b
}

// treeWriter writes files and links, keeping the first error.
type treeWriter struct{ err error }

func (w *treeWriter) file(path string, data []byte, mod time.Time) {
	if w.err != nil {
		return
	}
	if w.err = os.MkdirAll(filepath.Dir(path), 0o755); w.err != nil {
		return
	}
	if w.err = os.WriteFile(path, data, 0o644); w.err != nil {
		return
	}
	w.err = os.Chtimes(path, mod, mod)
}

func (w *treeWriter) link(path, target string) {
	if w.err != nil {
		return
	}
	if w.err = os.MkdirAll(filepath.Dir(path), 0o755); w.err != nil {
		return
	}
	_ = os.Remove(path)
	w.err = os.Symlink(target, path)
}
