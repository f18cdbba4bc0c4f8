// Package fakepypi is a fake PyPI: it serves a generated upstream tree over
// HTTP, as PyPI serves its simple index and files, for tests, the demo and
// the benchmarks.
package fakepypi

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

// Handler serves /simple/ from dir/simple (PEP 691 JSON when the client asks
// for it, HTML otherwise) and every other path from dir.
func Handler(dir string) http.Handler {
	files := http.FileServer(http.Dir(dir))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/simple/" {
			jsonIndex := filepath.Join(dir, "simple", "index.v1_json")
			if _, err := os.Stat(jsonIndex); err == nil && strings.Contains(r.Header.Get("Accept"), "application/vnd.pypi.simple.v1+json") {
				w.Header().Set("Content-Type", "application/vnd.pypi.simple.v1+json")
				http.ServeFile(w, r, jsonIndex)
				return
			}
			w.Header().Set("Content-Type", "text/html")
			http.ServeFile(w, r, filepath.Join(dir, "simple", "index.html"))
			return
		}
		files.ServeHTTP(w, r)
	})
}
