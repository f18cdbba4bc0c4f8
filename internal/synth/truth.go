package synth

// Defect is one planted difference between the bucket and the documents.
type Defect struct {
	Kind    string // missing, orphan, size-mismatch, hash-mismatch, removed-project
	Path    string // relative to the mirror root; the normalized name for removed-project
	Project string // the owning project, normalized
}

// Defects calls fn with every planted defect, project by project: release
// files (and the .metadata beside a missing or orphan wheel) and the
// projects upstream no longer lists.
func (m *Mirror) Defects(fn func(Defect) error) error {
	for i := range m.names {
		if m.removed(i) {
			if err := fn(Defect{Kind: "removed-project", Path: m.norms[i], Project: m.norms[i]}); err != nil {
				return err
			}
		}
		for p := m.start[i]; p < m.start[i+1]; p++ {
			f := m.fileAt(p)
			if !f.present || f.defect == DefectNone {
				continue
			}
			d := Defect{Kind: defectNames[f.defect], Path: "web/" + m.relPath(f), Project: m.norms[i]}
			if err := fn(d); err != nil {
				return err
			}
			if f.meta && (f.defect == DefectMissing || f.defect == DefectOrphan) {
				d.Path += ".metadata"
				if err := fn(d); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// Summary counts what the mirror holds at its night.
type Summary struct {
	Projects, Removed, Changed int
	Designated, Stored         int64 // release and .metadata files
	StoredBytes                int64
	MaxFiles                   int // files of the largest project
	Defects                    map[string]int64
}

// Summarize walks every slot: about 1 µs a file.
func (m *Mirror) Summarize() Summary {
	s := Summary{Projects: len(m.names), Defects: map[string]int64{}}
	for i := range m.names {
		if m.removed(i) {
			s.Removed++
		}
		if m.Changed(i) {
			s.Changed++
		}
		files := 0
		for p := m.start[i]; p < m.start[i+1]; p++ {
			f := m.fileAt(p)
			n := int64(1)
			if f.meta {
				n = 2
			}
			if f.designated() {
				s.Designated += n
				files++
			}
			if f.inBucket() {
				s.Stored += n
				s.StoredBytes += f.stored.size
				if f.meta {
					s.StoredBytes += f.metaObject().size
				}
			}
			if f.present && f.defect != DefectNone {
				s.Defects[defectNames[f.defect]]++
			}
		}
		s.MaxFiles = max(s.MaxFiles, files)
	}
	return s
}

// Keys calls fn with every key of the bucket, in byte order (for tests).
func (m *Mirror) Keys(fn func(key string) error) error {
	c := m.newCursor()
	c.seek("")
	for {
		s, e := c.least()
		if s == nil {
			return nil
		}
		if err := fn(e.key); err != nil {
			return err
		}
		s.next()
	}
}
