package stages

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bandercheck/bandercheck/internal/store/posixstore"
	"github.com/bandercheck/bandercheck/sinks/mirrorfiles"
)

// TestLocalSerialReadsWholePages: the serial of a project's page on the
// mirror is read past many buffers' worth of files (a page of 600 files,
// its meta at the end, read through the pooled 16 KiB reader one project
// after another), from index.html where index.v1_json is missing, and is
// -1 where the project has no page.
func TestLocalSerialReadsWholePages(t *testing.T) {
	root := t.TempDir()
	page := func(name, file, body string) {
		dir := filepath.Join(root, "web", "simple", name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, file), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var files, links []string
	for i := range 600 {
		fn := fmt.Sprintf("big-1.%d.tar.gz", i)
		files = append(files, fmt.Sprintf(`{"filename": %q, "hashes": {"sha256": "%064x"}, "requires-python": null, "size": 50, "upload-time": "2020-02-17T00:06:20.926157Z", "url": "../../packages/ab/cd/%s", "yanked": false}`, fn, i, fn))
		links = append(links, fmt.Sprintf(`    <a href="../../packages/ab/cd/%s#sha256=%064x">%s</a><br/>`, fn, i, fn))
	}
	page("big", "index.v1_json", `{"files": [`+strings.Join(files, ", ")+`], "meta": {"api-version": "1.1", "_last-serial": "777"}, "name": "big", "versions": ["1.0"]}`)
	page("small", "index.v1_json", `{"files": [], "meta": {"api-version": "1.1", "_last-serial": "12"}, "name": "small", "versions": []}`)
	page("htmlonly", "index.html", "<!DOCTYPE html>\n<html>\n  <head>\n    <title>Links for htmlonly</title>\n  </head>\n  <body>\n    <h1>Links for htmlonly</h1>\n"+
		strings.Join(links, "\n")+"\n  </body>\n</html>\n<!--SERIAL 555-->")
	if err := os.MkdirAll(filepath.Join(root, "web", "simple", "none"), 0o755); err != nil {
		t.Fatal(err)
	}
	ms, err := posixstore.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer ms.Close()
	for range 2 { // the pooled readers again
		for _, c := range []struct {
			project string
			serial  int64
			page    string
		}{{"big", 777, "web/simple/big/index.v1_json"}, {"small", 12, "web/simple/small/index.v1_json"},
			{"htmlonly", 555, "web/simple/htmlonly/index.html"}, {"none", -1, ""}} {
			serial, page := localSerial(context.Background(), ms, mirrorfiles.DefaultOptions(), c.project)
			if serial != c.serial || page != c.page {
				t.Errorf("%s: serial %d from %q, want %d from %q", c.project, serial, page, c.serial, c.page)
			}
		}
	}
}
