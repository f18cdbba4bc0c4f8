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

// calibrate reads a few listed objects with MD5-shaped ETags in full, from
// random places of web/packages, and checks that each ETag is the MD5 of the
// bytes. It returns hash when they all agree, else (one log line) the mode
// that proves objects without ETags for the whole run: metadata, or content
// for etag+content.
func calibrate(ctx context.Context, g *Env, ms store.Reader, hash HashMode) (HashMode, error) {
	fallback := HashMetadata
	if hash == HashETagContent {
		fallback = HashContent
	}
	seen := map[string]bool{}
	checked := 0
	for try := 0; try < 3*calibrationSamples && checked < calibrationSamples; try++ {
		start := fmt.Sprintf("%s%02x/%02x/", packagesPrefix, rand.IntN(256), rand.IntN(256))
		if try%3 == 2 {
			start = "" // a small mirror may have nothing after a random point
		}
		o, ok, err := sampleObject(ctx, ms, start, seen)
		if err != nil {
			return hash, fmt.Errorf("calibrate ETags: %w", err)
		}
		if !ok {
			continue
		}
		seen[o.Key] = true
		sum, err := md5Of(ctx, ms, o.Key)
		if errors.Is(err, os.ErrNotExist) {
			continue // gone meanwhile
		}
		if err != nil {
			return hash, fmt.Errorf("calibrate ETags: %w", err)
		}
		if !pipeline.ETagMatches(o.ETag, sum) {
			logf(g, "scan storage: ETags here are not the MD5 of the content (%s: ETag %s, MD5 %s), so no object is proven by its ETag: --hash=%s for this run", o.Key, o.ETag, sum, fallback)
			return fallback, nil
		}
		checked++
	}
	if checked == 0 {
		logf(g, "scan storage: no listed object has an MD5 ETag to calibrate with, so no object is proven by its ETag: --hash=%s for this run", fallback)
		return fallback, nil
	}
	logf(g, "scan storage: ETags calibrated: %d sampled objects read in full, each ETag the MD5 of its bytes", checked)
	return hash, nil
}

// sampleObject lists web/packages after start and returns the first object
// not seen yet whose ETag reads as an MD5, looking at 1,000 objects at most.
func sampleObject(ctx context.Context, ms store.Reader, start string, seen map[string]bool) (store.Object, bool, error) {
	var found store.Object
	n := 0
	err := ms.List(ctx, packagesPrefix, start, func(o store.Object) error {
		if n++; n > 1000 {
			return errFound
		}
		if _, _, ok := pipeline.ETagMD5(o.ETag); ok && !seen[o.Key] && o.Kind == store.Regular && o.Size <= calibrationMaxSize {
			found = o
			return errFound
		}
		return nil
	})
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
