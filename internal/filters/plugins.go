package filters

import "strings"

// plugin is what a plugin's builder makes from its config: its filter, in
// the field of its kind (all nil: the plugin is on but has nothing to do),
// and the metadata paths it reads, of which those under roots are fetched.
type plugin struct {
	project  nameFilter
	metadata metadataFilter
	release  releaseFilter
	file     fileFilter
	pinned   *allowRelease
	paths    []string
	roots    []string
}

// plugins builds each filter plugin bandercheck knows by its name in
// [plugins] enabled.
var plugins = map[string]func(l *loader, name string) (plugin, error){
	"allowlist_project": func(l *loader, name string) (plugin, error) {
		names, err := l.allowNames(name)
		return plugin{project: &allowProject{plugin: name, names: names}}, err
	},
	"project_requirements": func(l *loader, name string) (plugin, error) {
		reqs, err := l.requirementFiles(name)
		names := map[string]bool{}
		for _, r := range reqs {
			names[r.name] = true
		}
		return plugin{project: &allowProject{plugin: name, names: names}}, err
	},
	"blocklist_project": func(l *loader, name string) (plugin, error) {
		f, err := l.blockProject()
		if err != nil {
			return plugin{}, err
		}
		return plugin{project: f}, nil
	},
	"regex_project": func(l *loader, name string) (plugin, error) {
		pats, err := l.patterns(name, "filter_regex", "packages")
		return plugin{project: &regexProject{pats}}, err
	},
	"regex_project_metadata": func(l *loader, name string) (plugin, error) {
		f, err := l.regexMetadata(name, name)
		if err != nil {
			return plugin{}, err
		}
		return plugin{metadata: projectRegex{f}, paths: f.paths(), roots: []string{"info"}}, nil
	},
	"size_project_metadata": func(l *loader, name string) (plugin, error) {
		f, err := l.sizeProject()
		if err != nil || f == nil {
			return plugin{}, err
		}
		return plugin{metadata: f}, nil
	},
	"versions_count_project_metadata": func(l *loader, name string) (plugin, error) {
		f, err := l.versionsCount()
		if err != nil || f == nil {
			return plugin{}, err
		}
		return plugin{metadata: f}, nil
	},
	"allowlist_release": listRelease,
	"blocklist_release": listRelease,
	"project_requirements_pinned": func(l *loader, name string) (plugin, error) {
		reqs, err := l.requirementFiles(name)
		return plugin{pinned: &allowRelease{plugin: name, reqs: reqs}}, err
	},
	"prerelease_release": func(l *loader, name string) (plugin, error) {
		f := &prerelease{}
		if lines, ok := l.lines("filter_prerelease", "packages"); ok {
			for _, line := range lines {
				f.only = append(f.only, Normalize(line))
			}
		}
		return plugin{release: f}, nil
	},
	"regex_release": func(l *loader, name string) (plugin, error) {
		pats, err := l.patterns(name, "filter_regex", "releases")
		return plugin{release: &regexRelease{pats}}, err
	},
	"latest_release": func(l *loader, name string) (plugin, error) {
		f, err := l.latest()
		if err != nil || f == nil {
			return plugin{}, err
		}
		return plugin{release: f}, nil
	},
	"exclude_platform": func(l *loader, name string) (plugin, error) {
		f, err := l.excludePlatform()
		if err != nil {
			return plugin{}, err
		}
		return plugin{file: f}, nil
	},
	"regex_release_file_metadata": func(l *loader, name string) (plugin, error) {
		f, err := l.regexMetadata(name, name)
		if err != nil {
			return plugin{}, err
		}
		return plugin{file: f, paths: f.paths(), roots: []string{"release_file", "info"}}, nil
	},
	"version_range_release_file_metadata": func(l *loader, name string) (plugin, error) {
		f, err := l.versionRange()
		if err != nil {
			return plugin{}, err
		}
		return plugin{file: f, paths: f.paths(), roots: []string{"release_file", "info"}}, nil
	},
}

// listRelease is allowlist_release and blocklist_release: requirement lines
// from [allowlist] or [blocklist] packages.
func listRelease(l *loader, name string) (plugin, error) {
	section := strings.TrimSuffix(name, "_release")
	lines, ok := l.lines(section, "packages")
	if !ok {
		if err := l.need(name, section, "packages"); err != nil {
			return plugin{}, err
		}
	}
	var reqs []requirement
	for _, line := range lines {
		if name == "allowlist_release" {
			if strings.HasPrefix(line, "#") || strings.HasPrefix(line, "-") {
				continue
			}
			line, _, _ = strings.Cut(line, "#")
		} else if strings.HasPrefix(line, "#") {
			continue
		}
		r, err := parseRequirement(line)
		if err != nil {
			return plugin{}, l.fail(section, "packages", err.Error())
		}
		reqs = append(reqs, r)
	}
	if name == "allowlist_release" {
		return plugin{release: &allowRelease{plugin: name, reqs: reqs}}, nil
	}
	return plugin{release: &blockRelease{reqs}}, nil
}
