package filecheck

import (
	"fmt"
	"strings"
)

// Error is one failed directive. It names the directive by its file and
// line, says what it expected (the pattern and the variables' values it
// used) and where in the input the search began, and quotes the input
// around where matching looked.
type Error struct {
	File      string // the check file; "" when Config.File was not set
	CheckLine int    // 1-based line of the directive in the check file
	Directive string // CHECK, CHECK-NEXT, FOO-NOT, ...
	Pattern   string
	Vars      []string // each variable the pattern used: `[[X]] = "%3"`
	Msg       string
	Search    string // where the search began: "input line 4, column 9"
	InputLine int    // 1-based input line the message is about; 0 if none
	Context   string // input lines around InputLine, the line marked with '>'
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s: %q: %s", where(e.File, e.CheckLine), e.Directive, e.Pattern, e.Msg)
	for _, v := range e.Vars {
		fmt.Fprintf(&b, "\n  with %s", v)
	}
	if e.Search != "" {
		fmt.Fprintf(&b, "\n  search began at %s", e.Search)
	}
	if e.Context != "" {
		b.WriteString("\ninput:\n")
		b.WriteString(e.Context)
	}
	return b.String()
}

// contextLines is how many input lines errors show on each side.
const contextLines = 2

// fail builds an Error for directive d, matched as mt (nil when it could
// not be built), whose search began at from, about input line l (0-based;
// -1 for none).
func (c *checker) fail(d directive, mt *matcher, from pos, l int, format string, args ...any) *Error {
	e := &Error{File: c.file, CheckLine: d.line, Directive: d.name, Pattern: d.pattern, Msg: fmt.Sprintf(format, args...), Search: c.describe(from)}
	if mt != nil {
		e.Vars = mt.uses
	}
	if l >= 0 && l < len(c.orig) {
		e.InputLine = l + 1
		e.Context = c.quote(l)
	}
	return e
}

// describe names a position in the original input's terms.
func (in *input) describe(p pos) string {
	if p.line >= len(in.orig) {
		return "the end of the input"
	}
	if col := in.origCol(p.line, p.col); col > 0 {
		return fmt.Sprintf("input line %d, column %d", p.line+1, col+1)
	}
	return fmt.Sprintf("input line %d", p.line+1)
}

// quote renders input lines around l with line numbers, marking l.
func (in *input) quote(l int) string {
	var b strings.Builder
	for i := max(0, l-contextLines); i <= min(len(in.orig)-1, l+contextLines); i++ {
		mark := " "
		if i == l {
			mark = ">"
		}
		fmt.Fprintf(&b, "%s %4d | %s\n", mark, i+1, in.orig[i])
	}
	return b.String()
}
