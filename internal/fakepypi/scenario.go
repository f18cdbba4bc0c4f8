package fakepypi

import "fmt"

// GoldenSteps is how many states the golden scenario has (0 … GoldenSteps-1).
const GoldenSteps = 2

// Golden builds the small upstream the golden trees are generated from, in
// its state at step (0: the first sync; 1: after a new release, a new
// project, a removed project, a yanked release and a dropped file). It covers
// what the writers must get right: a display name that is not the
// normalized one, '+' in a file name, requires-python and yank reasons that
// need HTML escaping, core metadata with a digest, `true` and `false`,
// prereleases, platform wheels for the filters, and non-ASCII text.
func Golden(filesBase string, step int) (*Warehouse, error) {
	if step < 0 || step >= GoldenSteps {
		return nil, fmt.Errorf("fakepypi: the golden scenario has steps 0 to %d, not %d", GoldenSteps-1, step)
	}
	w := NewWarehouse(filesBase, 1000)
	w.AddProject("Alpha_Pkg",
		Release{Version: "1.0", Files: []File{
			{Filename: "Alpha_Pkg-1.0.tar.gz"},
			{Filename: "Alpha_Pkg-1.0-py3-none-any.whl", Metadata: []byte("Metadata-Version: 2.1\nName: Alpha_Pkg\nVersion: 1.0\n")},
		}},
		Release{Version: "1.1+cpu", Files: []File{
			{Filename: "Alpha_Pkg-1.1+cpu.tar.gz", RequiresPython: ">=3.8, <4"},
		}},
		Release{Version: "2.0b1", Files: []File{
			{Filename: "Alpha_Pkg-2.0b1-py3-none-any.whl", Metadata: []byte("Metadata-Version: 2.1\nName: Alpha_Pkg\nVersion: 2.0b1\n")},
		}},
	)
	w.AddProject("beta",
		Release{Version: "0.9", Files: []File{
			{Filename: "beta-0.9.tar.gz", Yanked: true, YankedReason: `broke <"everything"> & 'more'`},
		}},
		Release{Version: "1.0", Files: []File{
			{Filename: "beta-1.0.tar.gz", RequiresPython: ">=3.8"},
			{Filename: "beta-1.0-cp311-cp311-win_amd64.whl", MetadataNoHash: true},
			{Filename: "beta-1.0-cp311-cp311-manylinux_2_17_x86_64.whl", Metadata: []byte("Metadata-Version: 2.1\nName: beta\nVersion: 1.0\n")},
		}},
	)
	w.AddProject("Gamma.Dots",
		Release{Version: "3.0", Files: []File{{Filename: "gamma.dots-3.0.tar.gz"}}},
		Release{Version: "10.0", Files: []File{{Filename: "gamma.dots-10.0.tar.gz"}}},
		Release{Version: "2.0", Files: []File{{Filename: "gamma.dots-2.0.tar.gz"}}},
	)
	w.AddProject("delta",
		Release{Version: "1.0", Files: []File{
			{Filename: "delta-1.0.tar.gz"},
			{Filename: "delta-1.0-py2.py3-none-any.whl"},
			{Filename: "delta-1.0.win32.exe"},
		}},
		Release{Version: "0.1.dev1", Files: []File{}},
	)
	w.AddProject("removed-later",
		Release{Version: "0.1", Files: []File{{Filename: "removed_later-0.1.tar.gz"}}},
	)
	if step == 0 {
		return w, nil
	}
	steps := []func() error{
		func() error {
			_, err := w.AddRelease("alpha-pkg", Release{Version: "2.1", Files: []File{
				{Filename: "Alpha_Pkg-2.1.tar.gz"},
				{Filename: "Alpha_Pkg-2.1-py3-none-any.whl", Metadata: []byte("Metadata-Version: 2.1\nName: Alpha_Pkg\nVersion: 2.1\n")},
			}})
			return err
		},
		func() error {
			w.AddProject("Epsilon", Release{Version: "0.0.1", Files: []File{{Filename: "epsilon-0.0.1.zip"}}})
			return nil
		},
		func() error { return w.RemoveProject("removed-later") },
		func() error { return w.Yank("beta", "1.0", "") },
		func() error { return w.DropFile("delta", "delta-1.0.win32.exe") },
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return nil, err
		}
	}
	return w, nil
}
