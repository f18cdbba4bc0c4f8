package sources

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDiffFileReferenceAsBandersnatchReadsIt: diff-file's {{section_option}}
// reference is filled as bandersnatch 8's eval_config_reference fills it;
// the wanted values were printed by bandersnatch's own module on the same
// config (configparser with delimiters "="). A reference it cannot fill
// falls back to <directory>/mirrored-files with a note.
func TestDiffFileReferenceAsBandersnatchReadsIt(t *testing.T) {
	const conf = "[mirror]\ndirectory = /srv/pypi\njson = true\nworkers = 3\ndiff-file = %s\n[extra]\ndated = 2026-12-05\n"
	const fallback = "/srv/pypi/mirrored-files"
	for value, want := range map[string]string{
		"":                            "",
		"/srv/diff":                   "/srv/diff",
		"/srv/{{mirror_directory}}/x": "/srv//srv/pypi/x",
		"{{ mirror _ workers }}":      "3",
		"/x/{{m_directory}}":          fallback,
		"/x/{{nosuch_key}}":           fallback,
		"/x/{{mirror_nosuch}}":        fallback,
		"/a{{mirror_directory}}/b{{mirror_json}}": "/a{{mirror_directory}}/btrue",
		"/d/{{mirror_DIRECTORY}}":                 "/d//srv/pypi",
		"/d/{{extra_dated}}-list":                 "/d/2026-12-05-list",
		"/d/{{ex_tra_dated}}":                     fallback,
		"{{mirror_}}":                             "{{mirror_}}",
	} {
		p := filepath.Join(t.TempDir(), "b.conf")
		if err := os.WriteFile(p, []byte(strings.Replace(conf, "%s", value, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := ReadConfig(p)
		if err != nil {
			t.Fatalf("%q: %v", value, err)
		}
		if c.Sync.DiffFile != want {
			t.Errorf("diff-file = %q: got %q, bandersnatch reads %q", value, c.Sync.DiffFile, want)
		}
		if noted := c.Sync.DiffFileNote != ""; noted != (want == fallback) {
			t.Errorf("diff-file = %q: note %q", value, c.Sync.DiffFileNote)
		}
	}
}
