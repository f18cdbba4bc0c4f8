// Package synth is a synthetic bandersnatch mirror on S3 and its upstream,
// at any size up to all of upstream, with no storage: every object, listing
// and document is computed from a seed when it is asked for.
//
// The shape follows upstream's: files per project with a heavy tail (median
// about 10, a few projects with 10,000 or more), sizes log-normal around
// 64 KiB with a long tail (a mirror of 15M files holds about 20 TB), release
// files under web/packages/<aa>/<bb>/<60 hex>/<filename>, a core metadata
// file beside half of the wheels, web/json, web/pypi and web/simple for every
// project, and planted defects at given rates (Mirror.Defects tells them).
//
// How a mirror of 15M objects is listed in byte order without holding it:
// files are numbered twice. Slot p numbers them project by project (project
// i owns the slots [start[i], start[i+1])); g = perm(p) numbers them in key
// order, because a file's folder begins with 16 hex digits that grow with g
// (g·2^64/n) and ends with 48 that look random. Listing walks g upwards,
// seeking is a binary search over g, and a key is parsed back to its g.
//
// How the digests stay true and cheap: see content.go.
package synth

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/bandercheck/bandercheck/sources"
)

// Config describes a synthetic mirror. The zero rates plant no defects.
type Config struct {
	Seed     uint64
	Names    []string // project names as upstream spells them; nil: Projects generated names
	Projects int      // with Names nil
	Root     string   // the mirror's prefix in the bucket ("" or "a/b")

	// Night is how many nightly syncs have happened since night 0: each
	// night, ChangeRate of the projects gain a release of two files (a new
	// serial, new documents, new objects). At most MaxNights.
	Night      int
	ChangeRate float64

	// Shares of release files planted as defects, and of projects removed upstream.
	Missing      float64 // designated, absent from the bucket
	Orphan       float64 // in the bucket, named by no document
	SizeMismatch float64 // stored with another size
	HashMismatch float64 // stored with other bytes of the same size (and their sha256 as metadata)
	Removed      float64 // projects in the mirror that upstream no longer lists

	MedianSize int64 // median file size (default 64 KiB)
	MaxSize    int64 // largest file (default 512 MiB)
}

// MaxNights is how many nights a mirror can move on from night 0.
const MaxNights = 7

// Defect kinds, as Mirror.Defects reports them.
const (
	DefectNone = iota
	DefectMissing
	DefectOrphan
	DefectSizeMismatch
	DefectHashMismatch
)

var defectNames = [...]string{"", "missing", "orphan", "size-mismatch", "hash-mismatch"}

// BaseTime is when the generated uploads begin.
var BaseTime = time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC)

// nightTime is when night k's uploads happened.
func nightTime(k int) time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, k) }

// Mirror is a synthetic mirror: immutable after New, safe for concurrent use.
type Mirror struct {
	cfg   Config
	root  string // "" or "prefix/"
	names []string
	norms []string
	start []int64 // start[i]: project i's first slot; start[len] = slots
	base  []int32 // files of project i at night 0 (its later slots are nights')
	perm  perm
	slots uint64

	byName   []int32 // project numbers by "web/json/"+name order
	byPyPI   []int32 // by name+"/"
	bySimple []int32 // by normalized name

	digests   *checkpoints
	docSizes  docSizeCache
	rootSizes [2]atomic.Int64
}

// New builds the mirror's index: about 60 bytes a project, nothing a file.
func New(cfg Config) (*Mirror, error) {
	if cfg.Names == nil {
		if cfg.Projects < 1 {
			return nil, fmt.Errorf("synth: give names or a project count")
		}
		cfg.Names = make([]string, cfg.Projects)
		for i := range cfg.Names {
			cfg.Names[i] = generatedName(cfg.Seed, i)
		}
	}
	if cfg.Night < 0 || cfg.Night > MaxNights {
		return nil, fmt.Errorf("synth: night %d: give 0 to %d", cfg.Night, MaxNights)
	}
	if cfg.MedianSize <= 0 {
		cfg.MedianSize = 64 << 10
	}
	if cfg.MaxSize <= 0 {
		cfg.MaxSize = 512 << 20
	}
	m := &Mirror{cfg: cfg}
	if r := strings.Trim(cfg.Root, "/"); r != "" {
		m.root = r + "/"
	}
	seen := make(map[string]bool, len(cfg.Names))
	for _, n := range cfg.Names {
		norm := sources.Normalize(n)
		if n == "" || norm == "" || seen[norm] || strings.HasPrefix(n, ".") || strings.ContainsAny(n, "/\x00") {
			continue
		}
		seen[norm] = true
		m.names = append(m.names, n)
		m.norms = append(m.norms, norm)
	}
	if len(m.names) == 0 {
		return nil, fmt.Errorf("synth: no usable project names")
	}
	n := len(m.names)
	m.start = make([]int64, n+1)
	m.base = make([]int32, n)
	for i := range n {
		m.base[i] = int32(m.baseFiles(i))
		m.start[i+1] = m.start[i] + int64(m.base[i]) + 2*int64(len(m.changeNights(i, MaxNights)))
	}
	m.slots = uint64(m.start[n])
	m.perm = newPerm(m.slots, hash2(cfg.Seed, 0x9e12))
	m.byName = m.order(func(i int) string { return m.names[i] })
	m.byPyPI = m.order(func(i int) string { return m.names[i] + "/" })
	m.bySimple = m.order(func(i int) string { return m.norms[i] + "/" })
	m.digests = newCheckpoints(hash2(cfg.Seed, 0x61ba1))
	m.docSizes = newDocSizeCache(n)
	return m, nil
}

func (m *Mirror) order(key func(int) string) []int32 {
	o := make([]int32, len(m.names))
	for i := range o {
		o[i] = int32(i)
	}
	slices.SortFunc(o, func(a, b int32) int { return strings.Compare(key(int(a)), key(int(b))) })
	return o
}

// generatedName makes a name with upstream's mix of cases and separators.
func generatedName(seed uint64, i int) string {
	h := hash2(seed, uint64(i)^0x6e61)
	seps := []string{"-", "_", ".", "-"}
	name := fmt.Sprintf("proj%s%d", seps[h%4], i)
	if h>>8%5 == 0 {
		name = "Py" + name
	}
	return name
}

// Projects is how many projects the mirror holds.
func (m *Mirror) Projects() int { return len(m.names) }

// Slots is how many release files the mirror can hold over all nights.
func (m *Mirror) Slots() int64 { return int64(m.slots) }

// Name and Normalized give project i's names.
func (m *Mirror) Name(i int) string       { return m.names[i] }
func (m *Mirror) Normalized(i int) string { return m.norms[i] }

// baseFiles draws project i's file count at night 0: log-normal around 9
// for most, Pareto from 300 (alpha 1.2, up to 60,000) for one in 500.
func (m *Mirror) baseFiles(i int) int {
	r := rand.New(rand.NewPCG(m.cfg.Seed, uint64(i)^0xf11e5))
	if r.IntN(500) == 0 {
		return int(min(300/math.Pow(1-r.Float64(), 1/1.2), 60000))
	}
	return max(1, int(math.Round(math.Exp(math.Log(9)+1.05*r.NormFloat64()))))
}

// changeNights lists the nights (1..upTo) on which project i gained a release.
func (m *Mirror) changeNights(i, upTo int) []int {
	var out []int
	for k := 1; k <= upTo; k++ {
		if unit(hash2(m.cfg.Seed^uint64(k)<<40, uint64(i)^0xc4a9)) < m.cfg.ChangeRate {
			out = append(out, k)
		}
	}
	return out
}

// Changed tells whether project i changed on the mirror's night.
func (m *Mirror) Changed(i int) bool {
	n := m.changeNights(i, m.cfg.Night)
	return len(n) > 0 && n[len(n)-1] == m.cfg.Night
}

// removed tells whether upstream no longer lists project i.
func (m *Mirror) removed(i int) bool {
	return unit(hash2(m.cfg.Seed, uint64(i)^0x7e30)) < m.cfg.Removed
}

// serial is project i's last serial at the mirror's night.
func (m *Mirror) serial(i int) int64 {
	last := 0
	if n := m.changeNights(i, m.cfg.Night); len(n) > 0 {
		last = n[len(n)-1]
	}
	return int64(last)*int64(len(m.names)) + int64(i) + 1
}

// lastSerial is the serial of the whole index.
func (m *Mirror) lastSerial() int64 { return int64(m.cfg.Night+1) * int64(len(m.names)) }

// projectOf finds the project owning slot p.
func (m *Mirror) projectOf(p int64) int {
	i, found := slices.BinarySearch(m.start, p)
	if !found {
		i-- // every project has a slot, so start is strictly increasing
	}
	return i
}
