package filters

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	pep440 "github.com/aquasecurity/go-pep440-version"
)

// excludePlatform drops release files built for the platforms and Python
// versions [blocklist] platforms names; source distributions always stay.
type excludePlatform struct {
	patterns     []string // matched anywhere in the file name
	packagetypes []string
}

var (
	pythonVersions = []string{"py2", "py2.4", "py2.5", "py2.6", "py2.7", "py3", "py3.0", "py3.1", "py3.2", "py3.3",
		"py3.4", "py3.5", "py3.6", "py3.7", "py3.8", "py3.9", "py3.10", "py3.11", "py3.12", "py3.13", "py3.14"}
	windowsPlatforms = []string{".win32", "-win32", "win_amd64", "win-amd64", "win_arm64", "win-arm64"}
	linuxPlatforms   = []string{"linux-i686", "linux-x86_64", "linux_armv7l", "linux_armv6l", "manylinux1_i686",
		"manylinux1_x86_64", "manylinux2010_i686", "manylinux2010_x86_64", "manylinux2014_x86_64", "manylinux2014_i686",
		"manylinux2014_aarch64", "manylinux2014_armv7l", "manylinux2014_ppc64", "manylinux2014_ppc64le",
		"manylinux2014_s390x", "-manylinux_", "musllinux"}
)

func (e *excludePlatform) name() string { return "exclude_platform" }
func (e *excludePlatform) keep(p *Project, version string, f *File) (bool, error) {
	pt, _ := f.Fields["packagetype"].(string)
	if pt == "sdist" {
		return true, nil
	}
	if slices.Contains(e.packagetypes, pt) {
		return false, nil
	}
	fn, ok := f.Fields["filename"].(string)
	if !ok {
		return false, fmt.Errorf("a file has no filename")
	}
	return !slices.ContainsFunc(e.patterns, func(s string) bool { return strings.Contains(fn, s) }), nil
}

// excludePlatform reads [blocklist] platforms. Its tests follow
// bandersnatch's, including two of its quirks: "freebsd" and "linux" are
// tested as substrings (so "bsd" means freebsd), and an unknown name is
// ignored.
func (l *loader) excludePlatform() (*excludePlatform, error) {
	lines, ok := l.lines("blocklist", "platforms")
	if !ok {
		if err := l.need("exclude_platform", "blocklist", "platforms"); err != nil {
			return nil, err
		}
	}
	e := &excludePlatform{}
	for _, tag := range strings.Fields(strings.Join(lines, " ")) {
		t := strings.ToLower(tag)
		switch {
		case t == "windows" || t == "win":
			e.patterns = append(e.patterns, windowsPlatforms...)
			e.packagetypes = append(e.packagetypes, "bdist_msi", "bdist_wininst")
		case t == "macos" || t == "macosx":
			e.patterns = append(e.patterns, "macosx_", "macosx-")
			e.packagetypes = append(e.packagetypes, "bdist_dmg")
		case strings.Contains("freebsd", t):
			e.patterns = append(e.patterns, ".freebsd", "-freebsd")
		case strings.Contains("linux", t):
			e.patterns = append(e.patterns, linuxPlatforms...)
			e.packagetypes = append(e.packagetypes, "bdist_rpm")
		case slices.Contains(pythonVersions, t):
			e.patterns = append(e.patterns, pythonTags(t)...)
		case slices.Contains(windowsPlatforms, t), slices.Contains(linuxPlatforms, t):
			e.patterns = append(e.patterns, t)
		}
	}
	return e, nil
}

// pythonTags are the file-name fragments of one Python version: "py3.6"
// gives -cp36- -pp36- -ip36- -jy36- -py3.6- -py3.6.
func pythonTags(v string) []string {
	withDot := strings.TrimPrefix(v, "py")
	noDot := strings.ReplaceAll(withDot, ".", "")
	var out []string
	for _, i := range []string{"cp", "pp", "ip", "jy"} {
		out = append(out, "-"+i+noDot+"-")
	}
	return append(out, "-py"+withDot+"-", "-py"+withDot+".")
}

// metadataKey is one key of a metadata filter's section: a dotted path
// with tags before colons ("not-null:all:info.classifiers").
type metadataKey struct {
	key, path  string
	nullsMatch bool
	mode       string // any, all or none
}

func parseMetadataKey(k string) metadataKey {
	tags := strings.Split(k, ":")
	m := metadataKey{key: k, path: tags[len(tags)-1], nullsMatch: true, mode: "any"}
	for _, t := range tags[:len(tags)-1] {
		switch t {
		case "not-null":
			m.nullsMatch = false
		case "match-null":
			m.nullsMatch = true
		case "all", "any", "none":
			m.mode = t
		}
	}
	return m
}

// lookup walks a dotted path through the metadata bandersnatch hands a
// filter; ok is false where a step is missing or null.
func lookup(root map[string]any, path string) (any, bool) {
	var node any = root
	for _, step := range strings.Split(path, ".") {
		m, isMap := node.(map[string]any)
		if !isMap {
			return nil, false
		}
		v, has := m[step]
		if !has || v == nil {
			return nil, false
		}
		node = v
	}
	return node, true
}

// regexMetadata keeps what every key's patterns match (regex_project_metadata,
// regex_release_file_metadata).
type regexMetadata struct {
	plugin string
	keys   []metadataKey
	pats   map[string][]*regexp.Regexp
}

func (r *regexMetadata) name() string { return r.plugin }

func (r *regexMetadata) paths() []string {
	var out []string
	for _, k := range r.keys {
		out = append(out, k.path)
	}
	return out
}

func (r *regexMetadata) matchAll(root map[string]any) (bool, error) {
	for _, k := range r.keys {
		ok, err := r.matchKey(k, root)
		if err != nil || !ok {
			return ok, err
		}
	}
	return true, nil
}

func (r *regexMetadata) matchKey(k metadataKey, root map[string]any) (bool, error) {
	var values []string
	if node, ok := lookup(root, k.path); ok {
		list, isList := node.([]any)
		if !isList {
			list = []any{node}
		}
		for _, v := range list {
			s, isStr := v.(string)
			if !isStr {
				return false, fmt.Errorf("%s: %v is not text, so no pattern can match it", k.path, v)
			}
			values = append(values, s)
		}
	}
	anyMatch := func(nulls bool) bool {
		for _, p := range r.pats[k.key] {
			if nulls && len(values) == 0 {
				return true
			}
			for _, v := range values {
				if p.MatchString(v) {
					return true
				}
			}
		}
		return false
	}
	switch k.mode {
	case "all":
		for _, p := range r.pats[k.key] {
			if k.nullsMatch && len(values) == 0 {
				continue
			}
			if !slices.ContainsFunc(values, p.MatchString) {
				return false, nil
			}
		}
		return true, nil
	case "none":
		return !anyMatch(true), nil // bandersnatch ignores not-null here
	}
	return anyMatch(k.nullsMatch), nil
}

// keep as a metadata filter: the project's info.
func (r *regexMetadata) keepProject(p *Project) (bool, error) {
	return r.matchAll(map[string]any{"info": p.Info})
}

// keep as a release-file filter: info, release and release_file.
func (r *regexMetadata) keep(p *Project, version string, f *File) (bool, error) {
	return r.matchAll(map[string]any{"info": p.Info, "release": version, "release_file": f.Fields})
}

// projectRegex is regexMetadata as a metadata filter.
type projectRegex struct{ *regexMetadata }

func (p projectRegex) keep(pr *Project) (bool, error) { return p.keepProject(pr) }

func (l *loader) regexMetadata(plugin, section string) (*regexMetadata, error) {
	keys := l.keys(section)
	if len(keys) == 0 {
		if err := l.need(plugin, section, ""); err != nil {
			return nil, err
		}
	}
	r := &regexMetadata{plugin: plugin, pats: map[string][]*regexp.Regexp{}}
	for _, k := range keys {
		mk := parseMetadataKey(k.Name())
		if err := checkPath(mk.path, plugin); err != nil {
			return nil, l.fail(section, k.Name(), err.Error())
		}
		r.keys = append(r.keys, mk)
		for _, line := range strings.Split(k.String(), "\n") {
			if line = strings.TrimSpace(line); line == "" {
				continue
			}
			re, err := compileMatch(line)
			if err != nil {
				return nil, l.fail(section, k.Name(), err.Error())
			}
			r.pats[k.Name()] = append(r.pats[k.Name()], re)
		}
	}
	return r, nil
}

// checkPath accepts the paths whose values this package keeps: info.* for
// every metadata filter, release and release_file.* for release files.
func checkPath(path, plugin string) error {
	root, _, _ := strings.Cut(path, ".")
	ok := root == "info" && strings.Contains(path, ".")
	if strings.HasPrefix(plugin, "regex_release_file") || strings.HasPrefix(plugin, "version_range") {
		ok = ok || path == "release" || (root == "release_file" && strings.Contains(path, "."))
	}
	if !ok {
		return fmt.Errorf("path %q: bandercheck reads info.<field> paths here (and release, release_file.<field> for release files)", path)
	}
	return nil
}

// versionRange keeps release files whose specifier at each path (such as
// release_file.requires_python) admits one of the versions listed.
type versionRange struct {
	keys     []metadataKey
	versions map[string][]pep440.Version
}

func (v *versionRange) name() string { return "version_range_release_file_metadata" }

func (v *versionRange) paths() []string {
	var out []string
	for _, k := range v.keys {
		out = append(out, k.path)
	}
	return out
}

func (v *versionRange) keep(p *Project, version string, f *File) (bool, error) {
	root := map[string]any{"info": p.Info, "release": version, "release_file": f.Fields}
	for _, k := range v.keys {
		node, ok := lookup(root, k.path)
		if k.nullsMatch && (!ok || falsy(node)) {
			continue
		}
		if !ok { // not-null and no value: bandersnatch fails on it; nothing matches
			return false, nil
		}
		text, isStr := node.(string)
		if ok && !isStr {
			return false, fmt.Errorf("%s: %v is not a version specifier", k.path, node)
		}
		set, err := parseSpecifierSet(text)
		if err != nil {
			return false, fmt.Errorf("%s: %w", k.path, err)
		}
		if !slices.ContainsFunc(v.versions[k.key], set.contains) {
			return false, nil
		}
	}
	return true, nil
}

// falsy is Python's truth test for a JSON value.
func falsy(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case bool:
		return !x
	case int64:
		return x == 0
	case float64:
		return x == 0
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}

func (l *loader) versionRange() (*versionRange, error) {
	const section = "version_range_release_file_metadata"
	keys := l.keys(section)
	if len(keys) == 0 {
		if err := l.need(section, section, ""); err != nil {
			return nil, err
		}
	}
	v := &versionRange{versions: map[string][]pep440.Version{}}
	for _, k := range keys {
		mk := parseMetadataKey(k.Name())
		if err := checkPath(mk.path, section); err != nil {
			return nil, l.fail(section, k.Name(), err.Error())
		}
		v.keys = append(v.keys, mk)
		for _, line := range strings.Split(k.String(), "\n") {
			if line = strings.TrimSpace(line); line == "" {
				continue
			}
			ver, err := parseVersion(line)
			if err != nil {
				return nil, l.fail(section, k.Name(), fmt.Sprintf("%q is not a PEP 440 version", line))
			}
			v.versions[k.Name()] = append(v.versions[k.Name()], ver)
		}
	}
	return v, nil
}
