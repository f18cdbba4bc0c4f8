package mirrorfiles

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bandercheck/bandercheck/internal/pyjson"
)

// RootIndexFiles is sync_index_page: the root simple index of every project
// folder that exists under web/simple after the sync (removed projects
// included: bandersnatch lists folders, not upstream). dirs are those
// folders relative to web/simple ("alpha-pkg", or with hash-index
// "a/alpha-pkg"), in any order. serial is the mirror's status serial from
// before this sync (bandersnatch writes the index before it saves the new
// one; 0 on a first sync).
//
// Write holds index.html and index.v1_html for HTML formats and
// index.v1_json for JSON ones; Remove holds web/simple/index.html when
// simple-format is JSON (bandersnatch writes it, then deletes it). The
// pages are held whole: sync streams them with WriteRootIndex instead.
func RootIndexFiles(dirs []string, serial int64, o Options) (write []Output, remove []string) {
	var h, j bytes.Buffer
	html, js, remove := RootIndexPages(o)
	type folder struct{ key, dir string }
	var sorted []folder
	for _, d := range dirs {
		if k, ok := RootIndexKey(d, o.HashIndex); ok {
			sorted = append(sorted, folder{k, strings.Trim(d, "/")})
		}
	}
	slices.SortFunc(sorted, func(a, b folder) int { return strings.Compare(a.key, b.key) })
	sorted = slices.CompactFunc(sorted, func(a, b folder) bool { return a.key == b.key })
	next := func() (string, error) {
		if len(sorted) == 0 {
			return "", io.EOF
		}
		d := sorted[0].dir
		sorted = sorted[1:]
		return d, nil
	}
	_ = WriteRootIndex(next, serial, o, &h, &j) // a buffer never fails
	for _, p := range html {
		write = append(write, Output{Path: p, Data: h.Bytes(), Mode: 0o644})
	}
	for _, p := range js {
		write = append(write, Output{Path: p, Data: j.Bytes(), Mode: 0o644})
	}
	return write, remove
}

// RootIndexPages are the root index pages simple-format o writes: html
// (index.html and index.v1_html, the same bytes), js (index.v1_json), and
// remove (index.html, when the format is JSON only).
func RootIndexPages(o Options) (html, js, remove []string) {
	if o.html() {
		html = []string{"web/simple/index.html", "web/simple/index.v1_html"}
	} else {
		remove = []string{"web/simple/index.html"}
	}
	if o.json() {
		js = []string{"web/simple/index.v1_json"}
	}
	return html, js, remove
}

// WriteRootIndex writes the root index to html and js as it goes, never
// holding a page. next yields the project folders relative to web/simple
// in the order RootIndexKey sorts them, once each, and io.EOF after the
// last. A writer whose page the format has no place for is not written to.
func WriteRootIndex(next func() (string, error), serial int64, o Options, html, js io.Writer) error {
	hw, jw := bufio.NewWriterSize(html, 64<<10), bufio.NewWriterSize(js, 64<<10)
	if o.html() {
		hw.WriteString("<!DOCTYPE html>\n<html>\n  <head>\n    <meta name=\"pypi:repository-version\" content=\"1.0\">\n" +
			"    <title>Simple Index</title>\n  </head>\n  <body>\n")
	}
	if o.json() {
		jw.WriteString(`{"meta": {"_last-serial": ` + strconv.FormatInt(serial, 10) + `, "api-version": "1.1"}, "projects": [`)
	}
	for i := 0; ; i++ {
		d, err := next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		n := d
		if o.HashIndex {
			_, n, _ = strings.Cut(d, "/")
		}
		if o.html() { // (in pieces: no string made for each of the mirror's projects)
			hw.WriteString("    <a href=\"")
			hw.WriteString(n)
			hw.WriteString("/\">")
			hw.WriteString(n)
			hw.WriteString("</a><br/>\n")
		}
		if o.json() {
			if i > 0 {
				jw.WriteString(", ")
			}
			jw.WriteString(`{"name": `)
			pyjson.WritePyString(jw, n)
			jw.WriteString(`}`)
		}
	}
	if o.html() {
		hw.WriteString("  </body>\n</html>")
	}
	if o.json() {
		jw.WriteString("]}")
	}
	return errors.Join(hw.Flush(), jw.Flush())
}

// RootIndexKey is the sort key that puts a project folder where
// get_simple_dirs and find_packages_in_dir put it: each hash folder in name
// order, the projects in it in name order (without hash-index, one sorted
// list). ok is false for a folder the root index leaves out (with
// hash-index, one that is not inside a hash folder). Equal keys are the same
// folder, listed once. The NUL between folder and name keeps the order of
// the pair where a byte sorting below '/' follows a shorter folder's name.
func RootIndexKey(d string, hashIndex bool) (key string, ok bool) {
	d = strings.Trim(d, "/")
	folder, name, nested := strings.Cut(d, "/")
	if !hashIndex {
		return d, true
	}
	if !nested {
		return "", false
	}
	return folder + "\x00" + name, true
}

// StatusFile is `status`: the serial reached, no newline; bandersnatch
// writes it (0600 when new, the old file's mode otherwise; an unchanged
// file is left alone) only when the sync had no error.
func StatusFile(serial int64) Output {
	return Output{Path: "status", Data: []byte(strconv.FormatInt(serial, 10)), Mode: 0o600, UpdateSafe: true}
}

// GenerationFile is `generation`: "5", written at every start.
func GenerationFile() Output {
	return Output{Path: "generation", Data: []byte("5"), Mode: 0o600, UpdateSafe: true}
}

// LastModifiedFile is web/last-modified: the time the sync started,
// "%Y%m%dT%H:%M:%S\n" in UTC, written with status.
func LastModifiedFile(start time.Time) Output {
	return Output{Path: "web/last-modified", Data: []byte(start.UTC().Format("20060102T15:04:05") + "\n"), Mode: 0o600, UpdateSafe: true}
}

// BootstrapDirs are the folders bandersnatch makes at every start (on S3
// each is a "<dir>/.s3keep" object).
func BootstrapDirs(o Options) []string {
	d := []string{"web/simple", "web/packages", "web/local-stats/days"}
	if o.JSON {
		d = append(d, "web/json", "web/pypi")
	}
	return d
}
