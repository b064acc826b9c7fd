package dsl

import (
	"errors"
	"strconv"
	"strings"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
)

var deepLexer = lexer.MustSimple([]lexer.SimpleRule{
	{Name: "Comment", Pattern: `#[^\n]*`},
	{Name: "Whitespace", Pattern: `[ \t\r\n]+`},
	{Name: "Float", Pattern: `\d+\.\d+([eE][-+]?\d+)?|\d+[eE][-+]?\d+`},
	{Name: "Int", Pattern: `\d+`},
	{Name: "String", Pattern: `"(\\.|[^"\\\n])*"`},
	{Name: "Ident", Pattern: `[A-Za-z_][A-Za-z0-9_]*`},
	{Name: "Punct", Pattern: `\*\*|==|!=|<=|>=|->|\.\.|[-+*/%<>=(){}\[\],:.]`},
})

var parser = participle.MustBuild[File](
	participle.Lexer(deepLexer),
	participle.Elide("Comment", "Whitespace"),
	participle.Unquote("String"),
	participle.UseLookahead(3),
)

// Parse reads one .deep file into its AST. Errors are *Error values that
// print file:line:col, the source line and a caret.
func Parse(filename, src string) (*File, error) {
	f, err := parser.ParseString(filename, src)
	if err != nil {
		var perr participle.Error
		if errors.As(err, &perr) {
			pos := perr.Position()
			if pos.Filename == "" {
				pos.Filename = filename
			}
			return nil, newError(pos, src, "%s", friendlier(perr.Message()))
		}
		return nil, &Error{File: filename, Msg: err.Error(), Line: 1, Col: 1}
	}
	return f, nil
}

// friendlier rewords the lexer's message, which quotes the whole rest of the
// input, to name just the offending character.
func friendlier(msg string) string {
	const prefix = "invalid input text "
	if rest, ok := strings.CutPrefix(strings.TrimPrefix(msg, "lexer: "), prefix); ok {
		if s, err := strconv.Unquote(rest); err == nil && s != "" {
			return "unexpected character " + strconv.QuoteRune([]rune(s)[0])
		}
	}
	return msg
}
