package pipeline

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"

	"github.com/bandercheck/bandercheck/internal/safefs"
)

// ShardJournalName is the name of a manifest's shard journal: one JSON
// object (a ShardInfo) a line, appended and synced at each commit. Only the
// first StageFile.Journal lines are committed: lines beyond (a kill between
// the append and the _stage.json write, or during the append) are ignored by
// readers and cut when the stage resumes. So a commit writes a constant
// number of bytes however many shards the manifest already has.
const ShardJournalName = "_shards.jsonl"

// stageOnDisk is what readStage found in a manifest's folder.
type stageOnDisk struct {
	file   StageFile
	legacy bool    // the shards are listed inside _stage.json (the format before the journal)
	ends   []int64 // ends[i]: the journal offset just past committed entry i
}

// readStage reads the _stage.json in dir, the folder of manifest, with the
// committed entries of its shard journal.
func readStage(dir, manifest string) (*stageOnDisk, error) {
	path := filepath.Join(dir, StageFileName)
	stageFileReads.Add(1)
	// a FIFO or link here is refused at once, never waited on or followed
	data, err := safefs.ReadRegularNoFollow(path, maxStageFile)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	d := &stageOnDisk{}
	if err := json.Unmarshal(data, &d.file); err != nil {
		return nil, fmt.Errorf("read %s: %w (the state file is damaged: %s)", path, err, RerunAdvice(manifest))
	}
	sf := &d.file
	switch {
	case len(sf.Shards) > 0: // written before the journal: the list is inside
		d.legacy = true
		sf.Journal = len(sf.Shards)
	case sf.Journal < 0:
		return nil, fmt.Errorf("read %s: journal count %d (the state file is damaged: %s)", path, sf.Journal, RerunAdvice(manifest))
	case sf.Journal > 0:
		jpath := filepath.Join(dir, ShardJournalName)
		sf.Shards, d.ends, err = readJournal(jpath, sf.Journal)
		if err != nil {
			// %v: a missing journal is damage, not a manifest never started
			return nil, fmt.Errorf("read %s: %v (%s records %d shards; the state is damaged: %s)", jpath, err, StageFileName, sf.Journal, RerunAdvice(manifest))
		}
	}
	return d, nil
}

// readJournal reads the first n entries of the journal at path, and where
// each ends.
func readJournal(path string, n int) ([]ShardInfo, []int64, error) {
	f, err := safefs.OpenRegularNoFollow(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	shards := make([]ShardInfo, 0, n)
	ends := make([]int64, 0, n)
	var off int64
	for len(shards) < n {
		line, err := br.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			return nil, nil, fmt.Errorf("%d complete entries", len(shards))
		}
		if err != nil {
			return nil, nil, err
		}
		off += int64(len(line))
		var sh ShardInfo
		if err := json.Unmarshal(line, &sh); err != nil {
			return nil, nil, fmt.Errorf("entry %d: %w", len(shards)+1, err)
		}
		shards = append(shards, sh)
		ends = append(ends, off)
	}
	return shards, ends, nil
}

// journalLines encodes shards as journal lines.
func journalLines(shards []ShardInfo) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b) // one object and a newline each
	for _, sh := range shards {
		if err := enc.Encode(sh); err != nil {
			return nil, err
		}
	}
	return b.Bytes(), nil
}

// appendJournal appends shards to the journal in dir and syncs it.
func appendJournal(dir string, shards ...ShardInfo) error {
	path := filepath.Join(dir, ShardJournalName)
	data, err := journalLines(shards)
	if err != nil {
		return fmt.Errorf("append %s: %w", path, err)
	}
	return appendFile(path, data)
}

// appendFile appends data to the file at path (which exists) and syncs it.
func appendFile(path string, data []byte) error {
	f, err := openJournal(path, os.O_WRONLY|os.O_APPEND)
	if err != nil {
		return fmt.Errorf("append %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("append %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("append %s: %w", path, err)
	}
	return f.Close()
}

// cutJournal cuts the journal in dir to size bytes (creating it empty when
// missing) and syncs it: entries past the committed ones are dropped.
func cutJournal(dir string, size int64) error {
	return cutFile(filepath.Join(dir, ShardJournalName), size)
}

// cutFile cuts the file at path to size bytes (creating it empty when
// missing) and syncs it and its folder.
func cutFile(path string, size int64) error {
	dir := filepath.Dir(path)
	f, err := openJournal(path, os.O_WRONLY|os.O_CREATE)
	if err != nil {
		return fmt.Errorf("cut %s: %w", path, err)
	}
	fi, err := f.Stat()
	if err == nil && fi.Size() != size {
		err = f.Truncate(size)
	}
	if err == nil {
		err = f.Sync()
	}
	if err = errors.Join(err, f.Close()); err != nil {
		return fmt.Errorf("cut %s: %w", path, err)
	}
	return syncDir(dir)
}

// writeStageSummary writes _stage.json in dir: sf without its shard list,
// which the journal holds, and the count of the journal's committed entries.
func writeStageSummary(dir string, sf *StageFile) error {
	disk := *sf
	disk.Shards, disk.Journal = nil, len(sf.Shards)
	return writeJSONAtomic(filepath.Join(dir, StageFileName), &disk)
}

// writeStageFull writes sf's whole journal (atomically, replacing any) and
// then its _stage.json: for a manifest written at once, or converted from
// the format that listed the shards in _stage.json. A kill between leaves
// the old _stage.json, which does not count on the new journal.
func writeStageFull(dir string, sf *StageFile) error {
	data, err := journalLines(sf.Shards)
	if err != nil {
		return fmt.Errorf("write %s: %w", filepath.Join(dir, ShardJournalName), err)
	}
	if err := WriteFileAtomic(filepath.Join(dir, ShardJournalName), data); err != nil {
		return err
	}
	return writeStageSummary(dir, sf)
}

// maxStageFile bounds a _stage.json read into memory: a journaled one is a
// few hundred bytes, one listing its shards itself about 250 bytes a shard.
const maxStageFile = 64 << 20

// openJournal opens the journal for writing as our own files are opened:
// never through a link, never waiting on a FIFO (O_NONBLOCK), and only a
// regular file.
func openJournal(path string, flag int) (*os.File, error) {
	f, err := os.OpenFile(path, flag|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0o600)
	if err != nil {
		return nil, err
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s is not a regular file: bandercheck writes only regular files in its state directory; remove it", path)
	}
	return f, nil
}
