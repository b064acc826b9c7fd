package filecheck

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// kind is a directive's kind.
type kind int

const (
	kCheck kind = iota
	kNext
	kSame
	kNot
	kLabel
)

// suffixes maps the text after a prefix ("CHECK", or one a RUN line names)
// to a directive kind.
var suffixes = map[string]kind{
	"":       kCheck,
	"-NEXT":  kNext,
	"-SAME":  kSame,
	"-NOT":   kNot,
	"-LABEL": kLabel,
}

// positive reports whether a directive of kind k matches text (rather than
// forbidding it).
func (k kind) positive() bool { return k != kNot }

// directive is one check line.
type directive struct {
	kind    kind
	prefix  string // CHECK, or the RUN line's --check-prefix
	name    string // the directive as written: CHECK-NEXT, FOO-NOT, ...
	pattern string // whitespace-normalised
	pat     pattern
	line    int // 1-based line in the check file
}

// DefaultPrefix is the directive prefix when a RUN line names none.
const DefaultPrefix = "CHECK"

// prefixRE is what a prefix may be, as in LLVM: it must not be mistaken
// for a directive's suffix or the colon after it.
var prefixRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]*$`)

// checkPrefixes rejects prefixes that could not be told apart.
func checkPrefixes(prefixes []string) error {
	seen := map[string]bool{}
	for _, p := range prefixes {
		if !prefixRE.MatchString(p) {
			return fmt.Errorf("check prefix %q: want a letter, then letters, digits, '-' or '_'", p)
		}
		if seen[p] {
			return fmt.Errorf("check prefix %q given twice", p)
		}
		seen[p] = true
	}
	return nil
}

// unsupportedRE is LLVM's directives this FileCheck lacks: reported, since
// ignoring them would pass checks that were never made. Any other unknown
// suffix is left alone: FOO-BAR: may be another run's prefix.
var unsupportedRE = regexp.MustCompile(`^-(DAG|EMPTY|COUNT-[0-9]+)$`)

// directiveRE finds a directive of one of prefixes inside a `//` comment.
// Longer prefixes come first, so that with FOO and FOO-BAR a `FOO-BAR:`
// line belongs to FOO-BAR. The suffix is matched loosely, to be looked up
// in suffixes and unsupportedRE.
func directiveRE(prefixes []string) *regexp.Regexp {
	ps := slices.Clone(prefixes)
	slices.SortFunc(ps, func(a, b string) int { return len(b) - len(a) })
	for i, p := range ps {
		ps[i] = regexp.QuoteMeta(p)
	}
	return regexp.MustCompile(`//\s*(` + strings.Join(ps, "|") + `)(-[A-Za-z0-9_-]*)?:(.*)$`)
}

// parseDirectives reads the directives of a check file in order. at names
// a check line in errors (file:line).
func parseDirectives(src string, prefixes []string, at func(int) string) ([]directive, error) {
	re := directiveRE(prefixes)
	used := map[string]bool{}
	var ds []directive
	for i, line := range strings.Split(src, "\n") {
		m := re.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		d := directive{line: i + 1, prefix: m[1], name: m[1] + m[2], pattern: normalize(strings.TrimSpace(m[3]))}
		k, ok := suffixes[m[2]]
		if !ok && unsupportedRE.MatchString(m[2]) {
			return nil, fmt.Errorf("%s: unsupported directive %s", at(d.line), d.name)
		}
		if !ok {
			continue
		}
		d.kind = k
		if d.pattern == "" {
			return nil, fmt.Errorf("%s: %s has an empty pattern", at(d.line), d.name)
		}
		var err error
		if d.pat, err = parsePattern(d.pattern); err != nil {
			return nil, fmt.Errorf("%s: %s: %v", at(d.line), d.name, err)
		}
		used[d.prefix] = true
		ds = append(ds, d)
	}
	// A prefix with no directive is most likely misspelt, in the RUN line
	// or in the checks; either way its run would check nothing.
	for _, p := range prefixes {
		if !used[p] {
			return nil, fmt.Errorf("no %s directives found", p)
		}
	}
	if err := validate(ds, at); err != nil {
		return nil, err
	}
	return ds, checkVars(ds, at)
}

// validate rejects CHECK-NEXT and CHECK-SAME with no positive match before
// them: they would have nothing to be relative to.
func validate(ds []directive, at func(int) string) error {
	seenPositive := false
	for _, d := range ds {
		if (d.kind == kNext || d.kind == kSame) && !seenPositive {
			return fmt.Errorf("%s: %s has no earlier %s to follow", at(d.line), d.name, d.prefix)
		}
		if d.kind.positive() {
			seenPositive = true
		}
	}
	return nil
}

// checkVars checks the variables in file order: a use needs a definition
// in an earlier directive; a CHECK-NOT defines nothing (it never matches);
// a CHECK-LABEL neither defines nor uses (labels are found before any
// other directive runs). Each use learns its definition's line, for the
// error when that definition never matched.
func checkVars(ds []directive, at func(int) string) error {
	defined := map[string]int{} // variable → line of its latest definition
	for _, d := range ds {
		here := map[string]bool{}
		for i := range d.pat.pieces {
			pc := &d.pat.pieces[i]
			switch {
			case pc.kind == pDef && d.kind == kNot:
				return fmt.Errorf("%s: %s cannot define [[%s]]: it never matches", at(d.line), d.name, pc.name)
			case (pc.kind == pDef || pc.kind == pUse) && d.kind == kLabel:
				return fmt.Errorf("%s: %s cannot define or use [[%s]]: labels are found before any variable has a value", at(d.line), d.name, pc.name)
			case pc.kind == pDef:
				here[pc.name] = true
			case pc.kind == pUse && here[pc.name]:
				return fmt.Errorf("%s: [[%s]] is used in the pattern that defines it; not supported", at(d.line), pc.name)
			case pc.kind == pUse && defined[pc.name] == 0:
				return fmt.Errorf("%s: %s uses undefined variable [[%s]] (no earlier directive defines it)", at(d.line), d.name, pc.name)
			case pc.kind == pUse:
				pc.defLine = defined[pc.name]
			}
		}
		for name := range here {
			defined[name] = d.line
		}
	}
	return nil
}

// normalize collapses each run of spaces and tabs into one space, as
// FileCheck does unless --strict-whitespace is given.
func normalize(s string) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		if isSpace(r) {
			space = true
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	if space {
		b.WriteByte(' ')
	}
	return b.String()
}

func isSpace(r rune) bool { return r == ' ' || r == '\t' || r == '\r' }
