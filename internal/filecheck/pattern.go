package filecheck

import (
	"fmt"
	"regexp"
	"strings"
)

// pieceKind is what one part of a pattern is.
type pieceKind int

const (
	pLiteral pieceKind = iota // text matched as is
	pRegex                    // {{re}}
	pDef                      // [[NAME:re]]: re, its match kept as NAME
	pUse                      // [[NAME]]: the text NAME last matched
)

// piece is one part of a pattern.
type piece struct {
	kind pieceKind
	text string // the literal or the regex; empty for a use
	name string // the variable of a definition or use
	// groups counts the capture groups of a regex or a definition's re,
	// counted when it is parsed: the joined pattern numbers its own after.
	groups int
	// defLine is, for a use, the check line of the latest definition above
	// it: named when the variable has no value at run time.
	defLine int
}

// pattern is a directive's pattern split into pieces.
type pattern struct {
	pieces []piece
}

// varNameRE is a variable's name: LLVM's, with its optional `$` kept as
// part of the name (every variable lives until the end of the file here).
var varNameRE = regexp.MustCompile(`^\$?[A-Za-z_][A-Za-z0-9_]*$`)

// unsupportedVars are LLVM's bracket forms this FileCheck does not have,
// by their first character, with what to say.
var unsupportedVars = map[byte]string{
	'#': "numeric variables ([[#...]]) are not supported",
	'@': "pseudo variables ([[@LINE]]) are not supported",
}

// parsePattern splits s, already whitespace-normalised, into literal text,
// {{regex}} blocks and [[variable]] definitions and uses.
func parsePattern(s string) (pattern, error) {
	var p pattern
	for s != "" {
		i := indexOpen(s)
		if i < 0 {
			p.pieces = append(p.pieces, piece{kind: pLiteral, text: s})
			break
		}
		if i > 0 {
			p.pieces = append(p.pieces, piece{kind: pLiteral, text: s[:i]})
		}
		var pc piece
		var n int
		var err error
		if strings.HasPrefix(s[i:], "{{") {
			pc, n, err = parseRegexBlock(s[i:])
		} else {
			pc, n, err = parseVar(s[i:])
		}
		if err != nil {
			return pattern{}, err
		}
		p.pieces = append(p.pieces, pc)
		s = s[i+n:]
	}
	return p, nil
}

// indexOpen is the index of the first "{{" or "[[" in s, or -1.
func indexOpen(s string) int {
	r, v := strings.Index(s, "{{"), strings.Index(s, "[[")
	switch {
	case r < 0:
		return v
	case v < 0:
		return r
	}
	return min(r, v)
}

// parseRegexBlock reads the "{{re}}" at the start of s; the regex ends at
// the first "}}", as in LLVM (so a regex ending in a brace goes in
// parentheses: {{(x{2})}}).
func parseRegexBlock(s string) (piece, int, error) {
	end := strings.Index(s[2:], "}}")
	if end < 0 {
		return piece{}, 0, fmt.Errorf("%q: {{ without a closing }}", s)
	}
	re := s[2 : 2+end]
	if re == "" {
		return piece{}, 0, fmt.Errorf("empty regex {{}}")
	}
	groups, err := checkRegex(re)
	if err != nil {
		return piece{}, 0, err
	}
	return piece{kind: pRegex, text: re, groups: groups}, 2 + end + 2, nil
}

// parseVar reads the "[[NAME]]" or "[[NAME:re]]" at the start of s. The
// closing "]]" is the first one outside the regex's own brackets, so
// [[X:[0-9]]] and [[X:[[:digit:]]+]] read as meant.
func parseVar(s string) (piece, int, error) {
	end := closingBrackets(s)
	if end < 0 {
		return piece{}, 0, fmt.Errorf("%q: [[ without a closing ]]", s)
	}
	body := s[2:end]
	if body != "" {
		if why, ok := unsupportedVars[body[0]]; ok {
			return piece{}, 0, fmt.Errorf("[[%s]]: %s", body, why)
		}
	}
	name, re, isDef := strings.Cut(body, ":")
	if !varNameRE.MatchString(name) {
		return piece{}, 0, fmt.Errorf("[[%s]]: %q is not a variable name (a letter or '_', then letters, digits or '_')", body, name)
	}
	n := end + 2
	if !isDef {
		return piece{kind: pUse, name: name}, n, nil
	}
	if re == "" {
		return piece{}, 0, fmt.Errorf("[[%s]]: empty regex for %s", body, name)
	}
	groups, err := checkRegex(re)
	if err != nil {
		return piece{}, 0, err
	}
	return piece{kind: pDef, text: re, name: name, groups: groups}, n, nil
}

// closingBrackets is the index of the "]]" that closes the "[[" at the
// start of s, or -1. Brackets inside are counted, and a backslash escapes
// the next character.
func closingBrackets(s string) int {
	depth := 0
	for i := 2; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '[':
			depth++
		case ']':
			if depth > 0 {
				depth--
			} else if i+1 < len(s) && s[i+1] == ']' {
				return i
			}
		}
	}
	return -1
}

// checkRegex rejects a regex Go cannot compile, at parse time rather than
// on the first match, and returns its number of capture groups.
func checkRegex(re string) (int, error) {
	r, err := regexp.Compile(re)
	if err != nil {
		return 0, fmt.Errorf("bad regex {{%s}}: %v", re, err)
	}
	return r.NumSubexp(), nil
}

// matcher is a pattern made one regexp with the variables' current values.
type matcher struct {
	re   *regexp.Regexp
	defs map[string]int // variable defined → its submatch index
	// uses are the variables the pattern read, as `[[X]] = "value"`, for
	// messages.
	uses []string
	// literal is the pattern's leading literal text (uses substituted), the
	// part near-miss hints look for.
	literal string
}

// compile builds the pattern's matcher: literals and uses quoted, regexes
// grouped, definitions captured. It fails when a use has no value.
func (p pattern) compile(vars map[string]string) (*matcher, error) {
	m := &matcher{defs: map[string]int{}}
	var b strings.Builder
	group, leading := 0, true
	for _, pc := range p.pieces {
		switch pc.kind {
		case pLiteral:
			b.WriteString(regexp.QuoteMeta(pc.text))
			if leading {
				m.literal += pc.text
			}
		case pUse:
			v, ok := vars[pc.name]
			if !ok {
				return nil, fmt.Errorf("[[%s]] has no value: check line %d, which defines it, has not matched", pc.name, pc.defLine)
			}
			b.WriteString(regexp.QuoteMeta(v))
			m.uses = append(m.uses, fmt.Sprintf("[[%s]] = %q", pc.name, v))
			if leading {
				m.literal += v
			}
		case pRegex:
			leading = false
			b.WriteString("(?:" + pc.text + ")")
			group += pc.groups
		case pDef:
			leading = false
			group++
			m.defs[pc.name] = group
			b.WriteString("(" + pc.text + ")")
			group += pc.groups
		}
	}
	re, err := regexp.Compile(b.String())
	if err != nil { // each regex compiled alone at parse time; a join cannot break them
		return nil, fmt.Errorf("pattern regexp %q: %v", b.String(), err)
	}
	m.re = re
	return m, nil
}
