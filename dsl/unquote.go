package dsl

import (
	"strconv"
	"strings"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
)

// unquoteToken replaces a String token's text by its value. participle's
// own Unquote option appends one character at a time to a string, which
// copies the whole prefix each time: a 1 MB literal took minutes. This
// writes into one builder (linear) and keeps its meaning exactly: every
// escape or byte becomes the rune strconv.UnquoteChar reads (so "\xff" is
// U+00FF, as before).
func unquoteToken(t lexer.Token) (lexer.Token, error) {
	s := t.Value
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return t, participle.Errorf(t.Pos, "malformed string literal")
	}
	body := s[1 : len(s)-1]
	var b strings.Builder
	b.Grow(len(body))
	for rest := body; rest != ""; {
		r, _, tail, err := strconv.UnquoteChar(rest, '"')
		if err != nil {
			pos := t.Pos
			pos.Advance(s[:len(s)-1-len(rest)])
			return t, participle.Errorf(pos, "invalid escape sequence in string")
		}
		b.WriteRune(r)
		rest = tail
	}
	t.Value = b.String()
	return t, nil
}
