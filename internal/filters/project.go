package filters

import (
	"bytes"
	"fmt"
	"github.com/bandercheck/bandercheck/internal/safefs"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
)

// allowProject keeps only the projects named (allowlist_project,
// project_requirements); with no names it keeps every project, as
// bandersnatch does.
type allowProject struct {
	plugin string
	names  map[string]bool
}

func (a *allowProject) name() string { return a.plugin }
func (a *allowProject) keep(project string) bool {
	return len(a.names) == 0 || a.names[Normalize(project)]
}

// blockProject drops the projects [blocklist] packages names without a
// version specifier (a line with one is blocklist_release's).
type blockProject struct{ names map[string]bool }

func (b *blockProject) name() string             { return "blocklist_project" }
func (b *blockProject) keep(project string) bool { return !b.names[Normalize(project)] }

// regexProject drops the projects whose name a [filter_regex] packages
// pattern matches at its start.
type regexProject struct{ pats []*regexp.Regexp }

func (r *regexProject) name() string { return "regex_project" }
func (r *regexProject) keep(project string) bool {
	return !slices.ContainsFunc(r.pats, func(p *regexp.Regexp) bool { return p.MatchString(project) })
}

// allowNames reads [allowlist] packages as names (allowlist_project and the
// exceptions of the size and count filters).
func (l *loader) allowNames(plugin string) (map[string]bool, error) {
	lines, ok := l.lines("allowlist", "packages")
	if !ok && plugin == "allowlist_project" {
		if err := l.need(plugin, "allowlist", "packages"); err != nil {
			return nil, err
		}
	}
	names := map[string]bool{}
	for _, line := range lines {
		if strings.HasPrefix(line, "#") {
			continue
		}
		line, _, _ = strings.Cut(line, "#")
		r, err := parseRequirement(strings.TrimSpace(line))
		if err != nil {
			return nil, l.fail("allowlist", "packages", err.Error())
		}
		names[r.name] = true
	}
	return names, nil
}

func (l *loader) blockProject() (*blockProject, error) {
	lines, ok := l.lines("blocklist", "packages")
	if !ok {
		if err := l.need("blocklist_project", "blocklist", "packages"); err != nil {
			return nil, err
		}
	}
	b := &blockProject{names: map[string]bool{}}
	for _, line := range lines {
		if strings.HasPrefix(line, "#") {
			continue
		}
		r, err := parseRequirement(line)
		if err != nil {
			return nil, l.fail("blocklist", "packages", err.Error())
		}
		if !r.specifier.empty() || r.raw != line {
			continue // a release specifier, or more than a bare name
		}
		b.names[r.name] = true
	}
	return b, nil
}

// patterns compiles a key's lines as regular expressions anchored at the
// start, as Python's re.match applies them.
func (l *loader) patterns(plugin, section, key string) ([]*regexp.Regexp, error) {
	lines, ok := l.lines(section, key)
	if !ok {
		if err := l.need(plugin, section, key); err != nil {
			return nil, err
		}
	}
	var out []*regexp.Regexp
	for _, line := range lines {
		re, err := compileMatch(line)
		if err != nil {
			return nil, l.fail(section, key, err.Error())
		}
		out = append(out, re)
	}
	return out, nil
}

// compileMatch compiles a Python re.match pattern.
func compileMatch(p string) (*regexp.Regexp, error) {
	re, err := regexp.Compile(`^(?:` + p + `)`)
	if err != nil {
		return nil, fmt.Errorf("pattern %q is not a regular expression Go's RE2 accepts (no look-arounds or back-references): %v", p, err)
	}
	return re, nil
}

// requirementFiles reads the requirements files [allowlist] requirements
// names, under requirements_path (relative to the config file's folder).
// maxRequirementsFile bounds one requirements file read into memory.
const maxRequirementsFile = 16 << 20

func (l *loader) requirementFiles(plugin string) ([]requirement, error) {
	lines, ok := l.lines("allowlist", "requirements")
	if !ok {
		if err := l.need(plugin, "allowlist", "requirements"); err != nil {
			return nil, err
		}
	}
	base := ""
	if v, ok := l.lines("allowlist", "requirements_path"); ok && len(v) > 0 {
		base = v[0]
	}
	if !filepath.IsAbs(base) {
		base = filepath.Join(filepath.Dir(l.path), base)
	}
	var files []string
	for _, line := range lines {
		if strings.HasPrefix(line, "#") {
			continue
		}
		line, _, _ = strings.Cut(line, "#")
		line = strings.TrimSpace(line)
		if strings.Contains(line, "*") {
			m, err := filepath.Glob(filepath.Join(base, line))
			if err != nil {
				return nil, l.fail("allowlist", "requirements", fmt.Sprintf("pattern %q: %v", line, err))
			}
			slices.Sort(m)
			files = append(files, m...)
			continue
		}
		files = append(files, filepath.Join(base, line))
	}
	var reqs []requirement
	for _, path := range files {
		data, err := safefs.ReadRegular(path, maxRequirementsFile) // no FIFO, no /dev/zero
		if err != nil {
			return nil, l.fail("allowlist", "requirements", fmt.Sprintf("requirements file: %v", err))
		}
		l.read = append(l.read, "file:"+path+"="+string(data))
		for i, line := range strings.Split(decodeText(data), "\n") {
			line = strings.TrimSpace(strings.TrimSuffix(line, "\r"))
			if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "-") {
				continue
			}
			line, _, _ = strings.Cut(line, "#")
			r, err := parseRequirement(strings.TrimSpace(line))
			if err != nil {
				return nil, l.fail("allowlist", "requirements", fmt.Sprintf("%s line %d: %v", path, i+1, err))
			}
			reqs = append(reqs, r)
		}
	}
	return reqs, nil
}

// decodeText decodes a requirements file as pip's auto_decode does: by its
// byte order mark, UTF-8 otherwise.
func decodeText(b []byte) string {
	switch {
	case bytes.HasPrefix(b, []byte{0xEF, 0xBB, 0xBF}):
		return string(b[3:])
	case bytes.HasPrefix(b, []byte{0xFF, 0xFE}), bytes.HasPrefix(b, []byte{0xFE, 0xFF}):
		big := b[0] == 0xFE
		b = b[2:]
		u := make([]uint16, len(b)/2)
		for i := range u {
			if big {
				u[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
			} else {
				u[i] = uint16(b[2*i+1])<<8 | uint16(b[2*i])
			}
		}
		return string(utf16.Decode(u))
	}
	return string(b)
}

// sizeProject drops projects whose files add up to more than
// max_package_size, except those [allowlist] packages names.
type sizeProject struct {
	max    int64
	except map[string]bool
}

func (s *sizeProject) name() string { return "size_project_metadata" }
func (s *sizeProject) keep(p *Project) (bool, error) {
	if len(s.except) > 0 && s.except[Normalize(p.Name)] {
		return true, nil
	}
	var total int64
	for _, r := range p.Releases {
		for _, f := range r.Files {
			n, ok := f.Fields["size"].(int64)
			if !ok {
				return false, fmt.Errorf("a file of release %s has no size", r.Version)
			}
			total += n
		}
	}
	return total <= s.max, nil
}

func (l *loader) sizeProject() (*sizeProject, error) {
	const section = "size_project_metadata"
	v, ok := l.lines(section, "max_package_size")
	if !ok || len(v) == 0 {
		return nil, l.need(section, section, "max_package_size")
	}
	n, err := parseSize(v[0])
	if err != nil {
		return nil, l.fail(section, "max_package_size", err.Error())
	}
	if n <= 0 {
		return nil, nil
	}
	except, err := l.allowNames(section)
	if err != nil {
		return nil, err
	}
	return &sizeProject{max: n, except: except}, nil
}

// parseSize reads a size as humanfriendly does with binary=True: a number
// of bytes, or with K, M, G, T, P (with or without B, i) as powers of 1024.
func parseSize(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	i := strings.IndexFunc(t, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	num, unit := t, ""
	if i >= 0 {
		num, unit = strings.TrimSpace(t[:i]), strings.TrimSpace(t[i:])
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a size such as 100 MB", s)
	}
	mult := map[string]float64{"": 1, "b": 1, "bytes": 1}
	for i, p := range []string{"k", "m", "g", "t", "p", "e"} {
		v := float64(uint64(1) << (10 * (i + 1)))
		mult[p], mult[p+"b"], mult[p+"ib"] = v, v, v
	}
	m, ok := mult[unit]
	if !ok {
		return 0, fmt.Errorf("%q: unknown unit %q", s, unit)
	}
	return int64(f * m), nil
}

// versionsCount drops projects with fewer than min_versions or more than
// max_versions releases, except those [allowlist] packages names.
type versionsCount struct {
	min, max int
	except   map[string]bool
}

func (v *versionsCount) name() string { return "versions_count_project_metadata" }
func (v *versionsCount) keep(p *Project) (bool, error) {
	if len(v.except) > 0 && v.except[Normalize(p.Name)] {
		return true, nil
	}
	n := len(p.Releases)
	return !(v.min > 0 && n < v.min) && !(v.max > 0 && n > v.max), nil
}

func (l *loader) versionsCount() (*versionsCount, error) {
	const section = "versions_count_project_metadata"
	min, okMin := l.lines(section, "min_versions")
	max, okMax := l.lines(section, "max_versions")
	if !okMin && !okMax {
		return nil, l.need(section, section, "min_versions")
	}
	v := &versionsCount{}
	for _, kv := range []struct {
		key   string
		lines []string
		to    *int
	}{{"min_versions", min, &v.min}, {"max_versions", max, &v.max}} {
		if len(kv.lines) == 0 {
			continue
		}
		n, err := strconv.Atoi(kv.lines[0])
		if err != nil {
			return nil, l.fail(section, kv.key, fmt.Sprintf("%q is not a whole number", kv.lines[0]))
		}
		*kv.to = n
	}
	if v.max > 0 && v.min > v.max {
		return nil, l.fail(section, "min_versions", fmt.Sprintf("%d is more than max_versions %d", v.min, v.max))
	}
	if v.min == 0 && v.max == 0 {
		return nil, nil
	}
	except, err := l.allowNames(section)
	if err != nil {
		return nil, err
	}
	v.except = except
	return v, nil
}
