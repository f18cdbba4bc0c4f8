// Command gen writes names.txt, the 1,023 inner boundaries that split the
// normalized names of every PyPI project into 1,024 parts of equal count:
//
//	go run ./internal/partition/gen ../shared/data/pypi-project-names.txt.zst > internal/partition/names.txt
package main

import (
	"bufio"
	"fmt"
	"os"
	"slices"

	"github.com/bandercheck/bandercheck/sources"
	"github.com/klauspost/compress/zstd"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run() error {
	if len(os.Args) != 2 {
		return fmt.Errorf("usage: gen NAMES.txt.zst > names.txt")
	}
	f, err := os.Open(os.Args[1])
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := zstd.NewReader(f)
	if err != nil {
		return err
	}
	defer zr.Close()
	var names []string
	sc := bufio.NewScanner(zr)
	for sc.Scan() {
		if n := sources.Normalize(sc.Text()); n != "" {
			names = append(names, n)
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	slices.Sort(names)
	names = slices.Compact(names)
	const parts = 1024
	if len(names) < parts {
		return fmt.Errorf("%d names: too few for %d parts", len(names), parts)
	}
	w := bufio.NewWriter(os.Stdout)
	for i := 1; i < parts; i++ {
		fmt.Fprintln(w, names[i*len(names)/parts])
	}
	return w.Flush()
}
