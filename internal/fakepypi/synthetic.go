package fakepypi

import "fmt"

// Synthetic builds an upstream of n projects ("proj-0000001" …), each with
// one release of files small files (an sdist, then wheels), for the sync
// benchmark. Each step k ≥ 1 adds a release "1.k" of one file to every
// 100th project, starting at project k-1 (mod 100): 1% of the projects
// changed since step k-1, a different 1% each step, so a benchmark can
// repeat an incremental sync on one mirror.
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
	for k := 1; k <= step; k++ {
		for i := (k - 1) % 100; i < n; i += 100 {
			name := fmt.Sprintf("proj-%07d", i+1)
			v := fmt.Sprintf("1.%d", k)
			_, _ = w.AddRelease(name, Release{Version: v, Files: []File{{Filename: name + "-" + v + ".tar.gz"}}})
		}
	}
	return w
}
