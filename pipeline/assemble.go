package pipeline

import (
	"errors"
	"fmt"
	"github.com/bandercheck/bandercheck/internal/safefs"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bandercheck/bandercheck/internal/partition"
)

// ScanManifests are the manifests the scans write: what a partition holds.
// Storage comes last: plan needs it finished, so until it is assembled a
// half-assembled state cannot be planned.
var ScanManifests = []string{"problems/storage", "projects", "designated", "problems/metadata", "storage"}

// partitionOption is run.json's record of the part a state scanned ("K/N").
const partitionOption = "partition"

// PartitionDirs expands plan --partitions: the states named, or, for a single
// folder that is not a state itself, the states in it.
func PartitionDirs(args []string) ([]string, error) {
	if len(args) != 1 {
		return args, nil
	}
	if _, err := os.Stat(filepath.Join(args[0], RunFileName)); err == nil {
		return args, nil
	}
	entries, err := os.ReadDir(args[0])
	if err != nil {
		return nil, &UsageError{Msg: fmt.Sprintf("--partitions %s: %v: name the partitions' state directories, or a folder holding them", args[0], err)}
	}
	var dirs []string
	for _, e := range entries {
		d := filepath.Join(args[0], e.Name())
		if _, err := os.Stat(filepath.Join(d, RunFileName)); e.IsDir() && err == nil {
			dirs = append(dirs, d)
		}
	}
	if len(dirs) == 0 {
		return nil, &UsageError{Msg: fmt.Sprintf("--partitions %s: no state directory (with a %s) in it", args[0], RunFileName)}
	}
	return dirs, nil
}

// AssembleParts puts the scan manifests of the partitions' states end to end,
// in part order, into dest: the manifests one scan of the whole mirror would
// have written. Every part must be of the same mirror and options, each of
// 0/N … N-1/N exactly once, with its scans finished. Shards are hard-linked
// where they can be and copied where not; dest keeps its own upstream
// manifest. A kill part-way leaves dest without finished scans (plan then
// refuses), never with a mix. dest is the handle's STATE.
func (s *State) AssembleParts(dirs []string) error {
	defer s.Forget()
	dest := s.dir
	parts, err := orderParts(dest, dirs)
	if err != nil {
		return err
	}
	run, err := s.OpenRun(parts[0].run.Mirror)
	if err != nil {
		return err
	}
	for _, m := range ScanManifests {
		if err := os.Remove(filepath.Join(dest, filepath.FromSlash(m), StageFileName)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	for k, v := range parts[0].run.Options {
		if k != partitionOption {
			if err := run.Require(k, v, true); err != nil {
				return err
			}
		}
	}
	if err := run.Require("partitions", strconv.Itoa(len(parts)), true); err != nil {
		return err
	}
	for _, m := range ScanManifests {
		if err := assembleManifest(dest, m, parts); err != nil {
			return fmt.Errorf("assemble %s: %w", m, err)
		}
	}
	return os.RemoveAll(filepath.Join(dest, "tmp", "assemble"))
}

type partState struct {
	dir  string
	run  *Run
	k, n int
}

// orderParts reads each part's run.json and sorts the parts by K, refusing
// a set that is not exactly the N parts of one scan.
func orderParts(dest string, dirs []string) ([]partState, error) {
	if len(dirs) == 0 {
		return nil, &UsageError{Msg: "--partitions: name at least one state directory"}
	}
	absDest, _ := filepath.Abs(dest)
	var parts []partState
	for _, d := range dirs {
		if a, _ := filepath.Abs(d); a == absDest {
			return nil, &UsageError{Msg: fmt.Sprintf("--partitions %s is --state itself: plan the parts into another state directory", d)}
		}
		if err := CheckNoLinks(d); err != nil {
			return nil, fmt.Errorf("--partitions: %w", err)
		}
		r, err := NewState(d).Run()
		if err != nil {
			return nil, &UsageError{Msg: fmt.Sprintf("--partitions: %v: is %s a partition's state directory?", err, d)}
		}
		part, err := partition.Parse(r.Option(partitionOption))
		if err != nil {
			return nil, &UsageError{Msg: fmt.Sprintf("--partitions: %s/%s records %v: rescan that part", d, RunFileName, err)}
		}
		p := partState{dir: d, run: r, k: part.K, n: max(part.N, 1)}
		parts = append(parts, p)
	}
	slices.SortFunc(parts, func(a, b partState) int { return a.k - b.k })
	first := parts[0]
	for i, p := range parts {
		switch {
		case p.n != len(parts):
			return nil, &UsageError{Msg: fmt.Sprintf("--partitions: %s scanned part %d/%d, but %d states were given: give all %d parts of one scan", p.dir, p.k, p.n, len(parts), p.n)}
		case p.k != i:
			return nil, &UsageError{Msg: fmt.Sprintf("--partitions: part %d/%d is missing (or given twice, see %s): give each of 0/%d … %d/%d once", i, p.n, p.dir, p.n, p.n-1, p.n)}
		case p.run.Mirror != first.run.Mirror:
			return nil, &UsageError{Msg: fmt.Sprintf("--partitions: %s scanned %s, %s scanned %s: every part must be of one mirror", first.dir, first.run.Mirror, p.dir, p.run.Mirror)}
		}
		if !optionsMatch(first.run.Options, p.run.Options) {
			return nil, &UsageError{Msg: fmt.Sprintf("--partitions: %s and %s were scanned with other options (%v, %v): scan every part alike", first.dir, p.dir, withoutPartition(first.run.Options), withoutPartition(p.run.Options))}
		}
		for _, m := range ScanManifests {
			sf, err := NewState(p.dir).StageFile(m)
			if err != nil || sf.State != StateDone {
				return nil, &UsageError{Msg: fmt.Sprintf("--partitions: %s has no finished %s: finish that part's scans first (rerun its bandercheck --partition %d/%d run --dry-run)", p.dir, m, p.k, p.n)}
			}
		}
	}
	return parts, nil
}

func withoutPartition(o map[string]string) map[string]string {
	c := maps.Clone(o)
	delete(c, partitionOption)
	return c
}

func optionsMatch(a, b map[string]string) bool {
	return maps.Equal(withoutPartition(a), withoutPartition(b))
}

// assembleManifest links (or copies) every part's shards of manifest into a
// fresh folder, renumbered in part order, and moves it into dest.
func assembleManifest(dest, manifest string, parts []partState) error {
	final := filepath.Join(dest, filepath.FromSlash(manifest))
	work := filepath.Join(dest, "tmp", "assemble", filepath.FromSlash(manifest))
	if err := os.RemoveAll(work); err != nil {
		return err
	}
	if err := os.MkdirAll(work, 0o700); err != nil {
		return err
	}
	var out *StageFile
	for _, p := range parts {
		sf, err := NewState(p.dir).StageFile(manifest)
		if err != nil {
			return err
		}
		if out == nil {
			out = &StageFile{Manifest: manifest, Stage: sf.Stage, Columns: sf.Columns, State: StateDone, Started: sf.Started}
		}
		if !slices.Equal(out.Columns, sf.Columns) {
			return &UsageError{Msg: fmt.Sprintf("%s: %s has columns %v, the first part %v: scan every part with one bandercheck", manifest, p.dir, sf.Columns, out.Columns)}
		}
		if sf.Started.Before(out.Started) {
			out.Started = sf.Started // the grace cutoff counts from the earliest scan
		}
		if sf.Updated.After(out.Updated) {
			out.Updated = sf.Updated
		}
		if sf.Finished != nil && (out.Finished == nil || sf.Finished.After(*out.Finished)) {
			f := *sf.Finished
			out.Finished = &f
		}
		for _, sh := range sf.Shards {
			if sh.File != filepath.Base(sh.File) || !strings.HasSuffix(sh.File, ".csv.zst") {
				return &UsageError{Msg: fmt.Sprintf("%s: %s lists a shard %q that is not a shard file name: the part's state is damaged; rescan that part with --fresh", manifest, p.dir, sh.File)}
			}
			n := len(out.Shards) + 1
			name := shardName(n)
			if err := linkOrCopy(filepath.Join(p.dir, filepath.FromSlash(manifest), sh.File), filepath.Join(work, name)); err != nil {
				return err
			}
			out.Shards = append(out.Shards, ShardInfo{File: name, Rows: sh.Rows, Bytes: sh.Bytes, Commit: n, Cursor: sh.Cursor})
			out.Rows += int64(sh.Rows)
			out.Cursor, out.Commit = sh.Cursor, n
		}
	}
	if out.Finished == nil {
		now := time.Now().UTC()
		out.Finished = &now
	}
	if err := writeStageFull(work, out); err != nil {
		return err
	}
	if err := os.RemoveAll(final); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(final), 0o700); err != nil {
		return err
	}
	if err := os.Rename(work, final); err != nil {
		return err
	}
	return syncDir(filepath.Dir(final))
}

// linkOrCopy hard-links src to dst, or copies it when they are on two
// filesystems (or the filesystem has no links).
// src must be a regular file (a link or a FIFO in a part's state is refused,
// never linked into this state nor read).
func linkOrCopy(src, dst string) error {
	in, err := safefs.OpenRegularNoFollow(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.Link(src, dst); err == nil {
		if fi, err := os.Lstat(dst); err == nil && fi.Mode().IsRegular() {
			return nil
		}
		os.Remove(dst) // replaced between the check and the link: copy what was opened
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
