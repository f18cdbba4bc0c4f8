package synth

import (
	"bytes"
	"io"
	"strconv"
	"time"
)

// Info describes a stored object as S3 does.
type Info struct {
	Size     int64
	ETag     string // quoted
	Modified time.Time
	SHA256   string // bandersnatch's sha256 metadata (release files)
	Uploaded int64  // bandersnatch's uploaded-at metadata (release files)
}

// info describes an entry; withSHA adds the sha256 metadata (HEAD, GET).
func (m *Mirror) info(e entry, withSHA bool) Info {
	switch e.kind {
	case entPackage:
		o := e.f.stored
		if e.sub == 1 {
			o = e.f.metaObject()
		}
		sha, md := m.digestsWant(o, withSHA, true)
		return Info{Size: o.size, ETag: `"` + md + `"`, Modified: e.f.uploaded, SHA256: sha, Uploaded: e.f.uploaded.Unix()}
	case entJSON, entPyPI, entSimple:
		kind := docJSON
		if e.kind == entSimple {
			kind = e.sub
		}
		return Info{Size: m.docSize(e.i, kind), ETag: m.docETag(e.i, kind), Modified: m.docTime(e.i)}
	case entRootIndex:
		return Info{Size: m.rootSize(e.i), ETag: m.docETag(0, docKinds+e.i), Modified: nightTime(m.cfg.Night)}
	}
	body := m.statusBody()
	return Info{Size: int64(len(body)), ETag: m.docETag(0, docKinds+2), Modified: nightTime(m.cfg.Night)}
}

// docTime is when project i's documents were last written.
func (m *Mirror) docTime(i int) time.Time {
	if n := m.changeNights(i, m.cfg.Night); len(n) > 0 {
		return nightTime(n[len(n)-1])
	}
	return BaseTime.Add(time.Duration(i) * 97 * time.Second)
}

func (m *Mirror) statusBody() []byte { return strconv.AppendInt(nil, m.lastSerial(), 10) }

func (m *Mirror) rootSize(page int) int64 {
	if n := m.rootSizes[page].Load(); n != 0 {
		return n
	}
	n := int64(len(m.rootIndex(page == 1, false)))
	m.rootSizes[page].Store(n)
	return n
}

// body returns an entry's bytes as a seekable reader.
func (m *Mirror) body(e entry) io.ReadSeeker {
	switch e.kind {
	case entPackage:
		if e.sub == 1 {
			return m.newReader(e.f.metaObject())
		}
		return m.newReader(e.f.stored)
	case entJSON, entPyPI:
		return bytes.NewReader(m.document(e.i, docJSON, true))
	case entSimple:
		return bytes.NewReader(m.document(e.i, e.sub, true))
	case entRootIndex:
		return bytes.NewReader(m.rootIndex(e.i == 1, false))
	}
	return bytes.NewReader(m.statusBody())
}
