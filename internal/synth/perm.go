package synth

import "math/bits"

// mix is splitmix64's finaliser: a fast, well-spread 64-bit hash.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// hash2 mixes two words into one.
func hash2(a, b uint64) uint64 { return mix(mix(a) ^ b) }

// unit maps a hash to [0, 1).
func unit(h uint64) float64 { return float64(h>>11) / (1 << 53) }

// perm is a keyed pseudo-random permutation of [0, n): a balanced Feistel
// network on the smallest even power of two at least n, with cycle walking.
// It places a project's files all over the key space, as content hashes
// do, while both directions cost a few multiplications.
type perm struct {
	n    uint64
	half uint // bits in each half
	mask uint64
	keys [4]uint64
}

func newPerm(n, seed uint64) perm {
	b := uint(bits.Len64(max(n-1, 1)))
	b += b & 1
	p := perm{n: n, half: b / 2, mask: 1<<(b/2) - 1}
	for i := range p.keys {
		p.keys[i] = hash2(seed, uint64(i)+0x51ed)
	}
	return p
}

func (p perm) round(x uint64, r int) uint64 { return mix(x^p.keys[r]) & p.mask }

func (p perm) once(x uint64) uint64 {
	l, r := x>>p.half, x&p.mask
	for i := range p.keys {
		l, r = r, l^p.round(r, i)
	}
	return l<<p.half | r
}

func (p perm) onceInv(x uint64) uint64 {
	l, r := x>>p.half, x&p.mask
	for i := len(p.keys) - 1; i >= 0; i-- {
		l, r = r^p.round(l, i), l
	}
	return l<<p.half | r
}

// apply maps x in [0, n) to its place in [0, n).
func (p perm) apply(x uint64) uint64 {
	for x = p.once(x); x >= p.n; x = p.once(x) {
	}
	return x
}

// invert undoes apply.
func (p perm) invert(y uint64) uint64 {
	for y = p.onceInv(y); y >= p.n; y = p.onceInv(y) {
	}
	return y
}
