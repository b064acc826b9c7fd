package dsl

import (
	"fmt"
	"strings"

	"github.com/alecthomas/participle/v2/lexer"
)

// Error is a compile error at a source position. Its text is
// `file:line:col: message`, then the source line and a caret under the column.
type Error struct {
	File      string
	Line, Col int
	Msg       string
	Source    string // the offending line, if known
}

func newError(pos lexer.Position, src string, format string, args ...any) *Error {
	e := &Error{File: pos.Filename, Line: pos.Line, Col: pos.Column, Msg: fmt.Sprintf(format, args...)}
	e.Source = sourceLine(src, pos.Line)
	return e
}

func sourceLine(src string, line int) string {
	if line < 1 {
		return ""
	}
	lines := strings.Split(src, "\n")
	if line > len(lines) {
		return ""
	}
	return strings.TrimRight(lines[line-1], "\r")
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Line > 0 {
		fmt.Fprintf(&b, "%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
	} else {
		fmt.Fprintf(&b, "%s: %s", e.File, e.Msg)
	}
	if e.Source != "" {
		b.WriteString("\n    ")
		b.WriteString(e.Source)
		b.WriteString("\n    ")
		// Keep tabs so the caret lines up under tab-indented source.
		for i, r := range []rune(e.Source) {
			if i >= e.Col-1 {
				break
			}
			if r == '\t' {
				b.WriteByte('\t')
			} else {
				b.WriteByte(' ')
			}
		}
		b.WriteByte('^')
	}
	return b.String()
}
