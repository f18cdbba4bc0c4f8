package pipeline

import (
	cryptomd5 "crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// barrierConfirmer says a file is bad when its path is in bad. Its first n
// calls wait for one another, so they meet only when Join makes them at once.
type barrierConfirmer struct {
	recordPlan
	bad     map[string]bool
	n       int
	mu      sync.Mutex
	arrived int
	met     chan struct{}
	calls   int
	alone   bool // a first call gave up waiting for the others
}

func (c *barrierConfirmer) ConfirmMismatch(path, sha256 string) (bool, error) {
	c.mu.Lock()
	c.calls++
	c.arrived++
	if c.arrived == c.n {
		close(c.met)
	}
	first := c.arrived <= c.n
	c.mu.Unlock()
	if first {
		select {
		case <-c.met:
		case <-time.After(5 * time.Second): // serial calls never meet: go on, and the test fails below
			c.mu.Lock()
			c.alone = true
			c.mu.Unlock()
		}
	}
	return c.bad[path], nil
}

// TestJoinConfirmsMismatchesAtOnce: ETag mismatches are confirmed
// concurrently (they were read one after the other, 25–35 ms each at
// 20 ms of latency), and the plan is what confirming them one by one gives:
// the same downloads, in path order, and the same counts.
func TestJoinConfirmsMismatchesAtOnce(t *testing.T) {
	var storage, designated [][]string
	bad := map[string]bool{}
	var want []string
	for i := range 60 {
		p := fmt.Sprintf("web/packages/aa/%03d.whl", i)
		md5 := fmt.Sprintf("%032x", i)
		d := append(ds(p, "10", fmt.Sprintf("%064x", i), false), md5)
		designated = append(designated, d)
		etag := md5
		switch i % 4 {
		case 0: // missing
			want = append(want, "download "+p+" "+ReasonMissing)
			continue
		case 1, 2: // an ETag mismatch: bad for 1, refuted for 2
			etag = fmt.Sprintf("%032x", 1000+i)
			if i%4 == 1 {
				bad[p] = true
				want = append(want, "download "+p+" "+ReasonHashMismatch)
			}
		}
		storage = append(storage, []string{p, "10", old, "", "", "", "", etag, VerifiedETag})
	}
	c := &barrierConfirmer{bad: bad, n: 4, met: make(chan struct{})}
	sum, err := Join(&sliceRows{rows: storage}, &sliceRows{rows: designated}, cutoff, c)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.out, want) {
		t.Errorf("plan:\n%v\nwant:\n%v", c.out, want)
	}
	if c.alone {
		t.Errorf("the first %d confirmations were not in flight at once", c.n)
	}
	if c.calls != 30 || sum.ETagMismatches["confirmed"] != 15 || sum.ETagMismatches["refuted"] != 15 ||
		sum.Proven[VerifiedContent] != 30 || sum.Proven[VerifiedETag] != 15 || sum.Download[ReasonHashMismatch].Files != 15 {
		t.Errorf("%d confirmations, summary %+v proven %v", c.calls, sum.ETagMismatches, sum.Proven)
	}
}

// readConfirmer answers each ConfirmMismatch from the stored bytes' sha256
// (its map), as reading the object does, and records what it was asked.
type readConfirmer struct {
	recordPlan
	stored map[string]string // path → sha256 of the stored bytes
	asked  []string
	err    error
}

func (c *readConfirmer) ConfirmMismatch(path, sha256 string) (bool, error) {
	c.asked = append(c.asked, path+" "+sha256)
	return c.stored[path] != sha256, c.err
}

// TestJoinETagMismatchRefutedByReading: an ETag that differs from the
// designated md5 is never planned on its own. Reading the object decides:
// right bytes (refuted) plan nothing and count as proven by content; wrong
// bytes (confirmed) plan hash-mismatch; a read that fails fails the join.
// A planner that cannot read, or a designated digest that is no plain
// sha256, plans nothing and counts the file as proven by its size only.
func TestJoinETagMismatchRefutedByReading(t *testing.T) {
	const p = "web/packages/aa/a.whl"
	sha, md5 := fmt.Sprintf("%064x", 7), fmt.Sprintf("%032x", 7)
	other := fmt.Sprintf("%032x", 8)
	for _, c := range []struct {
		name       string
		dsha       string // designated digest
		etag       string
		stored     string // sha256 of the stored bytes
		noConfirm  bool   // the planner cannot read objects
		readErr    error
		plan       []string
		asked      int
		proven     string
		refuted    int64
		confirmed  int64
		wantErrStr string
	}{
		{name: "refuted", dsha: sha, etag: other, stored: sha, asked: 1, proven: VerifiedContent, refuted: 1},
		{name: "confirmed", dsha: sha, etag: other, stored: fmt.Sprintf("%064x", 9), asked: 1, proven: VerifiedContent, confirmed: 1,
			plan: []string{"download " + p + " " + ReasonHashMismatch}},
		{name: "matching etag", dsha: sha, etag: md5, stored: sha, proven: VerifiedETag},
		{name: "one-part etag", dsha: sha, etag: fmt.Sprintf(`"%x-1"`, md5Bytes(md5)), stored: sha, proven: VerifiedETag},
		{name: "no reader", dsha: sha, etag: other, noConfirm: true, proven: ProvenBySize},
		{name: "other digest", dsha: "md5:" + md5, etag: other, stored: sha, proven: ProvenBySize},
		{name: "read fails", dsha: sha, etag: other, stored: sha, asked: 1, readErr: errors.New("read failed"), wantErrStr: "read failed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			storage := [][]string{{p, "10", old, "", "", "", "", c.etag, VerifiedETag}}
			designated := [][]string{append(ds(p, "10", c.dsha, false), md5)}
			rc := &readConfirmer{stored: map[string]string{p: c.stored}, err: c.readErr}
			var planner Planner = rc
			if c.noConfirm {
				planner = &rc.recordPlan
			}
			sum, err := Join(&sliceRows{rows: storage}, &sliceRows{rows: designated}, cutoff, planner)
			if c.wantErrStr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErrStr) {
					t.Fatalf("join: %v, want %q", err, c.wantErrStr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(rc.out, c.plan) {
				t.Errorf("plan %v, want %v", rc.out, c.plan)
			}
			if len(rc.asked) != c.asked || c.asked > 0 && rc.asked[0] != p+" "+sha {
				t.Errorf("asked to confirm %v, want %d reads of %s", rc.asked, c.asked, p)
			}
			if sum.Proven[c.proven] != 1 || sum.ProvenBytes[c.proven] != 10 || len(sum.Proven) != 1 {
				t.Errorf("proven %v (bytes %v), want one file of 10 bytes by %s", sum.Proven, sum.ProvenBytes, c.proven)
			}
			if sum.ETagMismatches["refuted"] != c.refuted || sum.ETagMismatches["confirmed"] != c.confirmed {
				t.Errorf("ETag mismatches %v", sum.ETagMismatches)
			}
		})
	}
}

// md5Bytes is the MD5 of the bytes a hex MD5 stands for: a one-part
// multipart upload's ETag.
func md5Bytes(hexSum string) [16]byte {
	b, _ := hex.DecodeString(hexSum)
	return cryptomd5.Sum(b)
}

// laggingConfirmer holds each confirmation until the planner has been told
// of a decision past its path (or 300 ms went by): the confirmation of a
// slow read, which a join that lets later decisions go first overtakes.
type laggingConfirmer struct {
	mu   sync.Mutex
	out  []string
	last string // the path of the last decision planned
	bad  map[string]bool
}

func (c *laggingConfirmer) note(s, path string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.out = append(c.out, s)
	c.last = path
}

func (c *laggingConfirmer) Download(d Download) error {
	c.note("download "+d.Path+" "+d.Reason, d.Path)
	return nil
}

func (c *laggingConfirmer) Delete(path, size, reason string) error {
	c.note("delete "+path+" "+reason, path)
	return nil
}

func (c *laggingConfirmer) ConfirmMismatch(path, sha256 string) (bool, error) {
	for end := time.Now().Add(300 * time.Millisecond); time.Now().Before(end); time.Sleep(time.Millisecond) {
		c.mu.Lock()
		overtaken := c.last > path
		c.mu.Unlock()
		if overtaken {
			break
		}
	}
	return c.bad[path], nil
}

// TestJoinPlansInPathOrderWhateverConfirmationsTake: the planner gets the
// downloads and deletes in path order however long an ETag mismatch takes
// to confirm. Before, deletes went straight through while downloads waited
// behind a confirmation, so the order (and with it where the plan's shards
// of download and delete were cut, as they are cut together) depended on
// timing: four processes with --partition then plan --partitions cut
// plan/download elsewhere than one process did.
func TestJoinPlansInPathOrderWhateverConfirmationsTake(t *testing.T) {
	var storage, designated [][]string
	bad := map[string]bool{}
	var want []string
	for i := range 60 {
		p := fmt.Sprintf("web/packages/aa/%03d.whl", i)
		md5 := fmt.Sprintf("%032x", i)
		switch i % 3 {
		case 0: // stored, designated by nothing
			storage = append(storage, []string{p, "10", old, "", "", "", "", md5, VerifiedETag})
			want = append(want, "delete "+p+" "+ReasonUnowned)
		case 1: // an ETag mismatch, confirmed
			designated = append(designated, append(ds(p, "10", fmt.Sprintf("%064x", i), false), md5))
			storage = append(storage, []string{p, "10", old, "", "", "", "", fmt.Sprintf("%032x", 1000+i), VerifiedETag})
			bad[p] = true
			want = append(want, "download "+p+" "+ReasonHashMismatch)
		case 2: // missing
			designated = append(designated, append(ds(p, "10", fmt.Sprintf("%064x", i), false), md5))
			want = append(want, "download "+p+" "+ReasonMissing)
		}
	}
	c := &laggingConfirmer{bad: bad}
	if _, err := Join(&sliceRows{rows: storage}, &sliceRows{rows: designated}, cutoff, c); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.out, want) {
		t.Errorf("plan, with slow confirmations:\n%v\nwant (path order):\n%v", c.out, want)
	}
}
