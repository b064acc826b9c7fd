package dsl

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/alecthomas/participle/v2/lexer"
)

// Error is a compile error at a source position. Its text is
// `file:line:col: message`, then the source line and a caret under the column.
type Error struct {
	File      string
	Line, Col int
	Msg       string
	Source    string // the offending line, if known
	// shift is how many runes of the line were cut from the left of Source
	// (less the one of the "…" put in their place).
	shift int
}

// maxMessage and maxShownLine bound how much of the input an error quotes:
// a hostile file may be one 16 MB line, or a 4 MB string where a name was
// expected, and the message should still fit on a screen.
const (
	maxMessage   = 400 // a parser message, or a value quoted in one
	maxErrorMsg  = 2000
	maxShownLine = 160
)

func newError(pos lexer.Position, src string, format string, args ...any) *Error {
	e := &Error{File: pos.Filename, Line: pos.Line, Col: pos.Column, Msg: clip(fmt.Sprintf(format, args...), maxErrorMsg)}
	e.Source, e.shift = window(sourceLine(src, pos.Line), pos.Column)
	return e
}

// sourceLine returns line number line (from 1) of src, without its newline.
func sourceLine(src string, line int) string {
	if line < 1 {
		return ""
	}
	for n := 1; n < line; n++ {
		i := strings.IndexByte(src, '\n')
		if i < 0 {
			return ""
		}
		src = src[i+1:]
	}
	if i := strings.IndexByte(src, '\n'); i >= 0 {
		src = src[:i]
	}
	return strings.TrimRight(src, "\r")
}

// window cuts a long line to about maxShownLine runes around column col,
// marking each cut with "…"; it returns the text and how far the caret
// moves left.
func window(line string, col int) (string, int) {
	n := utf8.RuneCountInString(line)
	if n <= maxShownLine {
		return line, 0
	}
	start := max(0, min(col-1-maxShownLine/2, n-maxShownLine))
	end := start + maxShownLine
	text, shift := line[runeOffset(line, start):runeOffset(line, end)], 0
	if start > 0 {
		text, shift = "…"+text, start-1
	}
	if end < n {
		text += "…"
	}
	return text, shift
}

// runeOffset is the byte offset of rune i of s.
func runeOffset(s string, i int) int {
	off := 0
	for ; i > 0 && off < len(s); i-- {
		_, n := utf8.DecodeRuneInString(s[off:])
		off += n
	}
	return off
}

// clip cuts s to at most n bytes (on a rune boundary), marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
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
			if i >= e.Col-1-e.shift {
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
