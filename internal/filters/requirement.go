package filters

import (
	"fmt"
	"regexp"
	"strings"

	pep440 "github.com/aquasecurity/go-pep440-version"
)

// requirement is a PEP 508 requirement as bandersnatch reads one from a
// config or requirements line: a name and a version specifier; extras,
// markers and URLs are accepted and ignored, as bandersnatch's filters do.
type requirement struct {
	raw       string // the name as written
	name      string // normalized
	specifier specifierSet
}

var (
	reqName      = regexp.MustCompile(`^\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*`)
	reqExtras    = regexp.MustCompile(`^\[\s*(?:[A-Za-z0-9][A-Za-z0-9._-]*\s*(?:,\s*[A-Za-z0-9][A-Za-z0-9._-]*\s*)*)?\]\s*`)
	specClause   = regexp.MustCompile(`^\s*(~=|===|==|!=|<=|>=|<|>)\s*([^\s,;)]+)\s*$`)
	nonNameChars = regexp.MustCompile(`[-_.]+`)
)

// Normalize is PEP 503 name normalization (packaging's canonicalize_name).
func Normalize(name string) string {
	return strings.ToLower(nonNameChars.ReplaceAllString(name, "-"))
}

// parseRequirement parses one requirement line, without comments.
func parseRequirement(line string) (requirement, error) {
	m := reqName.FindStringSubmatch(line)
	if m == nil {
		return requirement{}, fmt.Errorf("%q is not a requirement: it must start with a project name", line)
	}
	r := requirement{raw: m[1], name: Normalize(m[1])}
	rest := line[len(m[0]):]
	if e := reqExtras.FindString(rest); e != "" {
		rest = rest[len(e):]
	} else if strings.HasPrefix(rest, "[") {
		return requirement{}, fmt.Errorf("%q: malformed extras", line)
	}
	if strings.HasPrefix(rest, "@") { // a URL requirement: no specifier
		return r, nil
	}
	spec, _, _ := strings.Cut(rest, ";") // markers are not the filters' business
	spec = strings.TrimSpace(spec)
	if strings.HasPrefix(spec, "(") {
		if !strings.HasSuffix(spec, ")") {
			return requirement{}, fmt.Errorf("%q: unbalanced parenthesis", line)
		}
		spec = strings.TrimSpace(spec[1 : len(spec)-1])
	}
	s, err := parseSpecifierSet(spec)
	if err != nil {
		return requirement{}, fmt.Errorf("%q: %w", line, err)
	}
	r.specifier = s
	return r, nil
}

// specifierSet is a PEP 440 specifier set; the empty set holds every version.
type specifierSet struct {
	text string
	set  pep440.Specifiers
}

// parseSpecifierSet parses "", ">=1.0" or ">=1.0,<2,!=1.5.*".
func parseSpecifierSet(s string) (specifierSet, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return specifierSet{}, nil
	}
	var clauses []string
	for _, c := range strings.Split(s, ",") {
		m := specClause.FindStringSubmatch(c)
		if m == nil {
			return specifierSet{}, fmt.Errorf("%q is not a PEP 440 specifier (e.g. >=1.0,<2)", strings.TrimSpace(c))
		}
		if m[1] == "===" { // arbitrary equality: packaging compares the strings
			clauses = append(clauses, m[1]+m[2])
			continue
		}
		v := strings.ToLower(m[2])
		if _, err := pep440.NewSpecifiers(m[1] + v); err != nil {
			return specifierSet{}, fmt.Errorf("%q is not a PEP 440 specifier: %v", strings.TrimSpace(c), err)
		}
		clauses = append(clauses, m[1]+v)
	}
	set, err := pep440.NewSpecifiers(strings.Join(clauses, ","), pep440.WithPreRelease(true))
	if err != nil {
		return specifierSet{}, fmt.Errorf("%q is not a PEP 440 specifier set: %v", s, err)
	}
	return specifierSet{text: s, set: set}, nil
}

// contains tells whether v is in the set, pre-releases included (as
// bandersnatch sets prereleases=True on every specifier it reads).
func (s specifierSet) contains(v pep440.Version) bool {
	if s.text == "" {
		return true
	}
	return s.set.Check(v)
}

// empty tells whether the set has no clause.
func (s specifierSet) empty() bool { return s.text == "" }

// parseVersion parses a PEP 440 version, case-insensitively as packaging does.
func parseVersion(s string) (pep440.Version, error) {
	return pep440.Parse(strings.ToLower(strings.TrimSpace(s)))
}
