package filecheck

import (
	"fmt"
	"regexp"
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

// kinds maps the text after "CHECK" to a directive kind.
var kinds = map[string]kind{
	"":       kCheck,
	"-NEXT":  kNext,
	"-SAME":  kSame,
	"-NOT":   kNot,
	"-LABEL": kLabel,
}

var kindNames = map[kind]string{
	kCheck: "CHECK",
	kNext:  "CHECK-NEXT",
	kSame:  "CHECK-SAME",
	kNot:   "CHECK-NOT",
	kLabel: "CHECK-LABEL",
}

func (k kind) String() string { return kindNames[k] }

// positive reports whether a directive of kind k matches text (rather than
// forbidding it).
func (k kind) positive() bool { return k != kNot }

// directive is one check line.
type directive struct {
	kind    kind
	pattern string // whitespace-normalised
	line    int    // 1-based line in the check file
}

func (d directive) String() string {
	return fmt.Sprintf("check line %d: %s: %q", d.line, d.kind, d.pattern)
}

// directiveRE finds a directive inside a `//` comment. The suffix is matched
// loosely so that a misspelt or unsupported one (CHECK-DAG) is reported
// instead of silently ignored.
var directiveRE = regexp.MustCompile(`//\s*CHECK([A-Z-]*):(.*)$`)

// parseDirectives reads the directives of a check file in order.
func parseDirectives(src string) ([]directive, error) {
	var ds []directive
	for i, line := range strings.Split(src, "\n") {
		m := directiveRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		d := directive{line: i + 1, pattern: normalize(strings.TrimSpace(m[2]))}
		k, ok := kinds[m[1]]
		if !ok {
			return nil, fmt.Errorf("check line %d: unsupported directive CHECK%s", d.line, m[1])
		}
		d.kind = k
		if d.pattern == "" {
			return nil, fmt.Errorf("check line %d: %s has an empty pattern", d.line, k)
		}
		ds = append(ds, d)
	}
	if len(ds) == 0 {
		return nil, fmt.Errorf("no CHECK directives found")
	}
	return ds, validate(ds)
}

// validate rejects CHECK-NEXT and CHECK-SAME with no positive match before
// them: they would have nothing to be relative to.
func validate(ds []directive) error {
	seenPositive := false
	for _, d := range ds {
		if (d.kind == kNext || d.kind == kSame) && !seenPositive {
			return fmt.Errorf("check line %d: %s has no earlier CHECK to follow", d.line, d.kind)
		}
		if d.kind.positive() {
			seenPositive = true
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
		if r == ' ' || r == '\t' || r == '\r' {
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
