package pipeline

import (
	"errors"
	"io"
)

// RemovedIter yields the local projects (rows of the projects manifest, in
// normalized order) that are to be removed: those whose normalized name
// upstream (sorted) lacks, and those a sorted list of excluded names holds.
type RemovedIter struct {
	projects *orderedStream
	upstream *orderedStream // nil: upstream was not scanned
	excluded *orderedStream // nil: no project is excluded
	started  bool
	Local    int64 // local projects seen so far
	Excluded int64 // removed projects that were excluded (and maybe also gone upstream)
}

// DesignatedStream names the designated manifest in an *OrderError when it is
// out of project order (a plan that meets it sorts designated first).
const DesignatedStream = "designated (project order)"

// NewRemovedIter merges projects against upstream and excluded (sorted
// normalized names in column 0); either may be nil.
func NewRemovedIter(projects, upstream, excluded RowReader) *RemovedIter {
	it := &RemovedIter{projects: &orderedStream{name: "projects", r: normalizedFirst{projects}, allowEqual: true}}
	if upstream != nil {
		it.upstream = &orderedStream{name: "upstream", r: upstream}
	}
	if excluded != nil {
		it.excluded = &orderedStream{name: "excluded projects", r: excluded, allowEqual: true}
	}
	return it
}

// normalizedFirst presents projects rows with the normalized name as key (column 0).
type normalizedFirst struct{ r RowReader }

func (n normalizedFirst) Next() ([]string, error) {
	row, err := n.r.Next()
	if err != nil {
		return nil, err
	}
	return []string{row[1], row[0], row[2]}, nil
}
func (n normalizedFirst) Close() error { return n.r.Close() }

// Next returns the next removed project as (normalized, project, metadata_path), or io.EOF.
func (it *RemovedIter) Next() ([]string, error) {
	if !it.started {
		it.started = true
		for _, s := range []*orderedStream{it.projects, it.upstream, it.excluded} {
			if s == nil {
				continue
			}
			if err := s.advance(); err != nil {
				return nil, err
			}
		}
	}
	for !it.projects.eof {
		p := it.projects.row
		gone, excluded := false, false
		if it.upstream != nil {
			if err := it.upstream.skipBelow(p[0]); err != nil {
				return nil, err
			}
			gone = it.upstream.eof || it.upstream.row[0] != p[0]
		}
		if it.excluded != nil {
			if err := it.excluded.skipBelow(p[0]); err != nil {
				return nil, err
			}
			excluded = !it.excluded.eof && it.excluded.row[0] == p[0]
		}
		it.Local++
		out := []string{p[0], p[1], p[2]}
		if err := it.projects.advance(); err != nil {
			return nil, err
		}
		if (gone || excluded) && p[0] != "" {
			if excluded {
				it.Excluded++
			}
			return out, nil
		}
	}
	return nil, io.EOF
}

// skipBelow advances past every row whose key sorts before key.
func (s *orderedStream) skipBelow(key string) error {
	for !s.eof && s.row[0] < key {
		if err := s.advance(); err != nil {
			return err
		}
	}
	return nil
}

// Close closes every input.
func (it *RemovedIter) Close() error {
	errs := []error{it.projects.r.Close()}
	for _, s := range []*orderedStream{it.upstream, it.excluded} {
		if s != nil {
			errs = append(errs, s.r.Close())
		}
	}
	return errors.Join(errs...)
}

// TagRemoved reads designated rows (project,path,size,sha256,url,upload_time,md5)
// in project order and a sorted list of removed normalized names, and calls
// fn with each row in the DPath…DRemoved layout Join reads.
func TagRemoved(designated RowReader, removed func() (string, error), fn func(row []string) error) error {
	d := &orderedStream{name: DesignatedStream, r: &projectFirst{r: designated}, allowEqual: true}
	next, err := removed()
	if err == io.EOF {
		next = ""
	} else if err != nil {
		return err
	}
	more := next != ""
	out := make([]string, DColumns)
	for {
		if err := d.advance(); err != nil {
			return err
		}
		if d.eof {
			return nil
		}
		project := d.row[0]
		for more && next < project {
			if next, err = removed(); err == io.EOF {
				more = false
			} else if err != nil {
				return err
			}
		}
		r := d.row
		out[DPath], out[DSize], out[DSHA256], out[DURL], out[DUploadTime] = r[1], r[3], r[4], r[5], r[6]
		out[DMD5] = r[7]
		out[DRemoved] = ""
		if more && next == project {
			out[DRemoved] = "1"
		}
		if err := fn(out); err != nil {
			return err
		}
	}
}

// projectFirst presents designated rows with the project as key (column 0).
type projectFirst struct {
	r   RowReader
	buf [8]string
}

func (p *projectFirst) Next() ([]string, error) {
	row, err := p.r.Next()
	if err != nil {
		return nil, err
	}
	md5 := ""
	if len(row) > 6 {
		md5 = row[6]
	}
	p.buf = [8]string{row[1], row[0], row[1], row[2], row[3], row[4], row[5], md5}
	return p.buf[:], nil
}
func (p *projectFirst) Close() error { return p.r.Close() }
