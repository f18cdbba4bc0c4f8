package main

import (
	"bufio"
	"fmt"
	"os"

	"github.com/klauspost/compress/zstd"
)

// loadAllNames reads every name of a zstd file of one name a line.
func loadAllNames(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := zstd.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer zr.Close()
	var all []string
	sc := bufio.NewScanner(zr)
	for sc.Scan() {
		if sc.Text() != "" {
			all = append(all, sc.Text())
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return all, nil
}

// loadNames reads up to n project names from a zstd file of one name a line,
// spread evenly over the file; without a file it makes synthetic names.
func loadNames(path string, n int) ([]string, error) {
	if path == "" {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("Project_%07d", i)
		}
		return out, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := zstd.NewReader(f)
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	var all []string
	sc := bufio.NewScanner(zr)
	for sc.Scan() {
		if sc.Text() != "" {
			all = append(all, sc.Text())
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if n > len(all) {
		for i := len(all); i < n; i++ {
			all = append(all, fmt.Sprintf("extra-project-%07d", i))
		}
		return all, nil
	}
	out := make([]string, n)
	for i := range out {
		out[i] = all[i*len(all)/n]
	}
	return out, nil
}
