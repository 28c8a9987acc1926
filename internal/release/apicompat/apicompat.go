// Package apicompat reads what apidiff reports incompatible in a package's
// Go API and holds it to the changelog: an incompatible change must be
// named in CHANGELOG.md's Unreleased section, so that the next version
// says so (a minor version while the major is 0, semantic versioning).
package apicompat

import (
	"regexp"
	"strings"
)

// Change is one incompatible change apidiff reports: the identifier, e.g.
// "(*FleetApi).Alarms", and what happened to it.
type Change struct{ Identifier, What string }

// Name is the changed name itself: Alarms for (*FleetApi).Alarms.
func (c Change) Name() string {
	return c.Identifier[strings.LastIndex(c.Identifier, ".")+1:]
}

// Parse reads `apidiff -incompatible`'s lines "- IDENTIFIER: WHAT".
func Parse(output string) []Change {
	var out []Change
	for line := range strings.Lines(output) {
		id, what, ok := strings.Cut(strings.TrimPrefix(strings.TrimSpace(line), "- "), ": ")
		if ok && strings.HasPrefix(strings.TrimSpace(line), "- ") {
			out = append(out, Change{Identifier: id, What: strings.TrimSpace(what)})
		}
	}
	return out
}

// Unreleased is the Unreleased section of a Keep a Changelog file: from
// its heading to the next version's.
func Unreleased(changelog string) string {
	i := strings.Index(changelog, "## [Unreleased]")
	if i < 0 {
		return ""
	}
	rest := changelog[i+len("## [Unreleased]"):]
	if j := strings.Index(rest, "\n## "); j >= 0 {
		rest = rest[:j]
	}
	return rest
}

var named = regexp.MustCompile("`([A-Za-z_][A-Za-z0-9_]*)(\\*?)`")

// Uncovered returns the changes whose name the section does not name in
// backquotes, `Alarms`, or by a prefix, `CreateVehicle*`.
func Uncovered(changes []Change, section string) []Change {
	var exact, prefixes []string
	for _, m := range named.FindAllStringSubmatch(section, -1) {
		if m[2] == "*" {
			prefixes = append(prefixes, m[1])
		} else {
			exact = append(exact, m[1])
		}
	}
	var out []Change
	for _, c := range changes {
		covered := false
		for _, e := range exact {
			covered = covered || e == c.Name()
		}
		for _, p := range prefixes {
			covered = covered || strings.HasPrefix(c.Name(), p)
		}
		if !covered {
			out = append(out, c)
		}
	}
	return out
}
