package stages

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Limit is a count or a percentage ("10%") of some total.
type Limit struct {
	N       int64
	Percent float64
	IsPct   bool
}

// UnmarshalText implements encoding.TextUnmarshaler (a flag's value).
func (l *Limit) UnmarshalText(b []byte) error {
	v, err := ParseLimit(string(b))
	*l = v
	return err
}

// ParseLimit parses "1000" or "10%".
func ParseLimit(s string) (Limit, error) {
	if p, ok := strings.CutSuffix(s, "%"); ok {
		f, err := strconv.ParseFloat(p, 64)
		if err != nil || math.IsNaN(f) || f < 0 || f > 100 {
			return Limit{}, fmt.Errorf("%q is not a percentage from 0%% to 100%%", s)
		}
		return Limit{Percent: f, IsPct: true}, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return Limit{}, fmt.Errorf("%q is not a count or a percentage", s)
	}
	return Limit{N: n}, nil
}

// Of returns the limit for a total.
func (l Limit) Of(total int64) int64 {
	if l.IsPct {
		return int64(float64(total) * l.Percent / 100)
	}
	return l.N
}

// String implements fmt.Stringer.
func (l Limit) String() string {
	if l.IsPct {
		return strconv.FormatFloat(l.Percent, 'f', -1, 64) + "%"
	}
	return strconv.FormatInt(l.N, 10)
}

// ByteSize is a size such as 256MiB, 1GiB or 500MB.
type ByteSize int64

// UnmarshalText implements encoding.TextUnmarshaler (a flag's value).
func (b *ByteSize) UnmarshalText(t []byte) error {
	v, err := ParseByteSize(string(t))
	*b = v
	return err
}

// String implements fmt.Stringer: the largest binary unit that gives a whole
// number (256MiB), else bytes (1500B); ParseByteSize reads it back.
func (b ByteSize) String() string {
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if b != 0 && int64(b)%u.mult == 0 {
			return strconv.FormatInt(int64(b)/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(int64(b), 10) + "B"
}

// ParseByteSize parses a number with an optional unit (B, KB, MB, GB, TB, KiB, MiB, GiB, TiB).
func ParseByteSize(s string) (ByteSize, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
		{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"T", 1 << 40}, {"B", 1}}
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range units {
		if n, ok := strings.CutSuffix(t, u.suffix); ok {
			t, mult = strings.TrimSpace(n), u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f <= 0 {
		return 0, fmt.Errorf("%q is not a size such as 256MiB", s)
	}
	return ByteSize(f * float64(mult)), nil
}

// DownloadLimit is --max-download: a count, a percentage of the designated
// files, or a size such as 2TiB. Its zero value (never parsed) is no limit,
// for library callers; "0" refuses every download.
type DownloadLimit struct {
	Files Limit
	Bytes ByteSize // when a size was given
	set   bool
}

// UnmarshalText implements encoding.TextUnmarshaler (a flag's value).
func (d *DownloadLimit) UnmarshalText(b []byte) error {
	v, err := ParseDownloadLimit(string(b))
	*d = v
	return err
}

// ParseDownloadLimit parses "1000", "10%" or "2TiB".
func ParseDownloadLimit(s string) (DownloadLimit, error) {
	if l, err := ParseLimit(s); err == nil {
		return DownloadLimit{Files: l, set: true}, nil
	}
	b, err := ParseByteSize(s)
	if err != nil {
		return DownloadLimit{}, fmt.Errorf("%q is not a count, a percentage or a size such as 2TiB", s)
	}
	return DownloadLimit{Bytes: b, set: true}, nil
}

// Exceeded tells whether files downloads of bytes, out of designated files,
// are more than the limit allows.
func (d DownloadLimit) Exceeded(files, bytes, designated int64) bool {
	switch {
	case !d.set:
		return false
	case d.Bytes > 0:
		return bytes > int64(d.Bytes)
	}
	return files > d.Files.Of(designated)
}

// String implements fmt.Stringer.
func (d DownloadLimit) String() string {
	switch {
	case !d.set:
		return "none"
	case d.Bytes > 0:
		return strconv.FormatInt(int64(d.Bytes), 10) + "B"
	}
	return d.Files.String()
}

// Days is a duration that also takes whole days ("7d", "30d").
type Days time.Duration

// UnmarshalText implements encoding.TextUnmarshaler (a flag's value).
func (d *Days) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	if n, ok := strings.CutSuffix(s, "d"); ok {
		f, err := strconv.ParseFloat(n, 64)
		if err != nil || f < 0 || math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("%q is not a number of days such as 7d", s)
		}
		*d = Days(f * float64(24*time.Hour))
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		return fmt.Errorf("%q is not a duration such as 7d or 36h (0 never reads a file again for its age)", s)
	}
	*d = Days(v)
	return nil
}

// String implements fmt.Stringer.
func (d Days) String() string {
	if v := time.Duration(d); v%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(v/(24*time.Hour)), 10) + "d"
	}
	return time.Duration(d).String()
}

// MaxJobs is the most workers a --jobs flag may ask for: each holds buffers
// and connections, and more than this only queues on the disk or the
// network (S3 requests in flight have --s3-requests of their own).
const MaxJobs = 1024
