// Package partition splits a mirror's key space into N contiguous parts of
// about equal size, so that N machines can scan one mirror at once and their
// manifests, put end to end in part order, are the manifests of one scan.
//
// Files under web/packages/ are spread by the two levels of hex folders that
// bandersnatch names from a digest, so part K of N takes the folders
// web/packages/xx/yy/ from K·65536/N up to (K+1)·65536/N: even by
// construction. Projects are split by normalized name at boundaries taken
// from the names of every PyPI project (names.txt, 1,024 quantiles made by
// gen/), so each part gets about the same number of real projects. The first
// part also takes every key before web/packages/ and the last every key after.
package partition

import (
	_ "embed"
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// MaxParts is the most parts a mirror can be split into: the name table's
// resolution.
const MaxParts = 1024

// Part is part K (from 0) of N; the zero Part is the whole mirror.
type Part struct{ K, N int }

// Parse reads "K/N" with 0 ≤ K < N ≤ MaxParts; "" is the whole mirror.
func Parse(s string) (Part, error) {
	if s == "" {
		return Part{}, nil
	}
	ks, ns, ok := strings.Cut(s, "/")
	k, kerr := strconv.Atoi(ks)
	n, nerr := strconv.Atoi(ns)
	switch {
	case !ok || kerr != nil || nerr != nil:
		return Part{}, fmt.Errorf("--partition %q: write K/N, e.g. 0/4 for the first of four parts", s)
	case n < 1 || n > MaxParts:
		return Part{}, fmt.Errorf("--partition %q: N must be from 1 to %d", s, MaxParts)
	case k < 0 || k >= n:
		return Part{}, fmt.Errorf("--partition %q: K counts from 0 to N-1 (%d)", s, n-1)
	case s != strconv.Itoa(k)+"/"+strconv.Itoa(n):
		// "+1/2" and "01/02" would name the part "1/2" does under another spelling
		return Part{}, fmt.Errorf("--partition %q: write K/N in plain digits, e.g. %d/%d", s, k, n)
	}
	return Part{K: k, N: n}, nil
}

// UnmarshalText implements encoding.TextUnmarshaler (a flag's value).
func (p *Part) UnmarshalText(b []byte) error {
	v, err := Parse(string(b))
	*p = v
	return err
}

// Whole tells whether p is the whole mirror (no partition, or 0/1).
func (p Part) Whole() bool { return p.N <= 1 }

// String is "K/N", or "" for the whole mirror.
func (p Part) String() string {
	if p.Whole() {
		return ""
	}
	return fmt.Sprintf("%d/%d", p.K, p.N)
}

// Range is the half-open interval [Lo, Hi) of keys or names; an empty Lo is
// the beginning, an empty Hi the end.
type Range struct{ Lo, Hi string }

// Has tells whether s is in r.
func (r Range) Has(s string) bool { return s >= r.Lo && (r.Hi == "" || s < r.Hi) }

// Before tells whether every string from s on is past r's end.
func (r Range) Before(s string) bool { return r.Hi != "" && s >= r.Hi }

// Keys is the part's range of storage keys.
func (p Part) Keys() Range {
	if p.Whole() {
		return Range{}
	}
	return p.between(func(k int) string {
		v := k * 65536 / p.N
		return fmt.Sprintf("web/packages/%02x/%02x/", v>>8, v&0xff)
	})
}

// between is the part's range with boundary k at bound(k): open at the
// start for the first part and at the end for the last.
func (p Part) between(bound func(k int) string) Range {
	var r Range
	if p.K > 0 {
		r.Lo = bound(p.K)
	}
	if p.K < p.N-1 {
		r.Hi = bound(p.K + 1)
	}
	return r
}

//go:embed names.txt
var namesTable string

// quantiles are the 1,023 inner boundaries of the name table, split when a
// part is first asked for its names (a 16 KiB slice no whole run needs).
var quantiles = sync.OnceValue(func() []string { return strings.Split(strings.TrimSuffix(namesTable, "\n"), "\n") })

// Names is the part's range of normalized project names.
func (p Part) Names() Range {
	if p.Whole() {
		return Range{}
	}
	return p.between(func(k int) string { return quantiles()[k*MaxParts/p.N-1] })
}
