package dsl

import "github.com/alecthomas/participle/v2/lexer"

// maxNesting is how deeply the syntax may nest. The parser (participle) and
// the evaluator are recursive descents: each level of nesting is a dozen Go
// frames, and an expression nested 100,000 deep ran the goroutine past Go's
// 1 GB stack, a fatal error that no recover catches. So the tokens are
// checked as they are lexed, before the parser sees them. 200 is Python's
// limit on nested brackets (its tokenizer's MAXLEVEL) and 30 times what
// the models use (models/deepseek_v3.deep nests 6 deep). Everything after
// the parser recurses over the AST only, so it is bounded too: the
// evaluator by maxNesting times maxCallDepth levels (TestDeepestEvaluation
// runs that), the lower bound on ops (minops.go) likewise. Values built in
// loops nest without brackets (`s = {a = s}`): they are cut to a few
// levels where printed (show) and refused past maxNesting where they
// become IR attributes (toAttr), which the IR printer and parser recurse
// over.
const maxNesting = 200

// nestLevel counts, inside one pair of brackets, the open productions that
// recurse without a bracket: unary minus, not and ** chains (closed by the
// next operator of lower precedence, comma or statement keyword), and
// else-if chains (closed by a `}` that no `else` follows).
type nestLevel struct{ chain, elifs int }

var (
	punctType  = deepLexer.Symbols()["Punct"]
	identType  = deepLexer.Symbols()["Ident"]
	elidedType = map[lexer.TokenType]bool{
		deepLexer.Symbols()["Comment"]:    true,
		deepLexer.Symbols()["Whitespace"]: true,
	}
)

// resetPunct and resetWords end every unary/** chain at their level: an
// operator of lower precedence than unary minus and **, or the start of
// a statement. (A binary minus is told apart by what precedes it.)
var (
	resetPunct = map[string]bool{
		",": true, "=": true, "+": true, "*": true, "/": true, "%": true,
		"==": true, "!=": true, "<": true, "<=": true, ">": true, ">=": true,
		"..": true, ":": true, "->": true,
	}
	resetWords = map[string]bool{
		"and": true, "or": true, "if": true, "for": true, "in": true, "return": true,
		"assert": true, "param": true, "block": true, "export": true, "config": true,
		"model": true, "extends": true, "checkpoint": true,
	}
	// notOperand are the words after which a `-` is unary.
	notOperand = map[string]bool{
		"and": true, "or": true, "not": true, "if": true, "else": true, "for": true,
		"in": true, "return": true, "assert": true, "param": true, "block": true,
		"export": true, "config": true, "model": true, "extends": true,
	}
)

// nestCheck follows the nesting of a token stream, one token at a time,
// so that lexing stops at the first token too deep.
type nestCheck struct {
	levels       []nestLevel
	depth        int  // open brackets plus every level's chain and elifs
	afterOperand bool // the previous token ends an operand: a `-` now is binary
	afterElse    bool
	afterBrace   bool // the previous token is a `}`
}

func newNestCheck() *nestCheck { return &nestCheck{levels: []nestLevel{{}}} }

// add takes the next token and reports whether the input, so far, nests
// at most maxNesting deep: an upper bound on the parser's recursion in
// grammar productions.
func (n *nestCheck) add(t lexer.Token) bool {
	if elidedType[t.Type] || t.EOF() {
		return true
	}
	top := &n.levels[len(n.levels)-1]
	punct := t.Type == punctType
	word := ""
	if t.Type == identType {
		word = t.Value
	}
	if n.afterBrace && word != "else" {
		n.depth -= top.elifs
		top.elifs = 0
	}
	switch {
	case punct && (t.Value == "(" || t.Value == "[" || t.Value == "{"):
		n.levels = append(n.levels, nestLevel{})
		n.depth++
	case punct && (t.Value == ")" || t.Value == "]" || t.Value == "}"):
		if len(n.levels) > 1 {
			n.depth -= 1 + top.chain + top.elifs
			n.levels = n.levels[:len(n.levels)-1]
		}
	case word == "if" && n.afterElse:
		top.elifs++
		n.depth++
	case word == "not" || punct && (t.Value == "**" || t.Value == "-" && !n.afterOperand):
		top.chain++
		n.depth++
	case punct && (resetPunct[t.Value] || t.Value == "-") || resetWords[word]:
		n.depth -= top.chain
		top.chain = 0
	}
	switch {
	case punct:
		n.afterOperand = t.Value == ")" || t.Value == "]" || t.Value == "}"
	case word != "":
		n.afterOperand = !notOperand[word]
	default: // a number or a string
		n.afterOperand = true
	}
	n.afterElse = word == "else"
	n.afterBrace = punct && t.Value == "}"
	return n.depth <= maxNesting
}
