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
	participle.Map(unquoteToken, "String"),
	participle.UseLookahead(3),
)

// Parse reads one .deep file into its AST. Errors are *Error values that
// print file:line:col, the source line and a caret.
func Parse(filename, src string) (*File, error) {
	f, err := parseChecked(parser, filename, src)
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

// maxTokens bounds the tokens of one file. participle takes some 10 µs a
// token (more as the heap grows): a 16 MB file of `x = 1` lines took
// minutes, and its tokens alone a gigabyte. DeepSeek-V3 in full is under
// 3,000 tokens; this is 170 times that, and parses in under 10 s.
const maxTokens = 1 << 19

// parseChecked lexes src, refuses it when it has more than maxTokens or
// nests deeper than maxNesting (before the recursive parser can overflow
// the stack on it), then parses the same tokens.
func parseChecked[G any](p *participle.Parser[G], filename, src string) (*G, error) {
	lex, err := p.Lexer().Lex(filename, strings.NewReader(src))
	if err != nil {
		return nil, err
	}
	var toks []lexer.Token
	nest := newNestCheck()
	for n := 0; ; {
		t, err := lex.Next()
		if err != nil {
			return nil, err
		}
		toks = append(toks, t)
		if t.EOF() {
			break
		}
		if !elidedType[t.Type] {
			n++
		}
		if n > maxTokens || len(toks) > 4*maxTokens {
			return nil, participle.Errorf(t.Pos, "more than %d tokens: a model file holds at most that many", maxTokens)
		}
		if !nest.add(t) {
			return nil, participle.Errorf(t.Pos, "nested more than %d levels deep", maxNesting)
		}
	}
	peek, err := lexer.Upgrade(&tokenList{toks: toks}, elidedTypes()...)
	if err != nil {
		return nil, err
	}
	return p.ParseFromLexer(peek)
}

// tokenList replays lexed tokens to the parser.
type tokenList struct {
	toks []lexer.Token
}

func (l *tokenList) Next() (lexer.Token, error) {
	if len(l.toks) == 0 {
		return lexer.EOFToken(lexer.Position{}), nil
	}
	t := l.toks[0]
	l.toks = l.toks[1:]
	return t, nil
}

func elidedTypes() []lexer.TokenType {
	var out []lexer.TokenType
	for t := range elidedType {
		out = append(out, t)
	}
	return out
}

// friendlier rewords the lexer's message, which quotes the whole rest of the
// input, to name just the offending character, and cuts any message that
// quotes a long token.
func friendlier(msg string) string {
	const prefix = "invalid input text "
	if rest, ok := strings.CutPrefix(strings.TrimPrefix(msg, "lexer: "), prefix); ok {
		if s, err := strconv.Unquote(rest); err == nil && s != "" {
			return "unexpected character " + strconv.QuoteRune([]rune(s)[0])
		}
	}
	return clip(msg, maxMessage)
}
