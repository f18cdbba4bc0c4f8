package main

import (
	"fmt"
	"strconv"

	"github.com/bandercheck/bandercheck/pipeline"
)

// ManifestsCmd writes storage, projects and designated manifests directly:
// about 1% of designated files missing from storage, 1% of stored files
// unowned, 0.1% of sizes wrong.
type ManifestsCmd struct {
	State string `help:"State directory to write." required:""`
	Rows  int    `help:"Designated rows (storage has about as many)." default:"1000000"`
}

func mix(i uint64) uint64 {
	i ^= i >> 33
	i *= 0xff51afd7ed558ccd
	i ^= i >> 33
	i *= 0xc4ceb3fe1a85ec53
	i ^= i >> 33
	return i
}

// keyPath is the path of key j: a prefix that grows with j, so storage can be
// written in order, and a realistic hash tail.
func keyPath(j, m uint64) string {
	x := fmt.Sprintf("%016x%016x%016x%016x", j*(^uint64(0)/m), mix(j), mix(j+1), mix(j+2))
	return "web/packages/" + x[:2] + "/" + x[2:4] + "/" + x[4:64] + "/project-" + strconv.FormatUint(j%100000, 10) + "-1.0-py3-none-any.whl"
}

// Run implements the command.
func (c *ManifestsCmd) Run() error {
	if _, err := pipeline.NewState(c.State).OpenRun("generated"); err != nil {
		return err
	}
	m := uint64(float64(c.Rows) * 1.01)
	kind := func(j uint64) uint64 { return mix(j^0x5bd1e995) % 1000 } // <10 unowned, 10..19 missing, 20 size
	size := func(j uint64) string { return strconv.FormatUint(1000+mix(j)%5000000, 10) }
	const perProject = 20

	st, err := pipeline.NewState(c.State).Stage("generated storage", true, pipeline.StageOptions{}, pipeline.MustSpec("storage"), pipeline.MustSpec("problems/storage"))
	if err != nil {
		return err
	}
	for j := range m {
		k := kind(j)
		if k >= 10 && k < 20 {
			continue
		}
		s := size(j)
		if k == 20 {
			s = "7"
		}
		p := keyPath(j, m)
		if err := st.Write(0, p, s, "2020-01-01T00:00:00Z", "", "", "", "", "", ""); err != nil {
			return err
		}
		if err := st.EndUnit(p); err != nil {
			return err
		}
	}
	if err := st.Finish(); err != nil {
		return err
	}

	md, err := pipeline.NewState(c.State).Stage("generated metadata", true, pipeline.StageOptions{},
		pipeline.MustSpec("projects"), pipeline.MustSpec("designated"), pipeline.MustSpec("problems/metadata"))
	if err != nil {
		return err
	}
	// designated visits the keys in a permuted order, grouped in projects
	a := uint64(6364136223846793005) % m
	for gcd(a, m) != 1 {
		a++
	}
	files := 0
	var project string
	for k := range m {
		if k%perProject == 0 {
			if k > 0 {
				if err := endProject(md, project, files); err != nil {
					return err
				}
			}
			project, files = fmt.Sprintf("project-%09d", k/perProject), 0
		}
		j := (a*k + 12345) % m
		if kind(j) < 10 {
			continue
		}
		p := keyPath(j, m)
		if err := md.Write(1, p, project, size(j), "", "https://files.example.invalid/"+p[4:], "2020-01-01T00:00:00.000000Z", ""); err != nil {
			return err
		}
		files++
	}
	if err := endProject(md, project, files); err != nil {
		return err
	}
	return md.Finish()
}

func endProject(md *pipeline.Stage, project string, files int) error {
	if err := md.Write(0, project, project, "web/json/"+project, "1", strconv.Itoa(files), ""); err != nil {
		return err
	}
	return md.EndUnit(project)
}

func gcd(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
