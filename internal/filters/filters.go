// Package filters applies bandersnatch's filter plugins, as configured in a
// bandersnatch.conf, to a project's metadata: the release and release-file
// filters that sync and verify apply (they decide which files the mirror
// should hold), and the project and metadata filters that decide which
// projects it should hold. Each plugin reads the same sections and keys and
// makes the same decisions as bandersnatch 8's own; where bandersnatch would
// ignore a bad setting or crash, Load refuses it with the file, section and
// key named.
package filters

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/bandercheck/bandercheck/internal/configparser"
)

// ConfigError is a bad filter setting: where it is and what is wrong.
type ConfigError struct {
	Path, Section, Key, Msg string
}

func (e *ConfigError) Error() string {
	where := e.Path + ": [" + e.Section + "]"
	if e.Key != "" {
		where += " " + e.Key
	}
	return where + ": " + e.Msg
}

// Project is what the filters see of a project: its info fields and its
// releases in document order. Apply removes releases and files in place.
type Project struct {
	Name     string         // info.name
	Info     map[string]any // info fields (name, version and those Needs names)
	Releases []*Release

	// while Apply runs the release filters: the releases not dropped yet,
	// and latest_release's order of them, sorted once
	dropped map[string]bool
	live    int
	order   []string
}

// liveReleases is the number of releases the release filters have not dropped.
func (p *Project) liveReleases() int {
	if p.dropped == nil {
		return len(p.Releases)
	}
	return p.live
}

// Release is one version's files.
type Release struct {
	Version string
	Files   []*File
}

// File is one release file: its fields (filename, packagetype,
// upload_time_iso_8601, size, and those Needs names) and the caller's index.
type File struct {
	Fields map[string]any
	Index  int
}

// Set is the filters a config enables.
type Set struct {
	names    []string // enabled plugin names, sorted
	project  []nameFilter
	metadata []metadataFilter
	release  []releaseFilter
	file     []fileFilter
	pinned   *allowRelease // project_requirements_pinned, when enabled
	digest   string
	needInfo []string
	needFile []string
}

type nameFilter interface {
	name() string
	keep(project string) bool
}

type metadataFilter interface {
	name() string
	keep(p *Project) (bool, error)
}

type releaseFilter interface {
	name() string
	keep(p *Project, version string) (bool, error)
}

type fileFilter interface {
	name() string
	keep(p *Project, version string, f *File) (bool, error)
}

// every plugin bandersnatch 8 registers, by kind
var (
	projectPlugins  = []string{"allowlist_project", "blocklist_project", "regex_project", "project_requirements"}
	metadataPlugins = []string{"regex_project_metadata", "size_project_metadata", "versions_count_project_metadata"}
	releasePlugins  = []string{"allowlist_release", "blocklist_release", "prerelease_release", "regex_release", "latest_release", "project_requirements_pinned"}
	filePlugins     = []string{"exclude_platform", "regex_release_file_metadata", "version_range_release_file_metadata"}
)

// Load reads [plugins] enabled and the sections of each enabled plugin. A
// config without [plugins] enables none. "all" enables every plugin, each
// with the settings it finds (as bandersnatch does); a plugin named
// explicitly must have its settings, or Load says which are missing.
func Load(f *configparser.File, path string) (*Set, error) {
	s := &Set{}
	if !f.HasOption("plugins", "enabled") {
		return s, nil
	}
	all := false
	var enabled []string
	en, err := f.Get("plugins", "enabled")
	if err != nil {
		return nil, err
	}
	for _, line := range strings.Split(en, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if line == "all" {
			all = true
			continue
		}
		known := slices.Contains(projectPlugins, line) || slices.Contains(metadataPlugins, line) ||
			slices.Contains(releasePlugins, line) || slices.Contains(filePlugins, line)
		if !known {
			return nil, &ConfigError{path, "plugins", "enabled", fmt.Sprintf("unknown plugin %q; bandersnatch 8 has %s", line,
				strings.Join(slices.Concat(projectPlugins, metadataPlugins, releasePlugins, filePlugins), ", "))}
		}
		enabled = append(enabled, line)
	}
	if all {
		enabled = slices.Concat(projectPlugins, metadataPlugins, releasePlugins, filePlugins)
	}
	slices.Sort(enabled)
	enabled = slices.Compact(enabled)
	l := &loader{f: f, path: path, strict: !all}
	for _, n := range enabled {
		if err := l.add(s, n); err != nil {
			return nil, err
		}
		if l.err != nil { // a setting that could not be read (interpolation)
			return nil, l.err
		}
	}
	s.names = enabled
	s.digest = l.digest()
	slices.Sort(s.needInfo)
	slices.Sort(s.needFile)
	s.needInfo = slices.Compact(s.needInfo)
	s.needFile = slices.Compact(s.needFile)
	return s, nil
}

// Enabled lists the enabled plugins.
func (s *Set) Enabled() []string { return s.names }

// FiltersFiles tells whether any release or release-file filter is enabled.
func (s *Set) FiltersFiles() bool {
	return s != nil && (len(s.release) > 0 || len(s.file) > 0 || s.pinned != nil)
}

// FiltersProjects tells whether any project or metadata filter is enabled.
func (s *Set) FiltersProjects() bool {
	return s != nil && (len(s.project) > 0 || len(s.metadata) > 0)
}

// Needs names the info fields and release-file fields the filters read
// beyond name, version, filename, packagetype, upload time and size.
func (s *Set) Needs() (info, file []string) {
	if s == nil {
		return nil, nil
	}
	return s.needInfo, s.needFile
}

// Fingerprint identifies the filters and every setting they read, so that a
// resume with other filters is refused.
func (s *Set) Fingerprint() string {
	if s == nil || len(s.names) == 0 {
		return "none"
	}
	return strings.Join(s.names, "+") + "@" + s.digest
}

// ExcludesName returns the project filter that excludes a project by its
// name, or "" when every project filter keeps it.
func (s *Set) ExcludesName(name string) string {
	if s == nil {
		return ""
	}
	for _, f := range s.project {
		if !f.keep(name) {
			return f.name()
		}
	}
	return ""
}

// ExcludesProject returns the metadata filter that excludes a project by
// its metadata (before its releases are filtered), or "".
func (s *Set) ExcludesProject(p *Project) (string, error) {
	if s == nil {
		return "", nil
	}
	for _, f := range s.metadata {
		ok, err := f.keep(p)
		if err != nil {
			return "", fmt.Errorf("%s: %w", f.name(), err)
		}
		if !ok {
			return f.name(), nil
		}
	}
	return "", nil
}

// Apply removes the files and releases the filters exclude, in
// bandersnatch's order: release-file filters first (a release left without
// files goes), then release filters over the releases that remain, each
// seeing the releases as the earlier decisions left them. When
// project_requirements_pinned pins the project, it alone decides its releases.
func (s *Set) Apply(p *Project) error {
	if s == nil {
		return nil
	}
	kept := p.Releases[:0]
	for _, r := range p.Releases {
		files := r.Files[:0]
		for _, f := range r.Files {
			keep := true
			for _, ff := range s.file {
				ok, err := ff.keep(p, r.Version, f)
				if err != nil {
					return fmt.Errorf("%s: release %s: %w", ff.name(), r.Version, err)
				}
				if !ok {
					keep = false
					break
				}
			}
			if keep {
				files = append(files, f)
			}
		}
		r.Files = files
		if len(files) > 0 {
			kept = append(kept, r)
		}
	}
	p.Releases = kept
	filters := s.release
	if s.pinned != nil && s.pinned.pins(p.Name) {
		filters = []releaseFilter{s.pinned}
	}
	if len(filters) == 0 {
		return nil
	}
	// each release is judged against the releases still live, as bandersnatch
	// deletes from the dict it iterates; dropping is a mark, not a copy
	p.dropped, p.live, p.order = map[string]bool{}, len(p.Releases), nil
	defer func() { p.dropped, p.order = nil, nil }()
	for _, r := range p.Releases {
		keep := true
		for _, rf := range filters {
			ok, err := rf.keep(p, r.Version)
			if err != nil {
				return fmt.Errorf("%s: release %s: %w", rf.name(), r.Version, err)
			}
			if !ok {
				keep = false
				break
			}
		}
		if !keep {
			p.dropped[r.Version] = true
			p.live--
		}
	}
	p.Releases = slices.DeleteFunc(p.Releases, func(r *Release) bool { return p.dropped[r.Version] })
	return nil
}

// loader reads plugin settings and remembers what it read for the fingerprint.
type loader struct {
	f      *configparser.File
	path   string
	strict bool
	read   []string
	err    error // the first setting that could not be read
}

// get returns a key's value, as bandersnatch reads it (interpolated), or
// ok=false when the key is absent or cannot be read (then l.err says why).
func (l *loader) get(section, key string) (string, bool) {
	if !l.f.HasOption(section, key) {
		return "", false
	}
	v, err := l.f.Get(section, key)
	if err != nil {
		if l.err == nil {
			l.err = err
		}
		return "", false
	}
	l.read = append(l.read, section+"."+key+"="+v)
	return v, true
}

// lines returns a key's non-empty lines, or ok=false when the key is absent.
func (l *loader) lines(section, key string) (lines []string, ok bool) {
	v, ok := l.get(section, key)
	if !ok {
		return nil, false
	}
	for _, line := range strings.Split(v, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			lines = append(lines, line)
		}
	}
	return lines, true
}

// need reports a missing setting of a plugin named explicitly.
func (l *loader) need(plugin, section, key string) error {
	if !l.strict {
		return nil
	}
	return &ConfigError{l.path, section, key, fmt.Sprintf("plugin %s is enabled but this setting is missing: add it, or remove %s from [plugins] enabled", plugin, plugin)}
}

// setting is one key of a section and its value.
type setting struct{ name, value string }

// Name is the key as written.
func (k setting) Name() string { return k.name }

// String is the value, interpolated.
func (k setting) String() string { return k.value }

// keys returns a section's keys in file order (then [DEFAULT]'s, as a
// section proxy lists them), for the metadata plugins.
func (l *loader) keys(section string) []setting {
	if !l.f.HasSection(section) {
		return nil
	}
	var ks []setting
	for _, k := range l.f.Options(section) {
		if v, ok := l.get(section, k); ok {
			ks = append(ks, setting{k, v})
		}
	}
	return ks
}

func (l *loader) digest() string {
	sort.Strings(l.read)
	h := sha256.Sum256([]byte(strings.Join(l.read, "\x00")))
	return hex.EncodeToString(h[:8])
}

func (l *loader) fail(section, key, msg string) error {
	return &ConfigError{l.path, section, key, msg}
}

// add builds the plugin name from its config and adds it to the set; a
// name bandercheck does not know adds nothing.
func (l *loader) add(s *Set, name string) error {
	build, ok := plugins[name]
	if !ok {
		return nil
	}
	p, err := build(l, name)
	if err != nil {
		return err
	}
	if p.project != nil {
		s.project = append(s.project, p.project)
	}
	if p.metadata != nil {
		s.metadata = append(s.metadata, p.metadata)
	}
	if p.release != nil {
		s.release = append(s.release, p.release)
	}
	if p.file != nil {
		s.file = append(s.file, p.file)
	}
	if p.pinned != nil {
		s.pinned = p.pinned
	}
	s.need(p.paths, p.roots...)
	return nil
}

// need records the fields a metadata filter reads at its dotted paths.
func (s *Set) need(paths []string, roots ...string) {
	for _, p := range paths {
		root, rest, _ := strings.Cut(p, ".")
		field, _, _ := strings.Cut(rest, ".")
		if field == "" || !slices.Contains(roots, root) {
			continue
		}
		switch root {
		case "info":
			s.needInfo = append(s.needInfo, field)
		case "release_file":
			s.needFile = append(s.needFile, field)
		}
	}
}
