package stages

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"sync"

	"github.com/bandercheck/bandercheck/internal/store"
	"github.com/bandercheck/bandercheck/pipeline"
)

// calibrationSamples is how many listed objects calibrate reads in full.
const calibrationSamples = 3

// calibrationMaxSize skips larger objects when sampling: calibration reads
// a few small files, not a wheel of a gigabyte.
const calibrationMaxSize = 64 << 20

// errFound stops a listing once a sample is found.
var errFound = errors.New("found")

// byETag is the storage row of an object proven by its listed ETag, with no
// request: plan compares the ETag with the designated md5. An object whose
// ETag is no MD5 (several parts, SSE-KMS, a gateway's own) is not.
func byETag(o store.Object) (storageResult, bool) {
	r := classify(o)
	if r.problem != "" || o.Kind != store.Regular {
		return r, false
	}
	if _, _, ok := pipeline.ETagMD5(o.ETag); !ok {
		return r, false
	}
	r.verified = pipeline.VerifiedETag
	return r, true
}

// calibrationPage is how many keys a sample lists at most where the store
// lists pages of a chosen size (S3): a server walks a whole page even when
// the first key serves, and a page of 1,000 cost versitygw ~0.1 s of CPU.
const calibrationPage = 100

// calibrate reads a few listed objects with MD5-shaped ETags in full, from
// random places of web/packages, and checks that each ETag is the MD5 of the
// bytes. It returns hash when they all agree, else (one log line) the mode
// that proves objects without ETags for the whole run: metadata, or content
// for etag+content. The samples of a round are taken at once: each is a
// listing and a read, and one after the other they held back the scan by
// six round trips (~0.5 s of a 2.3 s scan at 20 ms).
func calibrate(ctx context.Context, g *Env, ms store.Reader, hash HashMode) (HashMode, error) {
	fallback := HashMetadata
	if hash == HashETagContent {
		fallback = HashContent
	}
	type sample struct {
		obj store.Object
		ok  bool
		sum string
		err error
	}
	seen := map[string]bool{}
	checked := 0
	for try := 0; try < 3*calibrationSamples && checked < calibrationSamples; {
		round := make([]sample, min(calibrationSamples-checked, 3*calibrationSamples-try))
		var wg sync.WaitGroup
		for i := range round {
			start := fmt.Sprintf("%s%02x/%02x/", packagesPrefix, rand.IntN(256), rand.IntN(256))
			if (try+i)%3 == 2 {
				start = "" // a small mirror may have nothing after a random point
			}
			wg.Go(func() {
				s := &round[i]
				s.obj, s.ok, s.err = sampleObject(ctx, ms, start, seen)
			})
		}
		wg.Wait()
		// Two samples of a round can land on the same object (a small
		// mirror, or two random points before one key): it is read once.
		inRound := map[string]bool{}
		for i := range round {
			s := &round[i]
			if s.err != nil || !s.ok {
				continue
			}
			if inRound[s.obj.Key] {
				s.ok = false
				continue
			}
			inRound[s.obj.Key] = true
			wg.Go(func() { s.sum, s.err = md5Of(ctx, ms, s.obj.Key) })
		}
		wg.Wait()
		try += len(round)
		for _, s := range round {
			if s.err == nil && (!s.ok || seen[s.obj.Key]) {
				continue // nothing found, or the same object as another sample
			}
			if s.err == nil {
				seen[s.obj.Key] = true
			}
			if errors.Is(s.err, os.ErrNotExist) {
				continue // gone meanwhile
			}
			if s.err != nil {
				return hash, fmt.Errorf("calibrate ETags: %w", s.err)
			}
			if !pipeline.ETagMatches(s.obj.ETag, s.sum) {
				logf(g, "scan storage: ETags here are not the MD5 of the content (%s: ETag %s, MD5 %s), so no object is proven by its ETag: --hash=%s for this run", s.obj.Key, s.obj.ETag, s.sum, fallback)
				return fallback, nil
			}
			checked++
		}
	}
	if checked == 0 {
		logf(g, "scan storage: no listed object has an MD5 ETag to calibrate with, so no object is proven by its ETag: --hash=%s for this run", fallback)
		return fallback, nil
	}
	logf(g, "scan storage: ETags calibrated: %d sampled objects read in full, each ETag the MD5 of its bytes", checked)
	return hash, nil
}

// sampleObject lists web/packages after start and returns the first object
// not in seen whose ETag reads as an MD5: in one page of calibrationPage
// keys where the store lists such pages, else among 1,000 objects at most.
// seen is only read.
func sampleObject(ctx context.Context, ms store.Reader, start string, seen map[string]bool) (store.Object, bool, error) {
	var found store.Object
	n := 0
	visit := func(o store.Object) error {
		if n++; n > 1000 {
			return errFound
		}
		if _, _, ok := pipeline.ETagMD5(o.ETag); ok && !seen[o.Key] && o.Kind == store.Regular && o.Size <= calibrationMaxSize {
			found = o
			return errFound
		}
		return nil
	}
	var err error
	if pl, ok := ms.(store.PageLister); ok {
		err = pl.ListPage(ctx, packagesPrefix, start, calibrationPage, visit)
	} else {
		err = ms.List(ctx, packagesPrefix, start, visit)
	}
	if err != nil && !errors.Is(err, errFound) {
		return found, false, err
	}
	return found, found.Key != "", nil
}

// md5Of reads an object and returns the MD5 of its bytes in hex.
func md5Of(ctx context.Context, ms store.Reader, key string) (string, error) {
	rc, err := ms.Open(ctx, key)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	h := md5.New()
	if _, err := io.Copy(h, rc); err != nil {
		return "", fmt.Errorf("read %s: %w", key, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// etagQuick is the scan's answer without a request under an etag mode.
// A .metadata file (isCoreMetadata) has a sha256 upstream but no md5, so
// its ETag proves nothing: a digest an earlier scan read is reused while
// its ETag is unchanged; else etag+content reads it (ok false), and etag
// leaves it proven by its presence, at no request. Any other object is
// proven by its ETag when that is an MD5; else ok is false, and hashObject
// falls back to its metadata or content.
func etagQuick(it storageItem, hash HashMode, scrub rehashPolicy) (storageResult, bool) {
	if isCoreMetadata(it.obj.Key) {
		if r, ok := reuse(it, hash, scrub); ok {
			return r, true
		}
		if hash == HashETagContent {
			return storageResult{}, false
		}
	}
	return byETag(it.obj)
}

// isCoreMetadata tells a release file's PEP 658 .metadata file: upstream
// gives its sha256 (core-metadata) but no md5.
func isCoreMetadata(key string) bool {
	return strings.HasPrefix(key, packagesPrefix) && strings.HasSuffix(key, ".metadata")
}
