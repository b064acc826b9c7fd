package ir

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Parse reads the text form. It checks syntax and that every value is
// defined before use; types are checked by Verify.
func Parse(file, src string) (m *Module, err error) {
	p := &parser{file: file, src: src, line: 1, col: 1}
	defer func() {
		if r := recover(); r != nil {
			pe, ok := r.(parseError)
			if !ok {
				panic(r)
			}
			m, err = nil, pe
		}
	}()
	p.next()
	m = p.module()
	return m, nil
}

type parseError struct{ msg string }

func (e parseError) Error() string { return e.msg }

type tokKind int

const (
	tEOF tokKind = iota
	tIdent
	tInt
	tFloat
	tString
	tValue  // %name
	tSymbol // @name
	tPunct
)

type token struct {
	kind      tokKind
	text      string // identifier, punctuation, or unquoted string/name
	line, col int
}

type parser struct {
	file, src string
	pos       int
	line, col int
	tok       token
	values    map[string]*Value
}

func (p *parser) failAt(t token, format string, args ...any) {
	panic(parseError{fmt.Sprintf("%s:%d:%d: %s", p.file, t.line, t.col, fmt.Sprintf(format, args...))})
}

func (p *parser) fail(format string, args ...any) { p.failAt(p.tok, format, args...) }

func (p *parser) peekByte(off int) byte {
	if p.pos+off < len(p.src) {
		return p.src[p.pos+off]
	}
	return 0
}

func (p *parser) advance(n int) {
	for i := 0; i < n && p.pos < len(p.src); i++ {
		if p.src[p.pos] == '\n' {
			p.line++
			p.col = 1
		} else {
			p.col++
		}
		p.pos++
	}
}

func isIdentStart(c byte) bool { return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool      { return c >= '0' && c <= '9' }
func isIdentChar(c byte) bool  { return isIdentStart(c) || isDigit(c) || c == '.' }

// IsNameByte reports a byte the text form allows in a name after its
// first (a value's %name, an op's name): for tools that scan printed IR.
func IsNameByte(c byte) bool { return isIdentChar(c) }

// next scans one token into p.tok, skipping spaces and // comments.
func (p *parser) next() {
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' {
			p.advance(1)
		} else if c == '/' && p.peekByte(1) == '/' {
			for p.pos < len(p.src) && p.src[p.pos] != '\n' {
				p.advance(1)
			}
		} else {
			break
		}
	}
	t := token{line: p.line, col: p.col}
	if p.pos >= len(p.src) {
		p.tok = t
		return
	}
	c := p.src[p.pos]
	start := p.pos
	switch {
	case isIdentStart(c):
		for p.pos < len(p.src) && isIdentChar(p.src[p.pos]) {
			p.advance(1)
		}
		t.kind, t.text = tIdent, p.src[start:p.pos]
		if t.text == "inf" || t.text == "nan" {
			t.kind = tFloat
		}
	case isDigit(c) || c == '-' && (isDigit(p.peekByte(1)) || p.src[p.pos+1:min(len(p.src), p.pos+4)] == "inf"):
		t.kind, t.text = p.number()
	case c == '"':
		t.kind, t.text = tString, p.quoted()
	case c == '%' || c == '@':
		p.advance(1)
		var name string
		switch {
		case p.peekByte(0) == '"':
			name = p.quoted()
		case isIdentChar(p.peekByte(0)):
			s := p.pos
			for p.pos < len(p.src) && isIdentChar(p.src[p.pos]) {
				p.advance(1)
			}
			name = p.src[s:p.pos]
		default:
			p.failAt(t, "expected a name after %q", string(c))
		}
		t.kind, t.text = tSymbol, name
		if c == '%' {
			t.kind = tValue
		}
	case c == '-' && p.peekByte(1) == '>':
		p.advance(2)
		t.kind, t.text = tPunct, "->"
	case strings.IndexByte("{}()[],=:*+", c) >= 0:
		p.advance(1)
		t.kind, t.text = tPunct, string(c)
	default:
		p.failAt(t, "unexpected character %q", string(c))
	}
	p.tok = t
}

func (p *parser) number() (tokKind, string) {
	start := p.pos
	kind := tInt
	if p.peekByte(0) == '-' {
		p.advance(1)
		if strings.HasPrefix(p.src[p.pos:], "inf") {
			p.advance(3)
			return tFloat, "-inf"
		}
	}
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		switch {
		case isDigit(c):
		case c == '.' || c == 'e' || c == 'E':
			kind = tFloat
		case (c == '-' || c == '+') && (p.src[p.pos-1] == 'e' || p.src[p.pos-1] == 'E'):
		default:
			return kind, p.src[start:p.pos]
		}
		p.advance(1)
	}
	return kind, p.src[start:p.pos]
}

func (p *parser) quoted() string {
	t := token{line: p.line, col: p.col}
	end := p.pos + 1
	for end < len(p.src) && p.src[end] != '"' && p.src[end] != '\n' {
		if p.src[end] == '\\' {
			end++
		}
		end++
	}
	if end >= len(p.src) || p.src[end] != '"' {
		p.failAt(t, "unterminated string")
	}
	s, err := strconv.Unquote(p.src[p.pos : end+1])
	if err != nil {
		p.failAt(t, "bad string literal: %v", err)
	}
	p.advance(end + 1 - p.pos)
	return s
}

func (p *parser) is(kind tokKind, text string) bool {
	return p.tok.kind == kind && p.tok.text == text
}

func (p *parser) expect(text string) token {
	t := p.tok
	if (t.kind != tPunct && t.kind != tIdent) || t.text != text {
		p.fail("expected %q, found %s", text, describe(t))
	}
	p.next()
	return t
}

func describe(t token) string {
	switch t.kind {
	case tEOF:
		return "end of input"
	case tString:
		return strconv.Quote(t.text)
	case tValue:
		return "%" + t.text
	case tSymbol:
		return "@" + t.text
	}
	return strconv.Quote(t.text)
}

func (p *parser) ident() string {
	if p.tok.kind != tIdent {
		p.fail("expected a name, found %s", describe(p.tok))
	}
	s := p.tok.text
	p.next()
	return s
}

func (p *parser) symbol() string {
	if p.tok.kind != tSymbol {
		p.fail("expected an @name, found %s", describe(p.tok))
	}
	s := p.tok.text
	p.next()
	return s
}

func (p *parser) integer() int64 {
	if p.tok.kind != tInt {
		p.fail("expected an integer, found %s", describe(p.tok))
	}
	n, err := strconv.ParseInt(p.tok.text, 10, 64)
	if err != nil {
		p.fail("bad integer %s", p.tok.text)
	}
	p.next()
	return n
}

func (p *parser) module() *Module {
	p.expect("module")
	m := &Module{Name: p.symbol()}
	if p.is(tIdent, "attributes") {
		p.next()
		m.Attrs = p.attrs()
	}
	p.expect("{")
	for !p.is(tPunct, "}") {
		switch {
		case p.is(tIdent, "param"):
			p.next()
			prm := &Param{Name: p.symbol()}
			p.expect(":")
			prm.Type = p.typ()
			if p.is(tPunct, "{") {
				prm.Attrs = p.attrs()
			}
			m.Params = append(m.Params, prm)
		case p.is(tIdent, "func"):
			m.Funcs = append(m.Funcs, p.fn("func"))
		case p.is(tIdent, "composite"):
			tok := p.tok
			f := p.fn("composite")
			if _, err := DeclareComposite(f.Name, f); err != nil {
				p.failAt(tok, "%v", err)
			}
		default:
			p.fail("expected param, composite, func or }, found %s", describe(p.tok))
		}
	}
	p.next()
	if p.tok.kind != tEOF {
		p.fail("unexpected %s after the module", describe(p.tok))
	}
	return m
}

func (p *parser) typ() Type {
	var t Type
	p.expect("[")
	t.Shape = Shape{}
	for !p.is(tPunct, "]") {
		if len(t.Shape) > 0 {
			p.expect(",")
		}
		t.Shape = append(t.Shape, p.dim())
	}
	p.next()
	tok := p.tok
	dt, ok := ParseDType(p.ident())
	if !ok {
		p.failAt(tok, "unknown dtype %q", tok.text)
	}
	t.DType = dt
	return t
}

// dim reads N, SYM, or the affine forms MUL*SYM, SYM+OFF, MUL*SYM+OFF.
func (p *parser) dim() Dim {
	tok := p.tok
	mul := int64(1)
	switch tok.kind {
	case tInt:
		n := p.integer()
		if !p.is(tPunct, "*") {
			return C(n)
		}
		p.next()
		mul = n
		if p.tok.kind != tIdent {
			p.fail("expected a symbol after %d*, found %s", n, describe(p.tok))
		}
	case tIdent:
	default:
		p.fail("expected a dim, found %s", describe(tok))
	}
	sym := S(p.ident())
	var off int64
	if p.is(tPunct, "+") {
		p.next()
		if p.tok.kind != tInt {
			p.fail("expected an integer after +, found %s", describe(p.tok))
		}
		off = p.integer()
	}
	if mul <= 0 || off < 0 {
		p.failAt(tok, "affine dim needs a positive factor and a non-negative offset")
	}
	return Affine(mul, sym, off)
}

func (p *parser) fn(keyword string) *Func {
	p.expect(keyword)
	f := &Func{Name: p.symbol()}
	p.values = map[string]*Value{}
	p.expect("(")
	for !p.is(tPunct, ")") {
		if len(f.Args) > 0 {
			p.expect(",")
		}
		tok := p.tok
		if tok.kind != tValue {
			p.fail("expected an argument %%name, found %s", describe(tok))
		}
		p.next()
		p.expect(":")
		a := &Value{Type: p.typ(), Index: len(f.Args), Name: tok.text}
		p.define(tok, a)
		f.Args = append(f.Args, a)
	}
	p.next()
	p.expect("->")
	p.expect("(")
	var resultTypes []Type
	for !p.is(tPunct, ")") {
		if len(resultTypes) > 0 {
			p.expect(",")
		}
		resultTypes = append(resultTypes, p.typ())
	}
	p.next()
	p.expect("{")
	for !p.is(tIdent, "return") {
		f.Body = append(f.Body, p.op())
	}
	retTok := p.tok
	p.next()
	if p.tok.kind == tValue {
		f.Results = p.uses()
	}
	if len(f.Results) != len(resultTypes) {
		p.failAt(retTok, "return has %d values, the signature %d", len(f.Results), len(resultTypes))
	}
	for i, r := range f.Results {
		if !r.Type.Equal(resultTypes[i]) {
			p.failAt(retTok, "returned value %d has type %s, the signature says %s", i, r.Type, resultTypes[i])
		}
	}
	p.expect("}")
	return f
}

func (p *parser) define(t token, v *Value) {
	if _, dup := p.values[t.text]; dup {
		p.failAt(t, "%%%s is defined twice", t.text)
	}
	p.values[t.text] = v
}

func (p *parser) use() *Value {
	t := p.tok
	if t.kind != tValue {
		p.fail("expected a %%value, found %s", describe(t))
	}
	v, ok := p.values[t.text]
	if !ok {
		p.fail("%%%s is not defined", t.text)
	}
	p.next()
	return v
}

// uses parses a comma-separated list of one or more %values; a comma must
// be followed by another value.
func (p *parser) uses() []*Value {
	vs := []*Value{p.use()}
	for p.is(tPunct, ",") {
		p.next()
		vs = append(vs, p.use())
	}
	return vs
}

func (p *parser) op() *Op {
	var defs []token
	for {
		if p.tok.kind != tValue {
			p.fail("expected a %%result or return, found %s", describe(p.tok))
		}
		defs = append(defs, p.tok)
		p.next()
		if !p.is(tPunct, ",") {
			break
		}
		p.next()
	}
	p.expect("=")
	nameTok := p.tok
	op := &Op{Name: p.ident()}
	if Lookup(op.Name) == nil {
		p.failAt(nameTok, "unknown op %q", op.Name)
	}
	if p.tok.kind == tValue {
		op.Args = p.uses()
	}
	if p.is(tPunct, "{") {
		op.Attrs = p.attrs()
	}
	p.expect(":")
	for i, d := range defs {
		if i > 0 {
			p.expect(",")
		}
		r := &Value{Type: p.typ(), Def: op, Index: i}
		op.Results = append(op.Results, r)
		p.define(d, r)
	}
	if p.is(tIdent, "loc") {
		p.next()
		p.expect("(")
		if p.tok.kind != tString {
			p.fail("expected a file name, found %s", describe(p.tok))
		}
		op.Loc.File = p.tok.text
		p.next()
		p.expect(":")
		op.Loc.Line = int(p.integer())
		p.expect(":")
		op.Loc.Col = int(p.integer())
		p.expect(")")
	}
	return op
}

func (p *parser) attrs() Attrs {
	a := Attrs{}
	p.expect("{")
	for !p.is(tPunct, "}") {
		if len(a) > 0 {
			p.expect(",")
		}
		t := p.tok
		var key string
		switch t.kind {
		case tIdent, tString:
			key = t.text
			p.next()
		default:
			p.fail("expected an attribute name, found %s", describe(t))
		}
		if _, dup := a[key]; dup {
			p.failAt(t, "attribute %s given twice", key)
		}
		p.expect("=")
		a[key] = p.attrValue()
	}
	p.next()
	return a
}

func (p *parser) attrValue() any {
	t := p.tok
	switch t.kind {
	case tInt:
		return p.integer()
	case tFloat:
		p.next()
		return parseFloat(p, t)
	case tString:
		p.next()
		return t.text
	case tIdent:
		p.next()
		switch t.text {
		case "true":
			return true
		case "false":
			return false
		}
		if dt, ok := ParseDType(t.text); ok {
			return dt
		}
		p.failAt(t, "unexpected %q in an attribute value", t.text)
	case tPunct:
		switch t.text {
		case "{":
			return p.attrs()
		case "[":
			return p.list()
		}
	}
	p.fail("expected an attribute value, found %s", describe(t))
	return nil
}

func parseFloat(p *parser, t token) float64 {
	switch t.text {
	case "inf":
		return math.Inf(1)
	case "-inf":
		return math.Inf(-1)
	case "nan":
		return math.NaN()
	}
	f, err := strconv.ParseFloat(t.text, 64)
	if err != nil {
		p.failAt(t, "bad number %s", t.text)
	}
	return f
}

// list parses [a, b, ...]: integers give []int64, any float gives
// []float64, any symbol gives a Shape.
func (p *parser) list() any {
	p.expect("[")
	var toks []token
	for !p.is(tPunct, "]") {
		if len(toks) > 0 {
			p.expect(",")
		}
		switch p.tok.kind {
		case tInt, tFloat, tIdent:
			toks = append(toks, p.tok)
			p.next()
		default:
			p.fail("expected a number or a dim, found %s", describe(p.tok))
		}
	}
	p.next()
	kinds := map[tokKind]bool{}
	for _, t := range toks {
		kinds[t.kind] = true
	}
	switch {
	case kinds[tIdent] && kinds[tFloat]:
		p.failAt(toks[0], "a list mixes dims and floats")
	case kinds[tIdent]:
		s := make(Shape, len(toks))
		for i, t := range toks {
			if t.kind == tIdent {
				s[i] = S(t.text)
			} else {
				s[i] = C(mustInt(p, t))
			}
		}
		return s
	case kinds[tFloat]:
		fs := make([]float64, len(toks))
		for i, t := range toks {
			fs[i] = parseFloat(p, t)
		}
		return fs
	}
	ns := make([]int64, len(toks))
	for i, t := range toks {
		ns[i] = mustInt(p, t)
	}
	return ns
}

func mustInt(p *parser, t token) int64 {
	n, err := strconv.ParseInt(t.text, 10, 64)
	if err != nil {
		p.failAt(t, "bad integer %s", t.text)
	}
	return n
}
