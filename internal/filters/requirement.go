package filters

import (
	"fmt"
	"regexp"
	"strings"
	"sync"

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

// The patterns are compiled when a filter first needs them, not at init:
// most processes load no filter (lazyRegexp).
var (
	reqName      = lazyRegexp(`^\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*`)
	reqExtras    = lazyRegexp(`^\[\s*(?:[A-Za-z0-9][A-Za-z0-9._-]*\s*(?:,\s*[A-Za-z0-9][A-Za-z0-9._-]*\s*)*)?\]\s*`)
	specClause   = lazyRegexp(`^\s*(~=|===|==|!=|<=|>=|<|>)\s*([^\s,;)]+)\s*$`)
	nonNameChars = lazyRegexp(`[-_.]+`)
)

// lazyRegexp is regexp.MustCompile(expr) made at its first use.
func lazyRegexp(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}

// Normalize is PEP 503 name normalization (packaging's canonicalize_name).
func Normalize(name string) string {
	return strings.ToLower(nonNameChars().ReplaceAllString(name, "-"))
}

// parseRequirement parses one requirement line, without comments.
func parseRequirement(line string) (requirement, error) {
	m := reqName().FindStringSubmatch(line)
	if m == nil {
		return requirement{}, fmt.Errorf("%q is not a requirement: it must start with a project name", line)
	}
	r := requirement{raw: m[1], name: Normalize(m[1])}
	rest := line[len(m[0]):]
	if e := reqExtras().FindString(rest); e != "" {
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
// Each clause is checked by go-pep440-version, except where it departs from
// packaging (the library bandersnatch uses): "~=" is rewritten as packaging
// does (">=V" and "==prefix.*"), and "<V" turns away the pre-releases of V's
// own release unless V is one.
type specifierSet struct {
	text    string
	clauses []clause
}

type clause struct {
	op      string
	version pep440.Version // for "<"
	set     pep440.Specifiers
}

var releasePart = lazyRegexp(`^([0-9]+)((?:a|b|c|rc)[0-9]+)$`)

// parseSpecifierSet parses "", ">=1.0" or ">=1.0,<2,!=1.5.*".
func parseSpecifierSet(s string) (specifierSet, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return specifierSet{}, nil
	}
	out := specifierSet{text: s}
	for _, c := range strings.Split(s, ",") {
		m := specClause().FindStringSubmatch(c)
		if m == nil {
			return specifierSet{}, fmt.Errorf("%q is not a PEP 440 specifier (e.g. >=1.0,<2)", strings.TrimSpace(c))
		}
		op, v := m[1], strings.ToLower(m[2])
		texts := []string{op + v}
		if op == "~=" {
			texts = []string{">=" + v, "==" + compatiblePrefix(v) + ".*"}
		}
		for _, text := range texts {
			set, err := pep440.NewSpecifiers(text, pep440.WithPreRelease(true))
			if err != nil {
				return specifierSet{}, fmt.Errorf("%q is not a PEP 440 specifier: %v", strings.TrimSpace(c), err)
			}
			cl := clause{op: op, set: set}
			if op == "<" {
				if cl.version, err = parseVersion(v); err != nil {
					return specifierSet{}, fmt.Errorf("%q is not a PEP 440 specifier: %v", strings.TrimSpace(c), err)
				}
			}
			out.clauses = append(out.clauses, cl)
		}
	}
	return out, nil
}

// compatiblePrefix is the release prefix of "~=V": V's release numbers up
// to its first suffix, less the last one ("2.0rc1" → "2", "1.4.5" → "1.4").
func compatiblePrefix(v string) string {
	var parts []string
	for _, p := range strings.Split(v, ".") {
		if m := releasePart().FindStringSubmatch(p); m != nil {
			parts = append(parts, m[1], m[2])
		} else {
			parts = append(parts, p)
		}
	}
	var release []string
	for _, p := range parts {
		if strings.HasPrefix(p, "dev") || strings.HasPrefix(p, "a") || strings.HasPrefix(p, "b") ||
			strings.HasPrefix(p, "c") || strings.HasPrefix(p, "rc") || strings.HasPrefix(p, "post") {
			break
		}
		release = append(release, p)
	}
	if len(release) > 1 {
		release = release[:len(release)-1]
	}
	return strings.Join(release, ".")
}

// contains tells whether v is in the set, pre-releases included (as
// bandersnatch sets prereleases=True on every specifier it reads).
func (s specifierSet) contains(v pep440.Version) bool {
	for _, c := range s.clauses {
		if !c.set.Check(v) {
			return false
		}
		if c.op == "<" && !isPrerelease(c.version) && isPrerelease(v) && sameRelease(v, c.version) {
			return false
		}
	}
	return true
}

// isPrerelease tells whether v has a pre-release or development segment.
func isPrerelease(v pep440.Version) bool {
	rest := strings.TrimPrefix(v.Public(), v.BaseVersion())
	return strings.HasPrefix(rest, "a") || strings.HasPrefix(rest, "b") || strings.HasPrefix(rest, "rc") || strings.Contains(rest, ".dev")
}

// sameRelease compares the base versions (epoch and release) of a and b.
func sameRelease(a, b pep440.Version) bool {
	va, err1 := parseVersion(a.BaseVersion())
	vb, err2 := parseVersion(b.BaseVersion())
	return err1 == nil && err2 == nil && va.Equal(vb)
}

// empty tells whether the set has no clause.
func (s specifierSet) empty() bool { return s.text == "" }

// parseVersion parses a PEP 440 version, case-insensitively as packaging does.
func parseVersion(s string) (pep440.Version, error) {
	return pep440.Parse(strings.ToLower(strings.TrimSpace(s)))
}
