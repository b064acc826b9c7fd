package filecheck

import (
	"fmt"
	"strings"
)

// Error is one failed directive. It names the directive by its line in the
// check file and quotes the input around where matching looked.
type Error struct {
	CheckLine int    // 1-based line of the directive in the check file
	Directive string // CHECK, CHECK-NEXT, ...
	Pattern   string
	Msg       string
	InputLine int    // 1-based input line the message is about; 0 if none
	Context   string // input lines around InputLine, the line marked with '>'
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "check line %d: %s: %q: %s", e.CheckLine, e.Directive, e.Pattern, e.Msg)
	if e.Context != "" {
		b.WriteString("\ninput:\n")
		b.WriteString(e.Context)
	}
	return b.String()
}

// contextLines is how many input lines errors show on each side.
const contextLines = 2

// fail builds an Error for directive d about input line l (0-based; -1 for
// none), with extra lines marked as well (a near miss, say).
func (in *input) fail(d directive, l int, format string, args ...any) *Error {
	e := &Error{CheckLine: d.line, Directive: d.kind.String(), Pattern: d.pattern, Msg: fmt.Sprintf(format, args...)}
	if l >= 0 && l < len(in.orig) {
		e.InputLine = l + 1
		e.Context = in.quote(l)
	}
	return e
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
