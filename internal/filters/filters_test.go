package filters

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bandercheck/bandercheck/internal/configparser"
)

// load parses a config the way sources.ReadConfig does.
func load(t *testing.T, conf string) (*Set, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "bandersnatch.conf")
	os.WriteFile(path, []byte(conf), 0o644)
	f := configparser.New()
	if err := f.Read(path, []byte(conf)); err != nil {
		t.Fatal(err)
	}
	return Load(f, path)
}

func mustLoad(t *testing.T, conf string) *Set {
	t.Helper()
	s, err := load(t, conf)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// project builds a project whose releases each hold one file named for it,
// unless files are given.
func project(name, current string, versions ...string) *Project {
	p := &Project{Name: name, Info: map[string]any{"name": name, "version": current}}
	for i, v := range versions {
		p.Releases = append(p.Releases, &Release{Version: v, Files: []*File{{Index: i,
			Fields: map[string]any{"filename": name + "-" + v + ".tar.gz", "packagetype": "sdist", "size": int64(10)}}}})
	}
	return p
}

func versionsOf(p *Project) []string {
	var out []string
	for _, r := range p.Releases {
		out = append(out, r.Version)
	}
	return out
}

// The release filter cases are bandersnatch 8's own plugin tests
// (tests/plugins/test_*.py), with the expected releases they assert.
func TestReleaseFilters(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, conf string
		p          *Project
		want       []string
	}{
		{"latest keep 2", "[plugins]\nenabled = latest_release\n[latest_release]\nkeep = 2\n",
			project("foo", "2.0.0", "1.0.0", "1.1.0", "1.1.1", "1.1.2", "1.1.3", "2.0.0"), []string{"1.1.3", "2.0.0"}},
		{"latest keeps info.version", "[plugins]\nenabled = latest_release\n[latest_release]\nkeep = 2\n",
			project("foo", "2.0.0", "1.0.0", "1.1.0", "1.1.1", "1.1.2", "1.1.3", "2.0.0", "2.0.1b1", "2.0.1b2"), []string{"2.0.0", "2.0.1b2"}},
		{"latest of another project", "[plugins]\nenabled = latest_release\n[latest_release]\nkeep = 2\n",
			project("bar", "0.3.0", "0.1.0", "0.1.1", "0.1.2", "0.1.3", "0.1.4", "0.1.5", "0.2.0", "0.3.0"), []string{"0.2.0", "0.3.0"}},
		{"latest keep more than there are", "[plugins]\nenabled = latest_release\n[latest_release]\nkeep = 9\n",
			project("foo", "1.1", "1.0", "1.1"), []string{"1.0", "1.1"}},
		{"blocklist release ==", "[plugins]\nenabled = blocklist_release\n[blocklist]\npackages =\n    foo==1.2.0\n",
			project("foo", "1.2.1", "1.2.0", "1.2.1"), []string{"1.2.1"}},
		{"blocklist release <= with pre-releases", "[plugins]\nenabled = blocklist_release\n[blocklist]\npackages =\n    foo<=1.2.0\n",
			project("foo", "1.2.1", "1.1.0a2", "1.1.1beta1", "1.2.0", "1.2.1", "1.2.2alpha3", "1.2.3rc1"), []string{"1.2.1", "1.2.2alpha3", "1.2.3rc1"}},
		{"blocklist release of another project", "[plugins]\nenabled = blocklist_release\n[blocklist]\npackages =\n    foo<=1.2.0\n",
			project("bar", "1.0", "1.0"), []string{"1.0"}},
		{"blocklist bare name blocks every release", "[plugins]\nenabled = blocklist_release\n[blocklist]\npackages =\n    Foo\n",
			project("foo", "1.0", "0.9", "1.0"), nil},
		{"allowlist release", "[plugins]\nenabled = allowlist_release\n[allowlist]\npackages =\n    foo>=1.2.0\n",
			project("foo", "1.2.1", "1.1.0", "1.2.0", "1.2.1"), []string{"1.2.0", "1.2.1"}},
		{"allowlist release drops unlisted projects", "[plugins]\nenabled = allowlist_release\n[allowlist]\npackages =\n    foo>=1.2.0\n",
			project("bar", "1.0", "1.0"), nil},
		{"allowlist release, comments and invalid versions", "[plugins]\nenabled = allowlist_release\n[allowlist]\npackages =\n    # a comment\n    foo==1.2.0 # inline\n",
			project("Foo", "1.2.0", "1.2.0", "1.2.1", "not-a-version"), []string{"1.2.0"}},
		{"prerelease", "[plugins]\nenabled = prerelease_release\n",
			project("foo", "1.2.0", "1.1.0a2", "1.1.1beta1", "1.2.0", "1.2.1", "1.2.2alpha3", "1.2.3rc1", "1.2.4dev1"), []string{"1.2.0", "1.2.1"}},
		{"prerelease of listed projects only", "[plugins]\nenabled = prerelease_release\n[filter_prerelease]\npackages =\n    foo\n",
			project("bar", "1.0", "1.0", "1.1rc1"), []string{"1.0", "1.1rc1"}},
		{"regex release", "[plugins]\nenabled = regex_release\n[filter_regex]\nreleases =\n    .+rc\\d$\n    .+alpha\\d$\n",
			project("foo", "1.2.0", "1.1.0a2", "1.1.1beta1", "1.2.0", "1.2.1", "1.2.2alpha3", "1.2.3rc1"), []string{"1.1.0a2", "1.1.1beta1", "1.2.0", "1.2.1"}},
		{"pinned requirements decide alone", "[plugins]\nenabled =\n    project_requirements_pinned\n    prerelease_release\n[allowlist]\nrequirements =\n    req.txt\n",
			project("foo", "1.0", "0.9", "1.0", "2.0rc1"), []string{"2.0rc1"}},
		{"unpinned requirements leave other filters", "[plugins]\nenabled =\n    project_requirements_pinned\n    prerelease_release\n[allowlist]\nrequirements =\n    req.txt\n",
			project("bar", "1.0", "1.0", "2.0rc1"), []string{"1.0"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "bandersnatch.conf")
			os.WriteFile(filepath.Join(filepath.Dir(path), "req.txt"), []byte("foo==2.0rc1\nbar\n-r other.txt\n"), 0o644)
			os.WriteFile(path, []byte(c.conf), 0o644)
			f := configparser.New()
			if err := f.Read(path, []byte(c.conf)); err != nil {
				t.Fatal(err)
			}
			s, err := Load(f, path)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Apply(c.p); err != nil {
				t.Fatal(err)
			}
			if got := versionsOf(c.p); !slices.Equal(got, c.want) {
				t.Errorf("kept %v, want %v", got, c.want)
			}
		})
	}
}

func TestLatestByUploadTime(t *testing.T) {
	t.Parallel()
	s := mustLoad(t, "[plugins]\nenabled = latest_release\n[latest_release]\nkeep = 2\nsort_by = time\n")
	p := project("foo", "2.0.0", "1.0.0", "1.1.0", "1.1.1", "1.1.1d", "1.1.2", "1.1.3", "2.0.0")
	for i, year := range []string{"2013", "2014", "2015", "2020", "2016", "2017", "2018"} {
		p.Releases[i].Files[0].Fields["upload_time_iso_8601"] = year + "-10-01T15:24:37.255645Z"
	}
	if err := s.Apply(p); err != nil {
		t.Fatal(err)
	}
	if got := versionsOf(p); !slices.Equal(got, []string{"1.1.1d", "2.0.0"}) {
		t.Errorf("kept %v", got)
	}
}

// TestExcludePlatform is bandersnatch's test_exclude_platform: every file
// flagged DROP goes, every KEEP stays, and a release left empty goes.
func TestExcludePlatform(t *testing.T) {
	t.Parallel()
	s := mustLoad(t, "[plugins]\nenabled =\n    exclude_platform\n[blocklist]\nplatforms =\n    windows\n    freebsd\n    macos\n    linux_armv7l\n    py3\n    py3.5\n    py3.7\n    py3.9\n")
	type file struct{ pt, name, flag string }
	releases := map[string][]file{
		"1.0": {{"sdist", "foobar-1.0-win32.tar.gz", "KEEP"}, {"bdist_msi", "foobar-1.0.msi", "DROP"}, {"bdist_wininst", "foobar-1.0.exe", "DROP"},
			{"bdist_dmg", "foobar-1.0.dmg", "DROP"}, {"bdist_wheel", "foobar-1.0-win32.zip", "DROP"}, {"bdist_wheel", "foobar-1.0-linux.tar.gz", "KEEP"},
			{"bdist_wheel", "foobar-1.0-manylinux1_i686.whl", "KEEP"}, {"bdist_wheel", "foobar-1.0-linux_armv7l.whl", "DROP"},
			{"bdist_wheel", "foobar-1.0-macosx_10_14_x86_64.whl", "DROP"}, {"bdist_egg", "foobar-1.0-win_amd64.zip", "DROP"}, {"unknown", "foobar-1.0-unknown", "KEEP"}},
		"0.1": {{"sdist", "foobar-0.1-win32.msi", "KEEP"}, {"bdist_wheel", "foobar-0.1-win32.whl", "DROP"}, {"bdist_wheel", "foobar-0.1-py3-none-any.whl", "DROP"}},
		"0.2": {{"bdist_egg", "foobar-0.1-freebsd-6.0-RELEASE-i386.egg", "DROP"}},
		"0.3": {{"bdist_wheel", "foobar-0.3-cp35-cp35m-manylinux1_x86_64.whl", "DROP"}, {"bdist_wheel", "foobar-0.3-cp36-cp36m-manylinux1_x86_64.whl", "KEEP"},
			{"bdist_wheel", "foobar-0.3-cp37-manylinux1_x86_64.whl", "DROP"}, {"bdist_wheel", "foobar-0.3-pp38-pypy38-manylinux1_x86_64.whl", "KEEP"},
			{"bdist_wheel", "foobar-0.3-cp39-cp39m-manylinux1_x86_64.whl", "DROP"}},
	}
	p := &Project{Name: "foobar", Info: map[string]any{"name": "foobar", "version": "1.0"}}
	keep := 0
	for _, v := range []string{"1.0", "0.1", "0.2", "0.3"} {
		r := &Release{Version: v}
		for _, f := range releases[v] {
			r.Files = append(r.Files, &File{Fields: map[string]any{"packagetype": f.pt, "filename": f.name, "flag": f.flag}})
			if f.flag == "KEEP" {
				keep++
			}
		}
		p.Releases = append(p.Releases, r)
	}
	if err := s.Apply(p); err != nil {
		t.Fatal(err)
	}
	kept := 0
	for _, r := range p.Releases {
		for _, f := range r.Files {
			if f.Fields["flag"] != "KEEP" {
				t.Errorf("kept %v", f.Fields["filename"])
			}
			kept++
		}
	}
	if kept != keep || len(p.Releases) != 3 {
		t.Errorf("kept %d files of %d to keep, in %d releases (want 3)", kept, keep, len(p.Releases))
	}
}

func TestExcludeLinuxPEP600(t *testing.T) {
	t.Parallel()
	s := mustLoad(t, "[plugins]\nenabled = exclude_platform\n[blocklist]\nplatforms = linux\n")
	p := &Project{Name: "foobar", Info: map[string]any{"name": "foobar"}, Releases: []*Release{{Version: "1.0"}}}
	for _, n := range []string{"foobar-1.0-py3-none-any.whl", "foobar-1.0-cp312-cp312-manylinux_2_17_x86_64.whl",
		"foobar-1.0-cp312-cp312-manylinux2014_x86_64.whl", "foobar-1.0-cp312-cp312-musllinux_1_1_x86_64.whl", "manylinux_foo-1.0-py3-none-any.whl"} {
		p.Releases[0].Files = append(p.Releases[0].Files, &File{Fields: map[string]any{"packagetype": "bdist_wheel", "filename": n}})
	}
	s.Apply(p)
	var got []string
	for _, f := range p.Releases[0].Files {
		got = append(got, f.Fields["filename"].(string))
	}
	if !slices.Equal(got, []string{"foobar-1.0-py3-none-any.whl", "manylinux_foo-1.0-py3-none-any.whl"}) {
		t.Errorf("kept %v", got)
	}
}

func TestReleaseFileMetadataFilters(t *testing.T) {
	t.Parallel()
	files := func() *Project {
		p := &Project{Name: "foo", Info: map[string]any{"name": "foo", "classifiers": []any{"Programming Language :: Python :: 3", "License :: OSI Approved"}},
			Releases: []*Release{{Version: "1.0"}}}
		for _, rp := range []any{">=3.8", ">=2.7,<3", nil, ""} {
			p.Releases[0].Files = append(p.Releases[0].Files, &File{Fields: map[string]any{"filename": "f", "requires_python": rp, "packagetype": "bdist_wheel"}})
		}
		return p
	}
	s := mustLoad(t, "[plugins]\nenabled = version_range_release_file_metadata\n[version_range_release_file_metadata]\nrelease_file.requires_python =\n    3.10\n")
	p := files()
	if err := s.Apply(p); err != nil {
		t.Fatal(err)
	}
	if n := len(p.Releases[0].Files); n != 3 { // >=3.8 and the two without a value
		t.Errorf("version range kept %d files, want 3", n)
	}
	s = mustLoad(t, "[plugins]\nenabled = version_range_release_file_metadata\n[version_range_release_file_metadata]\nnot-null:release_file.requires_python =\n    3.10\n")
	p = files()
	s.Apply(p)
	if n := len(p.Releases[0].Files); n != 2 { // >=3.8, and "" (every version)
		t.Errorf("not-null version range kept %d files, want 2", n)
	}
	s = mustLoad(t, "[plugins]\nenabled = regex_release_file_metadata\n[regex_release_file_metadata]\nrelease_file.packagetype =\n    sdist\ninfo.classifiers =\n    Programming Language :: Python :: 3\n")
	p = files()
	s.Apply(p)
	if len(p.Releases) != 0 {
		t.Errorf("no file is an sdist, yet %d releases stayed", len(p.Releases))
	}
	if info, file := s.Needs(); !slices.Equal(info, []string{"classifiers"}) || !slices.Equal(file, []string{"packagetype"}) {
		t.Errorf("needs %v %v", info, file)
	}
}

func TestProjectFilters(t *testing.T) {
	t.Parallel()
	s := mustLoad(t, "[plugins]\nenabled =\n    blocklist_project\n    regex_project\n[blocklist]\npackages =\n    Foo_Bar\n    baz==1.0\n[filter_regex]\npackages =\n    .+-evil$\n")
	for name, want := range map[string]string{"foo-bar": "blocklist_project", "FOO.BAR": "blocklist_project", "baz": "", "x-evil": "regex_project", "evil": ""} {
		if got := s.ExcludesName(name); got != want {
			t.Errorf("%s: excluded by %q, want %q", name, got, want)
		}
	}
	s = mustLoad(t, "[plugins]\nenabled = allowlist_project\n[allowlist]\npackages =\n    Django>=4 # the web\n    requests\n")
	for name, want := range map[string]string{"django": "", "Requests": "", "flask": "allowlist_project"} {
		if got := s.ExcludesName(name); got != want {
			t.Errorf("%s: excluded by %q, want %q", name, got, want)
		}
	}
	s = mustLoad(t, "[plugins]\nenabled =\n    size_project_metadata\n    versions_count_project_metadata\n[size_project_metadata]\nmax_package_size = 15\n[versions_count_project_metadata]\nmax_versions = 1\n")
	for _, c := range []struct {
		p    *Project
		want string
	}{{project("small", "1", "1"), ""}, {project("big", "1", "1", "2"), "size_project_metadata"}} {
		if got, err := s.ExcludesProject(c.p); err != nil || got != c.want {
			t.Errorf("%s: excluded by %q (%v), want %q", c.p.Name, got, err, c.want)
		}
	}
}

// TestBadConfigs names the file, section and key of every bad setting.
func TestBadConfigs(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ conf, want string }{
		{"[plugins]\nenabled = exclude_platforms\n", "[plugins] enabled: unknown plugin \"exclude_platforms\""},
		{"[plugins]\nenabled = exclude_platform\n", "[blocklist] platforms: plugin exclude_platform is enabled but this setting is missing"},
		{"[plugins]\nenabled = blocklist_release\n[blocklist]\npackages =\n    foo>=>1\n", "[blocklist] packages: \"foo>=>1\""},
		{"[plugins]\nenabled = allowlist_release\n[allowlist]\npackages =\n    foo>=1.x\n", "[allowlist] packages: \"foo>=1.x\""},
		{"[plugins]\nenabled = regex_release\n[filter_regex]\nreleases =\n    (unclosed\n", "[filter_regex] releases: pattern \"(unclosed\""},
		{"[plugins]\nenabled = regex_release\n[filter_regex]\nreleases =\n    (?<=a)b\n", "[filter_regex] releases: pattern"},
		{"[plugins]\nenabled = latest_release\n[latest_release]\nkeep = two\n", "[latest_release] keep: \"two\""},
		{"[plugins]\nenabled = latest_release\n[latest_release]\nkeep = 2\nsort_by = size\n", "[latest_release] sort_by"},
		{"[plugins]\nenabled = project_requirements\n[allowlist]\nrequirements = missing.txt\n", "[allowlist] requirements: requirements file"},
		{"[plugins]\nenabled = version_range_release_file_metadata\n[version_range_release_file_metadata]\nrelease_file.requires_python = three\n", "release_file.requires_python: \"three\" is not a PEP 440 version"},
		{"[plugins]\nenabled = size_project_metadata\n[size_project_metadata]\nmax_package_size = lots\n", "[size_project_metadata] max_package_size"},
	} {
		_, err := load(t, c.conf)
		var ce *ConfigError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "bandersnatch.conf") {
			t.Errorf("config %q: %v\nwant a ConfigError with %q", c.conf, err, c.want)
		}
	}
}

func TestFingerprintFollowsSettings(t *testing.T) {
	t.Parallel()
	a := mustLoad(t, "[plugins]\nenabled = prerelease_release\n")
	b := mustLoad(t, "[plugins]\nenabled = prerelease_release\n[filter_prerelease]\npackages = foo\n")
	none := mustLoad(t, "[mirror]\njson = true\n")
	if a.Fingerprint() == b.Fingerprint() || none.Fingerprint() != "none" || a.FiltersFiles() != true || none.FiltersFiles() {
		t.Errorf("fingerprints %q %q %q", a.Fingerprint(), b.Fingerprint(), none.Fingerprint())
	}
}
