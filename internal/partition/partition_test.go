package partition

import (
	"fmt"
	"strings"
	"testing"
)

// The parts of every N cover the key space and the name space end to end:
// each part starts where the one before it ends, the first at the start and
// the last at the end, and none is empty.
func TestPartsAreContiguous(t *testing.T) {
	for _, n := range []int{1, 2, 3, 7, 16, 256, 1000, MaxParts} {
		for _, space := range []struct {
			name    string
			rangeOf func(Part) Range
		}{{"keys", Part.Keys}, {"names", Part.Names}} {
			prev := ""
			for k := range n {
				r := space.rangeOf(Part{K: k, N: n})
				if r.Lo != prev {
					t.Fatalf("%s of %d/%d start at %q, the part before ends at %q", space.name, k, n, r.Lo, prev)
				}
				if k == n-1 && r.Hi != "" || k < n-1 && (r.Hi == "" || r.Hi <= r.Lo) {
					t.Fatalf("%s of %d/%d: [%q, %q)", space.name, k, n, r.Lo, r.Hi)
				}
				prev = r.Hi
			}
		}
	}
}

// Storage parts split the 65,536 hex folders evenly and keep every key
// outside web/packages in the first or the last part.
func TestKeysSplitHexFolders(t *testing.T) {
	p := Part{K: 1, N: 4}
	if r := p.Keys(); r.Lo != "web/packages/40/00/" || r.Hi != "web/packages/80/00/" {
		t.Fatalf("1/4: %+v", r)
	}
	count := make([]int, 3)
	for v := range 65536 {
		key := fmt.Sprintf("web/packages/%02x/%02x/%064x/f.whl", v>>8, v&0xff, v)
		for k := range 3 {
			if (Part{K: k, N: 3}).Keys().Has(key) {
				count[k]++
			}
		}
	}
	if count[0]+count[1]+count[2] != 65536 || count[0] < 21845 || count[2] < 21845 {
		t.Fatalf("3 parts hold %v folders", count)
	}
	if !(Part{K: 0, N: 3}).Keys().Has("web/json/.tmp123") || !(Part{K: 2, N: 3}).Keys().Has("web/simple/.tmp") {
		t.Fatal("keys before and after web/packages/ belong to the first and the last part")
	}
}

func TestParse(t *testing.T) {
	for in, want := range map[string]string{"": "", "0/1": "", "2/7": "2/7", "1023/1024": "1023/1024"} {
		p, err := Parse(in)
		if err != nil || p.String() != want {
			t.Errorf("Parse(%q) = %v, %v; want %q", in, p, err, want)
		}
	}
	for in, msg := range map[string]string{"7/7": "K counts from 0", "-1/3": "K counts", "1/0": "N must be", "1/2000": "N must be", "a/b": "write K/N", "3": "write K/N", "+1/2": "plain digits", "01/02": "plain digits", " 1/2": "write K/N"} {
		if _, err := Parse(in); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("Parse(%q): %v, want an error saying %q", in, err, msg)
		}
	}
}
