package pipeline

import (
	"bufio"
	"errors"
	"fmt"
	"github.com/bandercheck/bandercheck/internal/safefs"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// RowReader streams rows one at a time.
type RowReader interface {
	// Next returns the next row, or io.EOF after the last. The slice is valid
	// until the following call.
	Next() ([]string, error)
	Close() error
}

// ManifestReader streams the committed shards of a manifest in order.
type ManifestReader struct {
	name    string
	dir     string
	columns []string
	shards  []ShardInfo
	next    int
	f       *os.File
	zr      *zstd.Decoder
	br      *bufio.Reader // reset onto each shard's file
	cr      *csvReader
	shard   string
	rows    int
}

// Manifest opens manifest name (e.g. "designated", "plan/delete") of STATE.
// Only shards recorded in _stage.json are read, so a manifest can be read
// while its stage is still running.
func (s *State) Manifest(name string) (*ManifestReader, error) {
	spec, err := SpecOf(name)
	if err != nil {
		return nil, err
	}
	sf, err := s.StageFile(name)
	if errors.Is(err, os.ErrNotExist) {
		return nil, &UsageError{Msg: fmt.Sprintf("manifest %s does not exist in %s yet: run the stage that writes it first", name, s.dir)}
	}
	if err != nil {
		return nil, err
	}
	return &ManifestReader{
		name: name, dir: s.path(name),
		columns: spec.Columns, shards: sf.Shards,
	}, nil
}

// Columns returns the manifest's header.
func (r *ManifestReader) Columns() []string { return r.columns }

// Next implements RowReader.
func (r *ManifestReader) Next() ([]string, error) {
	for {
		if r.cr == nil {
			if r.next >= len(r.shards) {
				return nil, io.EOF
			}
			if err := r.openShard(r.shards[r.next]); err != nil {
				return nil, err
			}
			r.next++
		}
		row, err := r.cr.Read()
		if err == io.EOF {
			want := r.shards[r.next-1].Rows
			if r.rows != want {
				return nil, r.damaged(fmt.Errorf("%d rows, _stage.json records %d", r.rows, want))
			}
			if err := r.closeShard(); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil {
			return nil, r.damaged(err)
		}
		r.rows++
		return row, nil
	}
}

func (r *ManifestReader) openShard(sh ShardInfo) error {
	r.shard = filepath.Join(r.dir, sh.File)
	f, err := safefs.OpenRegularNoFollow(r.shard) // a FIFO or a link is refused, not waited on

	if err != nil {
		return fmt.Errorf("manifest %s: %w (the state is damaged: %s)", r.name, err, RerunAdvice(r.name))
	}
	// one read buffer for every shard: a manifest of many small shards
	// (tests write 19 rows a shard) would otherwise allocate 128 KiB each
	if r.br == nil {
		r.br = bufio.NewReaderSize(f, 128<<10)
	} else {
		r.br.Reset(f)
	}
	zr, err := getDecoder(r.br)
	if err != nil {
		f.Close()
		return r.damaged(err)
	}
	r.f, r.zr, r.rows = f, zr, 0
	r.cr = newCSVReader(zr, len(r.columns))
	header, err := r.cr.Read()
	if err != nil {
		return r.damaged(fmt.Errorf("header: %w", err))
	}
	if !slices.Equal(header, r.columns) {
		return r.damaged(fmt.Errorf("header %v, want %v", header, r.columns))
	}
	return nil
}

func (r *ManifestReader) damaged(err error) error {
	return fmt.Errorf("manifest %s: shard %s is damaged: %w; %s", r.name, r.shard, err, RerunAdvice(r.name))
}

// RerunAdvice says which command writes manifest name anew.
func RerunAdvice(name string) string {
	switch {
	case strings.HasPrefix(name, "plan/"):
		return "run bandercheck plan again"
	case strings.HasPrefix(name, "applied/"):
		return "run bandercheck apply --fresh"
	case name == "storage" || name == "problems/storage":
		return "run bandercheck scan storage --fresh"
	case name == "projects" || name == "designated" || name == "problems/metadata":
		return "run bandercheck scan metadata --fresh"
	case name == "upstream":
		return "run bandercheck scan upstream again"
	}
	return "start over with bandercheck run --fresh"
}

func (r *ManifestReader) closeShard() error {
	if r.cr == nil {
		return nil
	}
	putDecoder(r.zr)
	err := r.f.Close()
	r.cr, r.zr, r.f = nil, nil, nil
	return err
}

// Close implements RowReader.
func (r *ManifestReader) Close() error { return r.closeShard() }

// Shards returns the committed shards the reader will read.
func (r *ManifestReader) Shards() []ShardInfo { return r.shards }

// ReadShard reads every row of shard i (0-based) into memory; a shard holds
// at most ShardRows rows unless one unit was larger.
func (r *ManifestReader) ReadShard(i int) ([][]string, error) {
	if err := r.closeShard(); err != nil {
		return nil, err
	}
	if err := r.openShard(r.shards[i]); err != nil {
		return nil, err
	}
	r.next = i + 1
	var rows [][]string
	for {
		row, err := r.cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, errors.Join(r.damaged(err), r.closeShard())
		}
		rows = append(rows, slices.Clone(row))
	}
	if len(rows) != r.shards[i].Rows {
		return nil, errors.Join(r.damaged(fmt.Errorf("%d rows, _stage.json records %d", len(rows), r.shards[i].Rows)), r.closeShard())
	}
	return rows, r.closeShard()
}

// EachRow calls fn with every row of manifest name of STATE, in order.
func (s *State) EachRow(name string, fn func(row []string) error) error {
	r, err := s.Manifest(name)
	if err != nil {
		return err
	}
	defer r.Close()
	for {
		row, err := r.Next()
		if err == io.EOF {
			return nil
		}
		if err == nil {
			err = fn(row)
		}
		if err != nil {
			return err
		}
	}
}
