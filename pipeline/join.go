package pipeline

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Plan reasons.
const (
	ReasonMissing        = "missing"
	ReasonSizeMismatch   = "size-mismatch"
	ReasonHashMismatch   = "hash-mismatch"
	ReasonUnowned        = "unowned"
	ReasonProjectRemoved = "project-removed"
)

// Columns of the path-sorted designated stream that Join reads.
const (
	DPath = iota
	DSize
	DSHA256
	DURL
	DRemoved    // "1" when every project naming the file was removed upstream
	DUploadTime // RFC 3339, may be empty
	DMD5        // upstream's MD5 in hex, or "" (simple pages give none)
	DColumns
)

// Download is one planned download, a row of plan/download.
type Download struct {
	Path, URL, Size, SHA256, Reason, UploadTime string
}

// Row is the download as plan/download's columns.
func (d Download) Row() []string {
	return []string{d.Path, d.URL, d.Size, d.SHA256, d.Reason, d.UploadTime}
}

// Planner receives Join's decisions in path order.
type Planner interface {
	Download(d Download) error
	Delete(path, size, reason string) error
}

// Tally counts files and bytes.
type Tally struct {
	Files int64 `json:"files"`
	Bytes int64 `json:"bytes"`
}

// Total adds up the tallies of every reason.
func Total(m map[string]*Tally) Tally {
	var sum Tally
	for _, t := range m {
		sum.Files += t.Files
		sum.Bytes += t.Bytes
	}
	return sum
}

func (t *Tally) add(size string) {
	t.Files++
	if n, err := strconv.ParseInt(size, 10, 64); err == nil {
		t.Bytes += n
	}
}

// JoinSummary counts what Join decided, per action and reason.
type JoinSummary struct {
	Download   map[string]*Tally `json:"download"`
	Delete     map[string]*Tally `json:"delete"`
	HeldBack   map[string]*Tally `json:"held_back"`
	Stored     Tally             `json:"stored"`
	Designated Tally             `json:"designated"`
	Duplicates int64             `json:"duplicate_designated_rows"`
	// Proven counts the designated files found in storage with the right
	// size by how their content was proven: "etag", "metadata", "content"
	// (read by the scan, or to confirm an ETag mismatch) or "size" (nothing
	// but the size: no digest to compare).
	Proven map[string]int64 `json:"proven,omitempty"`
	// ProvenBytes is the bytes of the files Proven counts, by the same keys.
	ProvenBytes map[string]int64 `json:"proven_bytes,omitempty"`
	// ETagMismatches counts the ETag mismatches read to confirm them:
	// "confirmed" (planned as hash-mismatch) or "refuted" (the bytes were right).
	ETagMismatches map[string]int64 `json:"etag_mismatches,omitempty"`
}

func newJoinSummary() *JoinSummary {
	return &JoinSummary{Download: map[string]*Tally{}, Delete: map[string]*Tally{}, HeldBack: map[string]*Tally{}, Proven: map[string]int64{}, ProvenBytes: map[string]int64{}, ETagMismatches: map[string]int64{}}
}

// prove counts a stored designated file of size bytes as proven by how.
func (s *JoinSummary) prove(how, size string) {
	s.Proven[how]++
	if n, err := strconv.ParseInt(size, 10, 64); err == nil {
		s.ProvenBytes[how] += n
	}
}

func (s *JoinSummary) count(m map[string]*Tally, reason, size string) {
	t := m[reason]
	if t == nil {
		t = &Tally{}
		m[reason] = t
	}
	t.add(size)
}

// orderedStream checks that keys (column 0) strictly increase, or with
// allowEqual never decrease.
type orderedStream struct {
	name       string
	r          RowReader
	row        []string
	prev       string
	n          int64
	allowEqual bool
	eof        bool
}

func (s *orderedStream) advance() error {
	if s.eof {
		return nil
	}
	row, err := s.r.Next()
	if err == io.EOF {
		s.eof, s.row = true, nil
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", s.name, err)
	}
	s.n++
	key := row[0]
	if s.n > 1 && (key < s.prev || key == s.prev && !s.allowEqual) {
		return &OrderError{Stream: s.name, Row: s.n, Prev: s.prev, Key: key}
	}
	s.prev = key
	s.row = row
	return nil
}

// designatedFile is one path after merging duplicate designated rows.
type designatedFile struct {
	path, size, sha256, url, uploaded, md5 string
	owned                                  bool // some live project names it
}

// md5Of is a designated row's MD5, "" for a row without that column.
func md5Of(r []string) string {
	if len(r) > DMD5 {
		return r[DMD5]
	}
	return ""
}

// nextDesignated merges the rows of one path: owned wins, and the first live
// row gives size, digest and URL.
func nextDesignated(d *orderedStream, sum *JoinSummary) (designatedFile, bool, error) {
	if d.eof {
		return designatedFile{}, false, nil
	}
	r := d.row
	f := designatedFile{path: r[DPath], size: r[DSize], sha256: r[DSHA256], url: r[DURL], uploaded: r[DUploadTime], md5: md5Of(r), owned: r[DRemoved] != "1"}
	for {
		if err := d.advance(); err != nil {
			return f, false, err
		}
		if d.eof || d.row[DPath] != f.path {
			return f, true, nil
		}
		sum.Duplicates++
		if !f.owned && d.row[DRemoved] != "1" {
			r := d.row
			f = designatedFile{path: f.path, size: r[DSize], sha256: r[DSHA256], url: r[DURL], uploaded: r[DUploadTime], md5: md5Of(r), owned: true}
		}
	}
}

// Join merges path-sorted storage rows (path,size,modified,sha256) with
// path-sorted designated rows (DPath…DRemoved) and tells p what to download
// and delete. Files modified after cutoff are never deleted; they are counted
// as held back. Both streams are checked for order; an *OrderError names the
// stream and row.
func Join(storage, designated RowReader, cutoff time.Time, p Planner) (*JoinSummary, error) {
	sum := newJoinSummary()
	st := &orderedStream{name: "storage", r: storage}
	ds := &orderedStream{name: "designated", r: designated, allowEqual: true}
	if err := st.advance(); err != nil {
		return sum, err
	}
	if err := ds.advance(); err != nil {
		return sum, err
	}
	d, haveD, err := nextDesignated(ds, sum)
	if err != nil {
		return sum, err
	}
	q := &planQueue{p: p, sum: sum}
	defer q.stop()
	for haveD || !st.eof {
		switch {
		case !st.eof && (!haveD || st.row[0] < d.path): // stored, not designated
			if err := deleteFile(st.row, ReasonUnowned, cutoff, q, sum); err != nil {
				return sum, err
			}
			sum.Stored.add(st.row[1])
			if err := st.advance(); err != nil {
				return sum, err
			}
			continue
		case st.eof || d.path < st.row[0]: // designated, not stored
			if d.owned {
				sum.Designated.add(d.size)
				if err := q.add(d, ReasonMissing); err != nil {
					return sum, err
				}
			}
		default: // both
			sum.Stored.add(st.row[1])
			if !d.owned {
				if err := deleteFile(st.row, ReasonProjectRemoved, cutoff, q, sum); err != nil {
					return sum, err
				}
			} else {
				sum.Designated.add(d.size)
				reason, confirm := compare(st.row, d, p, sum)
				switch {
				case confirm != nil:
					if err := q.confirm(d, st.row[StorageSize], confirm); err != nil {
						return sum, err
					}
				case reason != "":
					if err := q.add(d, reason); err != nil {
						return sum, err
					}
				}
			}
			if err := st.advance(); err != nil {
				return sum, err
			}
		}
		if d, haveD, err = nextDesignated(ds, sum); err != nil {
			return sum, err
		}
	}
	return sum, q.drain()
}

// compare decides whether a stored file (its storage row) is what d
// designates, and counts how that was proven: "" when it is, else the reason
// to download it again. A file the scan proved by its ETag is compared by
// the designated md5; a mismatch is to be confirmed by reading it (the
// Confirmer returned) before it is planned, which Join does in the
// background.
func compare(row []string, d designatedFile, p Planner, sum *JoinSummary) (string, Confirmer) {
	if d.size != "" && d.size != row[StorageSize] {
		return ReasonSizeMismatch, nil
	}
	verified := ""
	if len(row) > StorageVerified {
		verified = row[StorageVerified]
	}
	plainSHA := d.sha256 != "" && !strings.Contains(d.sha256, ":") // (a digest of another algorithm, "md5:…", is checked when downloaded)
	switch {
	case plainSHA && row[StorageSHA256] != "":
		if verified == "" || verified == VerifiedETag {
			verified = VerifiedContent
		}
		sum.prove(verified, row[StorageSize])
		if d.sha256 != row[StorageSHA256] {
			return ReasonHashMismatch, nil
		}
	case verified == VerifiedETag && d.md5 != "":
		if ETagMatches(row[StorageETag], d.md5) {
			sum.prove(VerifiedETag, row[StorageSize])
			return "", nil
		}
		c, ok := p.(Confirmer)
		if !ok || !plainSHA {
			sum.prove(ProvenBySize, row[StorageSize]) // an ETag alone never plans a download
			return "", nil
		}
		return "", c
	default:
		sum.prove(ProvenBySize, row[StorageSize])
	}
	return "", nil
}

func deleteFile(row []string, reason string, cutoff time.Time, q *planQueue, sum *JoinSummary) error {
	mod, err := time.Parse(time.RFC3339, row[2])
	if err != nil || mod.After(cutoff) {
		sum.count(sum.HeldBack, "grace:"+reason, row[1])
		return nil
	}
	sum.count(sum.Delete, reason, row[1])
	return q.del(row[0], row[1], reason)
}

// confirmWorkers is how many ETag mismatches Join confirms at once.
const confirmWorkers = 32

// maxQueued is how many decisions may wait behind a confirmation before
// Join waits for it.
const maxQueued = 4096

// planQueue hands Join's decisions to the planner in join order (path
// order), while the ETag mismatches among them are confirmed concurrently:
// a download or delete waits in the queue behind any confirmation before it.
// With no confirmation in flight a decision goes straight through. So the
// planner sees the same sequence however long a confirmation takes, and
// where the plan's shards are cut does not depend on timing (a delete that
// overtook a waiting download moved the cut of plan/download).
type planQueue struct {
	p     Planner
	sum   *JoinSummary
	queue []*queued
	slots chan struct{}
}

// queued is one decision: a download, a delete, or a confirmation whose
// result decides a download.
type queued struct {
	d       designatedFile // a download's or confirmation's file; a delete's path
	size    string         // the stored size (a confirmation's: proven by content; a delete's)
	reason  string         // a download or delete for this reason, when done is nil
	done    chan struct{}  // closed when the confirmation ended
	bad     bool
	err     error
	confirm bool
	del     bool // a delete of d.path
}

func (q *planQueue) add(d designatedFile, reason string) error {
	if len(q.queue) == 0 {
		return q.plan(d, reason)
	}
	q.queue = append(q.queue, &queued{d: d, reason: reason})
	return q.flush(false)
}

// del plans a delete of path, behind any confirmation before it.
func (q *planQueue) del(path, size, reason string) error {
	if len(q.queue) == 0 {
		return q.p.Delete(path, size, reason)
	}
	q.queue = append(q.queue, &queued{d: designatedFile{path: path}, size: size, reason: reason, del: true})
	return q.flush(false)
}

func (q *planQueue) confirm(d designatedFile, size string, c Confirmer) error {
	if q.slots == nil {
		q.slots = make(chan struct{}, confirmWorkers)
	}
	it := &queued{d: d, size: size, done: make(chan struct{}), confirm: true}
	q.slots <- struct{}{}
	go func() {
		defer func() { <-q.slots; close(it.done) }()
		it.bad, it.err = c.ConfirmMismatch(d.path, d.sha256)
	}()
	q.queue = append(q.queue, it)
	return q.flush(false)
}

// flush plans the decisions at the head of the queue whose confirmations
// ended; with wait, or with more than maxQueued waiting, it waits for them.
func (q *planQueue) flush(wait bool) error {
	for len(q.queue) > 0 {
		it := q.queue[0]
		if it.confirm {
			if !wait && len(q.queue) <= maxQueued {
				select {
				case <-it.done:
				default:
					return nil
				}
			}
			<-it.done
		}
		q.queue = q.queue[1:]
		if err := q.resolve(it); err != nil {
			return err
		}
	}
	return nil
}

// resolve counts a confirmation's result and plans what is to download,
// or plans a queued download or delete.
func (q *planQueue) resolve(it *queued) error {
	switch {
	case it.del:
		return q.p.Delete(it.d.path, it.size, it.reason)
	case !it.confirm:
		return q.plan(it.d, it.reason)
	}
	if it.err != nil {
		return it.err
	}
	q.sum.prove(VerifiedContent, it.size)
	if !it.bad {
		q.sum.ETagMismatches["refuted"]++
		return nil
	}
	q.sum.ETagMismatches["confirmed"]++
	return q.plan(it.d, ReasonHashMismatch)
}

func (q *planQueue) plan(d designatedFile, reason string) error {
	q.sum.count(q.sum.Download, reason, d.size)
	return q.p.Download(Download{Path: d.path, URL: d.url, Size: d.size, SHA256: d.sha256, Reason: reason, UploadTime: d.uploaded})
}

// drain waits for every confirmation and plans what is left.
func (q *planQueue) drain() error { return q.flush(true) }

// stop waits for the confirmations in flight when Join returns early.
func (q *planQueue) stop() {
	for _, it := range q.queue {
		if it.confirm {
			<-it.done
		}
	}
	q.queue = nil
}
