package fakepypi

import "fmt"

// Synthetic builds an upstream of n projects ("proj-0000001" …), each with
// one release of files small files (an sdist, then wheels), for the sync
// benchmark. Step 1 adds a release of one file to every 100th project: 1%
// of the projects changed since step 0.
func Synthetic(filesBase string, n, files, step int) *Warehouse {
	w := NewWarehouse(filesBase, 1000)
	for i := range n {
		name := fmt.Sprintf("proj-%07d", i+1)
		var fs []File
		for j := range files {
			fn := name + "-1.0.tar.gz"
			if j > 0 {
				fn = fmt.Sprintf("%s-1.0-py3-none-any-%d.whl", name, j)
			}
			fs = append(fs, File{Filename: fn})
		}
		w.AddProject(name, Release{Version: "1.0", Files: fs})
	}
	if step > 0 {
		for i := 0; i < n; i += 100 {
			name := fmt.Sprintf("proj-%07d", i+1)
			_, _ = w.AddRelease(name, Release{Version: "1.1", Files: []File{{Filename: name + "-1.1.tar.gz"}}})
		}
	}
	return w
}
