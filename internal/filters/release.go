package filters

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"

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
	v, err := parseVersion(version)
	if err != nil || p.Name == "" || version == "" {
		return false, nil
	}
	n := Normalize(p.Name)
	for _, r := range a.reqs {
		if r.name == n && r.specifier.contains(v) {
			return true, nil
		}
	}
	return false, nil
}

// blockRelease drops the releases a [blocklist] packages requirement
// matches; a bare name matches every release of its project.
type blockRelease struct{ reqs []requirement }

func (b *blockRelease) name() string { return "blocklist_release" }
func (b *blockRelease) keep(p *Project, version string) (bool, error) {
	v, err := parseVersion(version)
	if err != nil || p.Name == "" || version == "" {
		return true, nil
	}
	n := Normalize(p.Name)
	for _, r := range b.reqs {
		if r.name == n && r.specifier.contains(v) {
			return false, nil
		}
	}
	return true, nil
}

// prerelease drops releases whose version looks like a pre-release, of
// every project or only of those [filter_prerelease] packages names.
// bandersnatch compares info.name as it is with the normalized names, and
// so does this.
type prerelease struct{ only []string }

var prereleasePatterns = []*regexp.Regexp{
	regexp.MustCompile(`^.+rc\d+$`),
	regexp.MustCompile(`^.+a(lpha)?\d+$`),
	regexp.MustCompile(`^.+b(eta)?\d+$`),
	regexp.MustCompile(`^.+dev\d+$`),
}

func (pr *prerelease) name() string { return "prerelease_release" }
func (pr *prerelease) keep(p *Project, version string) (bool, error) {
	if len(pr.only) > 0 && !slices.Contains(pr.only, p.Name) {
		return true, nil
	}
	return !slices.ContainsFunc(prereleasePatterns, func(re *regexp.Regexp) bool { return re.MatchString(version) }), nil
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
	if l.n == 0 || l.n > len(p.Releases) {
		return true, nil
	}
	names := make([]string, len(p.Releases))
	if l.byTime {
		type rel struct{ version, uploaded string }
		rs := make([]rel, len(p.Releases))
		for i, r := range p.Releases {
			t, ok := r.Files[0].Fields["upload_time_iso_8601"].(string)
			if !ok {
				return false, fmt.Errorf("the first file of release %s has no upload_time_iso_8601", r.Version)
			}
			rs[i] = rel{r.Version, t}
		}
		sort.SliceStable(rs, func(i, j int) bool { return rs[i].uploaded > rs[j].uploaded })
		for i := range rs {
			names[i] = rs[i].version
		}
	} else {
		type rel struct {
			v    pep440.Version
			text string
		}
		rs := make([]rel, len(p.Releases))
		for i, r := range p.Releases {
			v, err := parseVersion(r.Version)
			if err != nil {
				return false, fmt.Errorf("version %q is not PEP 440, so the latest releases cannot be told", r.Version)
			}
			rs[i] = rel{v, r.Version}
		}
		sort.SliceStable(rs, func(i, j int) bool {
			if c := rs[i].v.Compare(rs[j].v); c != 0 {
				return c > 0
			}
			return rs[i].text > rs[j].text
		})
		for i := range rs {
			names[i] = rs[i].text
		}
	}
	names = names[:l.n]
	if cur, _ := p.Info["version"].(string); !slices.Contains(names, cur) {
		names[len(names)-1] = cur
	}
	return slices.Contains(names, version), nil
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
