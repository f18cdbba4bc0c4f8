package configparser

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// golden is what testdata/gen.py writes: Python's reading of one case.
type golden struct {
	Error *struct {
		Kind string `json:"kind"`
		Line int    `json:"line"`
	} `json:"error"`
	Sections []struct {
		Name    string `json:"name"`
		Options []struct {
			Key    string `json:"key"`
			Raw    string `json:"raw"`
			Value  string `json:"value"`
			Len    int    `json:"len"`
			SHA256 string `json:"sha256"`
			Error  string `json:"error"`
		} `json:"options"`
	} `json:"sections"`
}

// TestGolden reads every case as Python's configparser read it (the expected
// values are its output, kept in testdata by gen.py).
func TestGolden(t *testing.T) {
	cases, _ := filepath.Glob("testdata/*.conf")
	if len(cases) < 10 {
		t.Fatalf("only %d golden cases", len(cases))
	}
	for _, path := range cases {
		name := strings.TrimSuffix(filepath.Base(path), ".conf")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			js, err := os.ReadFile(strings.TrimSuffix(path, ".conf") + ".json")
			if err != nil {
				t.Fatal(err)
			}
			var want golden
			if err := json.Unmarshal(js, &want); err != nil {
				t.Fatal(err)
			}
			f := New()
			err = f.Read(path, data)
			if want.Error != nil {
				var e *Error
				if !errors.As(err, &e) || e.Kind != want.Error.Kind || e.Line != want.Error.Line {
					t.Fatalf("read error %v (%#v), Python raised %s at line %d", err, e, want.Error.Kind, want.Error.Line)
				}
				return
			}
			if err != nil {
				t.Fatalf("read: %v; Python read it", err)
			}
			var names []string
			for _, s := range want.Sections {
				if s.Name != DefaultSection {
					names = append(names, s.Name)
				}
			}
			if got := f.Sections(); strings.Join(got, "|") != strings.Join(names, "|") {
				t.Errorf("sections %q, Python %q", got, names)
			}
			for _, s := range want.Sections {
				var keys []string
				for _, o := range s.Options {
					keys = append(keys, o.Key)
				}
				if got := f.Options(s.Name); strings.Join(got, "|") != strings.Join(keys, "|") {
					t.Errorf("[%s] keys %q, Python %q", s.Name, got, keys)
				}
				for _, o := range s.Options {
					if !f.HasOption(s.Name, o.Key) {
						t.Errorf("[%s] %s: HasOption false", s.Name, o.Key)
					}
					raw, err := f.Raw(s.Name, o.Key)
					if err != nil || raw != o.Raw {
						t.Errorf("[%s] %s raw %q (%v), Python %q", s.Name, o.Key, raw, err, o.Raw)
					}
					v, err := f.Get(s.Name, o.Key)
					switch {
					case o.Error != "":
						var e *Error
						if !errors.As(err, &e) || e.Kind != o.Error {
							t.Errorf("[%s] %s: %q, %v; Python raised %s", s.Name, o.Key, v, err, o.Error)
						}
					case err != nil:
						t.Errorf("[%s] %s: %v; Python read %q", s.Name, o.Key, err, o.Value)
					case o.SHA256 != "":
						sum := sha256.Sum256([]byte(v))
						if len(v) != o.Len || hex.EncodeToString(sum[:]) != o.SHA256 {
							t.Errorf("[%s] %s: %d bytes differ from Python's %d", s.Name, o.Key, len(v), o.Len)
						}
					case v != o.Value:
						t.Errorf("[%s] %s = %q, Python %q", s.Name, o.Key, v, o.Value)
					}
				}
			}
		})
	}
}

// TestLongValueWhole: the value that ini.v1 cut at its 4,096-byte peek
// comes back whole, every line of it.
func TestLongValueWhole(t *testing.T) {
	data, err := os.ReadFile("testdata/long.conf")
	if err != nil {
		t.Fatal(err)
	}
	f := New()
	if err := f.Read("long.conf", data); err != nil {
		t.Fatal(err)
	}
	v, _ := f.Get("filter_regex", "releases")
	lines := strings.Split(v, "\n")
	if len(v) < 4096 || len(lines) != 294 || lines[293] != `.*29\.2\.2-never-matches` {
		t.Fatalf("releases: %d bytes, %d lines, last %q", len(v), len(lines), lines[len(lines)-1])
	}
	p, _ := f.Get("allowlist", "packages")
	if pl := strings.Split(p, "\n"); len(pl) != 201 || pl[200] != "project-0000598" {
		t.Fatalf("packages: %d lines, last %q", len(pl), pl[len(pl)-1])
	}
}

// TestBombRefused: references repeated at every level (which Python would
// expand until memory runs out) are refused quickly, within bounded memory.
func TestBombRefused(t *testing.T) {
	var b strings.Builder
	b.WriteString("[mirror]\n")
	for i := 0; i < 10; i++ {
		b.WriteString("l" + string(rune('0'+i)) + " = ")
		for j := 0; j < 100; j++ {
			b.WriteString("%(l" + string(rune('1'+i)) + ")s")
		}
		b.WriteString("\n")
	}
	b.WriteString("l: = x\n")
	// l9 refers to "l:", the last level
	f := New()
	if err := f.Read("bomb.conf", []byte(b.String())); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	_, err := f.Get("mirror", "l0")
	runtime.ReadMemStats(&after)
	var e *Error
	if !errors.As(err, &e) || e.Kind != "InterpolationBudgetError" || e.Option != "l0" {
		t.Fatalf("bomb: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("refusing took %v", d)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 4*MaxValue {
		t.Errorf("refusing allocated %d bytes", grew)
	}
	// a bomb of references to empty values produces nothing and is counted too
	f = New()
	if err := f.Read("empty.conf", []byte(strings.ReplaceAll(b.String(), "l: = x", "l: ="))); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Get("mirror", "l0"); !errors.As(err, &e) || e.Kind != "InterpolationBudgetError" {
		t.Fatalf("empty bomb: %v", err)
	}
}

func TestTooLargeAndNotUTF8(t *testing.T) {
	var e *Error
	if err := New().Read("big.conf", make([]byte, MaxFileSize+1)); !errors.As(err, &e) || e.Kind != "FileTooLarge" {
		t.Fatalf("big: %v", err)
	}
	if err := New().Read("latin1.conf", []byte("[s]\na = 1\nb = caf\xe9\n")); !errors.As(err, &e) || e.Kind != "UnicodeDecodeError" || e.Line != 3 {
		t.Fatalf("latin-1: %v", err)
	}
}
