package stages

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/bandercheck/bandercheck/internal/safefs"
	"github.com/bandercheck/bandercheck/pipeline"
)

// The project folders under web/simple, as the last root index was written
// from them, are kept in STATE (sync/folders, one name a line, in the root
// index's order) with the state of web/simple's own inode when they were
// recorded (sync/folders.json). A later sync takes the mirror's projects
// from there instead of listing web/simple, while that inode is unchanged:
// a folder made, removed or renamed in web/simple (by bandersnatch, by
// `run`, by hand, or by this sync's new projects) changes its mtime and
// ctime (and, made or removed, its link count), and the sync lists the
// folder as before. Only a POSIX mirror without hash-index keeps the record
// (an S3 prefix has no such stamp; hash-index would need one a hash folder).
const (
	foldersFile   = "sync/folders"
	foldersRecord = "sync/folders.json"

	// maxFoldersRecord bounds what is read of sync/folders.json (a few
	// hundred bytes when it is ours).
	maxFoldersRecord = 64 << 10
)

// simpleListings counts the listings of web/simple's project folders (for
// the tests: a sync that trusts its record lists none).
var simpleListings atomic.Int64

// folderStamp is what stat says of web/simple: any entry made, removed or
// renamed in it changes it.
type folderStamp struct {
	Dev   uint64 `json:"dev"`
	Ino   uint64 `json:"ino"`
	Nlink uint64 `json:"nlink"`
	Mtime int64  `json:"mtime_ns"`
	Ctime int64  `json:"ctime_ns"`
}

// foldersHeader is sync/folders.json.
type foldersHeader struct {
	Mirror string      `json:"mirror"` // the mirror's absolute folder
	Stamp  folderStamp `json:"stamp"`
	Count  int64       `json:"count"`  // names in sync/folders
	SHA256 string      `json:"sha256"` // of sync/folders
}

// simpleStamp stats web/simple; ok is false where no record is kept (S3,
// hash-index) or web/simple is not a folder.
func (se *syncEnv) simpleStamp() (folderStamp, bool) {
	if se.linkRoot == "" || se.conf.HashIndex || se.conf.S3 {
		return folderStamp{}, false
	}
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(se.linkRoot, "web", "simple"), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return folderStamp{}, false
	}
	return folderStamp{Dev: uint64(st.Dev), Ino: uint64(st.Ino), Nlink: uint64(st.Nlink),
		Mtime: st.Mtim.Nano(), Ctime: st.Ctim.Nano()}, true
}

// recordedFolders opens sync/folders when its record still describes
// web/simple: the same mirror, web/simple unchanged since it was recorded,
// and the names file whole. Otherwise nil (list the folder).
func (se *syncEnv) recordedFolders() *folderRows {
	now, ok := se.simpleStamp()
	if !ok {
		return nil
	}
	// Our own files: a link is not followed, a FIFO not waited on, and
	// anything amiss means "list web/simple", as a missing record does.
	b, err := safefs.ReadRegularNoFollow(filepath.Join(se.g.State, foldersRecord), maxFoldersRecord)
	if err != nil {
		return nil
	}
	var h foldersHeader
	if json.Unmarshal(b, &h) != nil || h.Mirror != se.linkRoot || h.Stamp != now {
		return nil
	}
	f, err := safefs.OpenRegularNoFollow(filepath.Join(se.g.State, foldersFile))
	if err != nil {
		return nil
	}
	sum := sha256.New()
	if _, err := io.Copy(sum, f); err != nil || hex.EncodeToString(sum.Sum(nil)) != h.SHA256 {
		f.Close()
		return nil
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil
	}
	return &folderRows{f: f, r: bufio.NewReaderSize(f, 64<<10), want: h.Count, sum: h.SHA256}
}

// folderRows reads sync/folders as rows of one field.
type folderRows struct {
	f    *os.File
	r    *bufio.Reader
	row  [1]string
	n    int64
	want int64  // the record's count
	sum  string // the record's sha256
}

func (fr *folderRows) Next() ([]string, error) {
	line, err := fr.r.ReadString('\n')
	if err == io.EOF && line == "" {
		if fr.n != fr.want {
			return nil, fmt.Errorf("%s: %d names, its record says %d", foldersFile, fr.n, fr.want)
		}
		return nil, io.EOF
	}
	if err != nil && err != io.EOF {
		return nil, fmt.Errorf("read %s: %w", foldersFile, err)
	}
	fr.n++
	fr.row[0] = strings.TrimSuffix(line, "\n")
	return fr.row[:], nil
}

// next yields the names as rootIndexDirs' next does.
func (fr *folderRows) next() (string, error) {
	row, err := fr.Next()
	if err != nil {
		return "", err
	}
	return row[0], nil
}

func (fr *folderRows) Close() error { return fr.f.Close() }

// folderRecorder copies the names the root index is written from into
// sync/folders' next version.
type folderRecorder struct {
	f   *os.File
	w   *bufio.Writer
	sum hash.Hash
	n   int64
	bad bool // a name the one-a-line file cannot hold: keep no record
}

// newFolderRecorder starts the next sync/folders; the current record is
// removed first, so a kill before saveFolders leaves none.
func (se *syncEnv) newFolderRecorder() (*folderRecorder, error) {
	if err := se.dropFolders(); err != nil {
		return nil, err
	}
	f, err := safefs.CreateFresh(filepath.Join(se.g.State, foldersFile+".tmp"))
	if err != nil {
		return nil, fmt.Errorf("record the mirror's project folders: %w", err)
	}
	rec := &folderRecorder{f: f, sum: sha256.New()}
	rec.w = bufio.NewWriterSize(io.MultiWriter(f, rec.sum), 64<<10)
	return rec, nil
}

// tee passes next's names on, recording each.
func (rec *folderRecorder) tee(next func() (string, error)) func() (string, error) {
	return func() (string, error) {
		d, err := next()
		if err == nil {
			rec.add(d)
		}
		return d, err
	}
}

// add records one name.
func (rec *folderRecorder) add(d string) {
	rec.bad = rec.bad || strings.ContainsAny(d, "\n\r")
	rec.w.WriteString(d)
	rec.w.WriteByte('\n')
	rec.n++
}

// teeRows passes local's rows (one name each, in byte order and once each,
// as localProjects yields them) on, recording each name.
func (rec *folderRecorder) teeRows(local pipeline.RowReader) pipeline.RowReader {
	return &teeRows{RowReader: local, rec: rec}
}

type teeRows struct {
	pipeline.RowReader
	rec *folderRecorder
}

func (t *teeRows) Next() ([]string, error) {
	row, err := t.RowReader.Next()
	if err == nil {
		t.rec.add(row[0])
	}
	return row, err
}

// dropFolders removes the record: the next sync lists web/simple.
func (se *syncEnv) dropFolders() error {
	err := os.Remove(filepath.Join(se.g.State, foldersRecord))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("drop the record of the mirror's project folders: %w", err)
	}
	return nil
}

// saveFolders records the names rec copied (or, with rec nil, keeps the
// names file as it is: the root index was written from it) with
// web/simple's stamp now, after the root index pages went in. Where no
// stamp can be taken, no record is kept.
func (se *syncEnv) saveFolders(ctx context.Context, rec *folderRecorder, count int64, sum string) error {
	if rec != nil {
		var err error
		if count, sum, err = rec.commit(se.g.State); err != nil || rec.bad {
			return err
		}
	}
	stamp, ok := se.simpleStamp()
	if !ok || ctx.Err() != nil {
		return se.dropFolders()
	}
	return se.writeFoldersRecord(stamp, count, sum)
}

// saveFoldersListed records the names rec copied from a listing of
// web/simple begun when its stamp was before: only while web/simple still
// has that stamp (nothing was made, removed or renamed in it since), so
// the record never misses what changed during the listing.
func (se *syncEnv) saveFoldersListed(ctx context.Context, rec *folderRecorder, before folderStamp) error {
	count, sum, err := rec.commit(se.g.State)
	if err != nil || rec.bad {
		return err
	}
	if now, ok := se.simpleStamp(); !ok || now != before || ctx.Err() != nil {
		return se.dropFolders()
	}
	return se.writeFoldersRecord(before, count, sum)
}

// commit puts the names rec copied in place as sync/folders; with a name
// the file cannot hold (rec.bad) it is discarded instead.
func (rec *folderRecorder) commit(state string) (count int64, sum string, err error) {
	err = errors.Join(rec.w.Flush(), rec.f.Close())
	tmp := rec.f.Name()
	if err != nil || rec.bad {
		_ = os.Remove(tmp)
		return 0, "", err
	}
	if err := os.Rename(tmp, filepath.Join(state, foldersFile)); err != nil {
		return 0, "", fmt.Errorf("record the mirror's project folders: %w", err)
	}
	return rec.n, hex.EncodeToString(rec.sum.Sum(nil)), nil
}

// writeFoldersRecord writes sync/folders.json: sync/folders (count names,
// sha256 sum) describes web/simple while it has stamp.
func (se *syncEnv) writeFoldersRecord(stamp folderStamp, count int64, sum string) error {
	b, err := json.MarshalIndent(foldersHeader{Mirror: se.linkRoot, Stamp: stamp, Count: count, SHA256: sum}, "", "  ")
	if err != nil {
		return err
	}
	if err := pipeline.WriteFileAtomic(filepath.Join(se.g.State, foldersRecord), append(b, '\n')); err != nil {
		return fmt.Errorf("record the mirror's project folders: %w", err)
	}
	return nil
}

// abort discards a recording not saved.
func (rec *folderRecorder) abort() {
	if rec != nil {
		rec.f.Close()
		_ = os.Remove(rec.f.Name())
	}
}
