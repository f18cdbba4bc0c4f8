package synth

import (
	"encoding/hex"
	"math"
	"math/bits"
	"strconv"
	"strings"
	"time"
)

// file is one release file slot, as the documents and the bucket see it.
type file struct {
	proj     int
	j        int   // the file's number in its project
	p        int64 // slot
	g        uint64
	night    int  // when it was uploaded (0: before night 0)
	present  bool // uploaded by the mirror's night
	wheel    bool
	meta     bool // a core metadata file beside it
	defect   int
	content  object // as upstream has it
	stored   object // as the bucket has it
	version  string
	name     string // file name
	uploaded time.Time
}

// fileAt describes slot p.
func (m *Mirror) fileAt(p int64) file { return m.describe(p, m.perm.apply(uint64(p))) }

// fileAtG describes the file g-th in key order.
func (m *Mirror) fileAtG(g uint64) file { return m.describe(int64(m.perm.invert(g)), g) }

func (m *Mirror) describe(p int64, g uint64) file {
	i := m.projectOf(p)
	f := file{proj: i, j: int(p - m.start[i]), p: p, g: g, present: true}
	h := hash2(m.cfg.Seed^0xf17e, uint64(p))
	rel := f.j
	if b := int(m.base[i]); f.j >= b {
		nights := m.changeNights(i, MaxNights)
		f.night = nights[(f.j-b)/2]
		f.present = f.night <= m.cfg.Night
	}
	release, kind := rel/3, rel%3
	var buf [160]byte
	v := strconv.AppendInt(buf[:0], int64(1+release/100), 10)
	v = append(v, '.', byte('0'+release/10%10), '.', byte('0'+release%10))
	f.version = string(v)
	b := append(buf[len(v):len(v)], m.norms[i]...)
	for k, c := range b {
		if c == '-' || c == '.' {
			b[k] = '_' // a distribution name as wheels spell it
		}
	}
	b = append(append(b, '-'), v...)
	switch kind {
	case 0:
		b = append(b, ".tar.gz"...)
	case 1:
		b = append(b, "-py3-none-any.whl"...)
		f.wheel = true
	default:
		b = append(b, "-cp312-cp312-manylinux_2_17_x86_64.whl"...)
		f.wheel = true
	}
	f.name = string(b)
	f.meta = f.wheel && h&1 == 1
	z := normal(hash2(h, 1), hash2(h, 2))
	size := int64(math.Exp(math.Log(float64(m.cfg.MedianSize)) + 2.4*z))
	f.content = object{size: min(max(size, 100), m.cfg.MaxSize), key: hash2(h, 3)}
	f.stored = f.content
	if f.night == 0 {
		f.uploaded = BaseTime.Add(time.Duration(i)*97*time.Second + time.Duration(f.j)*time.Hour)
		u := unit(hash2(h, 4))
		c := m.cfg
		switch {
		case u < c.Missing:
			f.defect = DefectMissing
		case u < c.Missing+c.Orphan:
			f.defect = DefectOrphan
		case u < c.Missing+c.Orphan+c.SizeMismatch:
			f.defect = DefectSizeMismatch
			f.stored.size += 1 + int64(h>>40%1000)
		case u < c.Missing+c.Orphan+c.SizeMismatch+c.HashMismatch:
			f.defect = DefectHashMismatch
			f.stored.key ^= 0xbad
		}
	} else {
		f.uploaded = nightTime(f.night).Add(time.Duration(i) * time.Second / 100)
	}
	return f
}

// normal turns two hashes into a standard normal draw (Box–Muller).
func normal(a, b uint64) float64 {
	u1 := max(unit(a), 1e-300)
	return math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*unit(b))
}

// designated tells whether the project's documents list the file.
func (f file) designated() bool { return f.present && f.defect != DefectOrphan }

// stored tells whether the bucket holds the file.
func (f file) inBucket() bool { return f.present && f.defect != DefectMissing }

// metaObject is the core metadata file beside a wheel.
func (f file) metaObject() object {
	return object{size: 400 + int64(f.content.key>>50%2600), key: f.content.key ^ 0x3e7a}
}

// folder is the file's 64 hex digits: 16 that grow with g, 48 that look random.
func (m *Mirror) folder(g uint64) [64]byte {
	var raw [32]byte
	q, _ := bits.Div64(g, 0, m.slots) // g·2^64/slots: strictly increasing in g
	for k := range 8 {
		raw[k] = byte(q >> (56 - 8*k))
	}
	for w := range 3 {
		x := hash2(m.cfg.Seed^0xf01d, g*4+uint64(w))
		for k := range 8 {
			raw[8+8*w+k] = byte(x >> (56 - 8*k))
		}
	}
	var out [64]byte
	hex.Encode(out[:], raw[:])
	return out
}

// relPath is the file's path below web/ (its URL's path), with a leading "packages/".
func (m *Mirror) relPath(f file) string {
	h := m.folder(f.g)
	return "packages/" + string(h[0:2]) + "/" + string(h[2:4]) + "/" + string(h[4:]) + "/" + f.name
}

// key is the file's key in the bucket.
func (m *Mirror) key(f file) string { return m.root + "web/" + m.relPath(f) }

// fileByRel finds the file whose path below web/ is rel ("packages/aa/bb/…/name").
func (m *Mirror) fileByRel(rel string) (file, bool) {
	parts := strings.Split(rel, "/")
	if len(parts) != 5 || parts[0] != "packages" || len(parts[1]) != 2 || len(parts[2]) != 2 || len(parts[3]) != 60 {
		return file{}, false
	}
	q, err := strconv.ParseUint(parts[1]+parts[2]+parts[3][:12], 16, 64)
	if err != nil {
		return file{}, false
	}
	// q = floor(g·2^64/slots), so g is hi or hi+1 of q·slots/2^64
	hi, _ := bits.Mul64(q, m.slots)
	for _, g := range []uint64{hi, hi + 1} {
		if g >= m.slots {
			continue
		}
		f := m.fileAtG(g)
		if m.relPath(f) == rel {
			return f, true
		}
	}
	return file{}, false
}
