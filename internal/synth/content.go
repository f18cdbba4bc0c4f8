package synth

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"sync"
)

// Content, and why its digests are cheap.
//
// The sha256 in a JSON document, the sha256 metadata of a HEAD and the MD5
// ETag of a listing must all be the digests of the bytes a GET returns, yet a
// document of 10,000 files cannot hash 10,000 files of megabytes on every
// request. So an object of L bytes is the first c bytes of one shared stream,
// then a tail of L-c bytes of its own, where c is L-64 rounded down to a
// multiple of 4 KiB (the tail holds 64 to 4,159 bytes, and makes the object
// unique). sha256 and MD5 are streaming hashes: their state after the shared
// stream's first c bytes is computed once per 4 KiB boundary, when first
// needed, and kept (200 bytes a checkpoint; 26 MB for objects up to 512 MiB).
// A digest is then: restore the checkpoint, hash the tail (about 2 KiB), sum.
// That is 3 to 5 µs an object, whatever its size, and GET streams the same
// bytes from the same two generators, so the digests are true by construction
// (TestDigestsMatchContent checks them against the bytes).

const (
	block    = 4096 // checkpoint spacing in the shared stream
	minTail  = 64   // an object's own bytes, at least
	wordSize = 8
)

// sharedLen is how much of an object of size bytes comes from the shared stream.
func sharedLen(size int64) int64 {
	if size < block+minTail {
		return 0
	}
	return (size - minTail) / block * block
}

// fill writes the bytes [off, off+len(b)) of the stream named by key.
func fill(b []byte, key uint64, off int64) {
	var w [wordSize]byte
	for len(b) > 0 {
		word := uint64(off) / wordSize
		skip := int(uint64(off) % wordSize)
		binary.LittleEndian.PutUint64(w[:], mix(key^word*0xd6e8feb86659fd93))
		n := copy(b, w[skip:])
		b, off = b[n:], off+int64(n)
	}
}

// object is the content of one stored object: a size and its own stream.
type object struct {
	size int64
	key  uint64 // the tail's stream
}

// read fills b from offset off of the object (off+len(b) <= size).
func (o object) read(b []byte, shared uint64, off int64) {
	c := sharedLen(o.size)
	if off < c {
		n := int(min(int64(len(b)), c-off))
		fill(b[:n], shared, off)
		b, off = b[n:], off+int64(n)
	}
	if len(b) > 0 {
		fill(b, o.key, off-c)
	}
}

// checkpoints holds sha256 and MD5 states of the shared stream at every
// 4 KiB boundary computed so far.
type checkpoints struct {
	key    uint64
	mu     sync.RWMutex
	sha    [][]byte // marshalled sha256 state after i blocks
	md5    [][]byte
	hashes struct{ sha, md5 hash.Hash } // the running hashers at len(sha)-1 blocks
}

func newCheckpoints(key uint64) *checkpoints {
	c := &checkpoints{key: key}
	c.hashes.sha, c.hashes.md5 = sha256.New(), md5.New()
	c.save()
	return c
}

func (c *checkpoints) save() {
	s, _ := c.hashes.sha.(encoding.BinaryMarshaler).MarshalBinary()
	m, _ := c.hashes.md5.(encoding.BinaryMarshaler).MarshalBinary()
	c.sha, c.md5 = append(c.sha, s), append(c.md5, m)
}

// at returns hashers holding the shared stream's first blocks·4 KiB bytes
// (nil for one not wanted).
func (c *checkpoints) at(blocks int, wantSHA, wantMD5 bool) (hs, hm hash.Hash, err error) {
	c.mu.RLock()
	have := len(c.sha)
	var s, m []byte
	if blocks < have {
		s, m = c.sha[blocks], c.md5[blocks]
	}
	c.mu.RUnlock()
	if s == nil {
		c.mu.Lock()
		buf := make([]byte, block)
		for len(c.sha) <= blocks {
			fill(buf, c.key, int64(len(c.sha)-1)*block)
			c.hashes.sha.Write(buf)
			c.hashes.md5.Write(buf)
			c.save()
		}
		s, m = c.sha[blocks], c.md5[blocks]
		c.mu.Unlock()
	}
	if wantSHA {
		hs = sha256.New()
		err = hs.(encoding.BinaryUnmarshaler).UnmarshalBinary(s)
	}
	if wantMD5 && err == nil {
		hm = md5.New()
		err = hm.(encoding.BinaryUnmarshaler).UnmarshalBinary(m)
	}
	return hs, hm, err
}

// digestsOf returns the object's sha256 and MD5 in hex.
func (m *Mirror) digestsOf(o object) (sha, md string) { return m.digestsWant(o, true, true) }

// digestsWant computes only the digests asked for ("" for the other).
func (m *Mirror) digestsWant(o object, wantSHA, wantMD5 bool) (sha, md string) {
	c := sharedLen(o.size)
	hs, hm, err := m.digests.at(int(c/block), wantSHA, wantMD5)
	if err != nil {
		panic("synth: restore a hash state: " + err.Error()) // the states are our own
	}
	var buf [block + minTail]byte
	tail := buf[:o.size-c]
	fill(tail, o.key, 0)
	if wantSHA {
		hs.Write(tail)
		sha = hex.EncodeToString(hs.Sum(nil))
	}
	if wantMD5 {
		hm.Write(tail)
		md = hex.EncodeToString(hm.Sum(nil))
	}
	return sha, md
}

// reader serves an object's bytes to http.ServeContent (ranges included).
type reader struct {
	o      object
	shared uint64
	off    int64
}

func (m *Mirror) newReader(o object) *reader { return &reader{o: o, shared: m.digests.key} }

// Read implements io.Reader.
func (r *reader) Read(b []byte) (int, error) {
	if r.off >= r.o.size {
		return 0, io.EOF
	}
	b = b[:min(int64(len(b)), r.o.size-r.off)]
	r.o.read(b, r.shared, r.off)
	r.off += int64(len(b))
	return len(b), nil
}

// Seek implements io.Seeker.
func (r *reader) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		off += r.off
	case io.SeekEnd:
		off += r.o.size
	}
	if off < 0 {
		return 0, errors.New("synth: seek before the start")
	}
	r.off = off
	return off, nil
}
