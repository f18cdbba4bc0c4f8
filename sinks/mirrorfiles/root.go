package mirrorfiles

import (
	"bytes"
	"fmt"
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
// simple-format is JSON (bandersnatch writes it, then deletes it).
func RootIndexFiles(dirs []string, serial int64, o Options) (write []Output, remove []string) {
	sorted := sortDirs(dirs, o.HashIndex)
	var h bytes.Buffer
	h.WriteString("<!DOCTYPE html>\n<html>\n  <head>\n    <meta name=\"pypi:repository-version\" content=\"1.0\">\n" +
		"    <title>Simple Index</title>\n  </head>\n  <body>\n")
	projects := &pyjson.Value{Kind: pyjson.KindArray}
	for _, n := range sorted {
		fmt.Fprintf(&h, "    <a href=\"%s/\">%s</a><br/>\n", n, n)
		if o.json() {
			projects.Elems = append(projects.Elems, &pyjson.Value{Kind: pyjson.KindObject, Keys: []string{"name"}, Elems: []*pyjson.Value{strValue(n)}})
		}
	}
	h.WriteString("  </body>\n</html>")
	if o.html() {
		write = append(write, Output{Path: "web/simple/index.html", Data: h.Bytes(), Mode: 0o644}, Output{Path: "web/simple/index.v1_html", Data: h.Bytes(), Mode: 0o644})
	} else {
		remove = append(remove, "web/simple/index.html")
	}
	if o.json() {
		idx := &pyjson.Value{Kind: pyjson.KindObject, Keys: []string{"meta", "projects"}, Elems: []*pyjson.Value{
			{Kind: pyjson.KindObject, Keys: []string{"_last-serial", "api-version"}, Elems: []*pyjson.Value{
				{Kind: pyjson.KindInt, Str: strconv.FormatInt(serial, 10)}, strValue("1.1")}},
			projects,
		}}
		write = append(write, Output{Path: "web/simple/index.v1_json", Data: pyjson.Dumps(idx), Mode: 0o644})
	}
	return write, remove
}

// sortDirs orders the project folders as get_simple_dirs and
// find_packages_in_dir do: each hash folder in name order, the projects in
// it in name order (without hash-index, one sorted list); a name is listed
// once per folder.
func sortDirs(dirs []string, hashIndex bool) []string {
	type entry struct{ sub, name string }
	var es []entry
	for _, d := range dirs {
		d = strings.Trim(d, "/")
		sub, name := "", d
		if hashIndex {
			s, n, ok := strings.Cut(d, "/")
			if !ok {
				continue
			}
			sub, name = s, n
		}
		es = append(es, entry{sub, name})
	}
	slices.SortFunc(es, func(a, b entry) int {
		if c := strings.Compare(a.sub, b.sub); c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name)
	})
	es = slices.Compact(es)
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.name
	}
	return out
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
