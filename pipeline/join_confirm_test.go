package pipeline

import (
	"fmt"
	"slices"
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
