package filters

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	pep440 "github.com/aquasecurity/go-pep440-version"
)

// allowRelease keeps the releases a requirement of the project allows
// (allowlist_release; project_requirements_pinned); a project it does not
// name keeps none, and an invalid version is never allowed.
type allowRelease struct {
	plugin string
	reqs   []requirement
}

func (a *allowRelease) name() string { return a.plugin }

// pins tells whether the first requirement naming the project has a specifier.
func (a *allowRelease) pins(project string) bool {
	n := Normalize(project)
	for _, r := range a.reqs {
		if r.name == n {
			return !r.specifier.empty()
		}
	}
	return false
}

func (a *allowRelease) keep(p *Project, version string) (bool, error) {
	return matchesRequirement(a.reqs, p.Name, version), nil // an invalid version is never allowed
}

// blockRelease drops the releases a [blocklist] packages requirement
// matches; a bare name matches every release of its project.
type blockRelease struct{ reqs []requirement }

func (b *blockRelease) name() string { return "blocklist_release" }
func (b *blockRelease) keep(p *Project, version string) (bool, error) {
	return !matchesRequirement(b.reqs, p.Name, version), nil // an invalid version is never blocked
}

// matchesRequirement tells whether a requirement of the project admits the
// version; never for an invalid version (bandersnatch's _check_match).
func matchesRequirement(reqs []requirement, project, version string) bool {
	v, err := parseVersion(version)
	if err != nil || project == "" || version == "" {
		return false
	}
	n := Normalize(project)
	return slices.ContainsFunc(reqs, func(r requirement) bool { return r.name == n && r.specifier.contains(v) })
}

// prerelease drops releases whose version looks like a pre-release, of
// every project or only of those [filter_prerelease] packages names.
// bandersnatch compares info.name as it is with the normalized names, and
// so does this.
type prerelease struct{ only []string }

// prereleasePatterns are bandersnatch's, compiled when the filter is first used.
var prereleasePatterns = sync.OnceValue(func() []*regexp.Regexp {
	return []*regexp.Regexp{
		regexp.MustCompile(`^.+rc\d+$`),
		regexp.MustCompile(`^.+a(lpha)?\d+$`),
		regexp.MustCompile(`^.+b(eta)?\d+$`),
		regexp.MustCompile(`^.+dev\d+$`),
	}
})

func (pr *prerelease) name() string { return "prerelease_release" }
func (pr *prerelease) keep(p *Project, version string) (bool, error) {
	if len(pr.only) > 0 && !slices.Contains(pr.only, p.Name) {
		return true, nil
	}
	return !slices.ContainsFunc(prereleasePatterns(), func(re *regexp.Regexp) bool { return re.MatchString(version) }), nil
}

// regexRelease drops releases whose version a [filter_regex] releases
// pattern matches at its start.
type regexRelease struct{ pats []*regexp.Regexp }

func (r *regexRelease) name() string { return "regex_release" }
func (r *regexRelease) keep(p *Project, version string) (bool, error) {
	return !slices.ContainsFunc(r.pats, func(re *regexp.Regexp) bool { return re.MatchString(version) }), nil
}

// latest keeps the newest [latest_release] keep releases, by PEP 440
// version or by the upload time of each release's first file, and always
// the release info.version names.
type latest struct {
	n      int
	byTime bool
}

func (l *latest) name() string { return "latest_release" }
func (l *latest) keep(p *Project, version string) (bool, error) {
	if l.n == 0 || l.n > p.liveReleases() {
		return true, nil
	}
	if p.order == nil || p.dropped == nil {
		order, err := l.sort(p)
		if err != nil {
			return false, err
		}
		if p.dropped == nil {
			return l.within(p, order, version), nil
		}
		p.order = order
	}
	return l.within(p, p.order, version), nil
}

// within tells whether version is among the n newest live releases of
// order, or is info.version, which takes the last place when missing.
func (l *latest) within(p *Project, order []string, version string) bool {
	names := make([]string, 0, l.n)
	for _, v := range order {
		if len(names) == l.n {
			break
		}
		if !p.dropped[v] {
			names = append(names, v)
		}
	}
	if cur, _ := p.Info["version"].(string); !slices.Contains(names, cur) && len(names) > 0 {
		names[len(names)-1] = cur
	}
	return slices.Contains(names, version)
}

// sort orders the live releases newest first, by PEP 440 version (then by
// the text, as Python compares the (version, text) pairs) or by the upload
// time of each release's first file; equal keys keep document order.
func (l *latest) sort(p *Project) ([]string, error) {
	var live []*Release
	for _, r := range p.Releases {
		if !p.dropped[r.Version] {
			live = append(live, r)
		}
	}
	out := make([]string, len(live))
	if l.byTime {
		type rel struct{ version, uploaded string }
		rs := make([]rel, len(live))
		for i, r := range live {
			t, ok := r.Files[0].Fields["upload_time_iso_8601"].(string)
			if !ok {
				return nil, fmt.Errorf("the first file of release %s has no upload_time_iso_8601", r.Version)
			}
			rs[i] = rel{r.Version, t}
		}
		sort.SliceStable(rs, func(i, j int) bool { return rs[i].uploaded > rs[j].uploaded })
		for i := range rs {
			out[i] = rs[i].version
		}
		return out, nil
	}
	rs := make([]sortableVersion, len(live))
	for i, r := range live {
		v, err := newSortableVersion(r.Version)
		if err != nil {
			return nil, fmt.Errorf("version %q is not PEP 440, so the latest releases cannot be told", r.Version)
		}
		rs[i] = v
	}
	sort.SliceStable(rs, func(i, j int) bool {
		if c := rs[i].compare(rs[j]); c != 0 {
			return c > 0
		}
		return rs[i].text > rs[j].text
	})
	for i := range rs {
		out[i] = rs[i].text
	}
	return out, nil
}

func (l *loader) latest() (*latest, error) {
	const section = "latest_release"
	v, ok := l.lines(section, "keep")
	if !ok || len(v) == 0 {
		return nil, l.need(section, section, "keep")
	}
	n, err := strconv.Atoi(v[0])
	if err != nil || n < 0 {
		return nil, l.fail(section, "keep", fmt.Sprintf("%q: give how many releases to keep, 0 for all", v[0]))
	}
	f := &latest{n: n}
	if s, ok := l.lines(section, "sort_by"); ok && len(s) > 0 {
		switch s[0] {
		case "time":
			f.byTime = true
		case "version":
		default:
			return nil, l.fail(section, "sort_by", fmt.Sprintf("%q: give time or version", s[0]))
		}
	}
	if f.n == 0 {
		return nil, nil
	}
	return f, nil
}

// sortableVersion is a parsed version with, for the plain release numbers
// most versions are ("1.2.3"), the numbers themselves: two plain versions
// compare as zero-padded number tuples, as PEP 440 orders them, without the
// library's costly comparison.
type sortableVersion struct {
	text  string
	v     pep440.Version
	plain []uint64 // nil unless the version is digits and dots only
}

func newSortableVersion(text string) (sortableVersion, error) {
	var nums []uint64
	for _, part := range strings.Split(text, ".") {
		n, err := strconv.ParseUint(part, 10, 64)
		if err != nil || part == "" || part[0] == '+' {
			nums = nil
			break
		}
		nums = append(nums, n)
	}
	if nums != nil {
		return sortableVersion{text: text, plain: nums}, nil // valid PEP 440 as it is
	}
	v, err := parseVersion(text)
	if err != nil {
		return sortableVersion{}, err
	}
	sv := sortableVersion{text: text, v: v}
	return sv, nil
}

func (a sortableVersion) compare(b sortableVersion) int {
	if a.plain == nil || b.plain == nil {
		return a.parsed().Compare(b.parsed())
	}
	for i := range max(len(a.plain), len(b.plain)) {
		var x, y uint64
		if i < len(a.plain) {
			x = a.plain[i]
		}
		if i < len(b.plain) {
			y = b.plain[i]
		}
		if x != y {
			return cmp.Compare(x, y)
		}
	}
	return 0
}

// parsed is the library's version (parsed here for a plain one).
func (a sortableVersion) parsed() pep440.Version {
	if a.plain == nil {
		return a.v
	}
	v, _ := parseVersion(a.text)
	return v
}
