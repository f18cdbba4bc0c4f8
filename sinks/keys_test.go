package sinks

import "testing"

func TestCheckDeleteKey(t *testing.T) {
	for key, ok := range map[string]bool{
		"web/packages/aa/bb/x.whl":            true,
		"web/json/.demo.k3j9x2a1":             true,
		"web/pypi/.json.x1":                   true,
		"web/simple/.index.html.abc":          true,
		"web/json/demo":                       false, // a project's document is a removal, not a delete
		"web/json/.demo/../../etc":            false,
		"web/json/..":                         false,
		"web/simple/.hidden/index.html":       false,
		"web/simple/demo/.index.html.x":       false,
		"web/packages/.bandercheck-tmp/x.tmp": false,
		"web/.lock":                           false,
		"web/json/.lock":                      false,
		"../web/json/.x":                      false,
	} {
		if err := CheckDeleteKey(key); (err == nil) != ok {
			t.Errorf("%s: %v, want allowed %v", key, err, ok)
		}
	}
}
