package tokenizer

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// This file is a small backtracking regular-expression engine for the split
// patterns that tokenizer.json files declare. Go's regexp package cannot
// express them: they use lookahead (`\s+(?!\S)`), and their `\s` means
// Unicode white space, not ASCII. The dialect is ECMAScript's with the `u`
// flag, because the reference implementation the tests compare with (the
// JavaScript port of Hugging Face tokenizers) compiles the patterns that way:
//
//   - `\s` is ECMAScript white space and line terminators (U+0009–U+000D,
//     U+0020, U+00A0, U+1680, U+2000–U+200A, U+2028, U+2029, U+202F, U+205F,
//     U+3000, U+FEFF); `\d` is [0-9]; `\w` is [A-Za-z0-9_]; `.` is any code
//     point but \n, \r, U+2028, U+2029.
//   - `\p{..}`/`\P{..}` take general categories (short or long names, with or
//     without `gc=`/`General_Category=`), scripts (`Script=Han`, `sc=Han`, or a
//     bare script name as Oniguruma allows) and Go's binary properties
//     (`White_Space`, ...). Tables are Go's (package unicode).
//   - Groups: `(...)`, `(?:...)`, `(?<name>...)`, lookahead `(?=...)`,
//     `(?!...)`, and Oniguruma's case-insensitive group `(?i:...)`, which
//     GPT-2-style patterns use. Lookbehind and back-references are rejected.
//   - Quantifiers `* + ? {n} {n,} {n,m}`, lazy (`*?`) and possessive (`*+`).
//     A repeated sub-expression that can match the empty string is rejected
//     rather than given ECMAScript's empty-iteration rule.
//
// Matching is leftmost-first with backtracking, like ECMAScript. A greedy
// repetition of one character class, the shape of every tokenizer pattern's
// hot path, runs as one instruction that consumes the run and gives back one
// code point at a time. Classes answer membership from a bitmap for the
// first two planes.

// regex is a compiled pattern. It is safe for concurrent use.
type regex struct {
	src   string
	progs []*prog    // progs[0] is the pattern; the rest are lookaheads and atomic groups
	first *charClass // the code points a match can start with; nil if it can be empty
}

type prog struct {
	insts []inst
}

type opcode uint8

const (
	opRune     opcode = iota // one code point equal to r
	opClass                  // one code point in cls
	opRepeat                 // cls{min,max} greedy (possessive: no give-back)
	opSplit                  // try x, on failure y
	opJmp                    // go to x
	opBegin                  // start of input
	opEnd                    // end of input
	opWordB                  // \b
	opNotWordB               // \B
	opLook                   // run progs[sub] at pos: lookahead or atomic group
	opMatch
)

type lookMode uint8

const (
	lookAhead lookMode = iota
	lookNegAhead
	lookAtomic
)

type inst struct {
	op         opcode
	mode       lookMode
	possessive bool
	r          rune
	cls        *charClass // opClass, opRepeat; for opSplit, a guard: x is tried only on a code point in it
	x, y       int        // branch targets; x is sub for opLook
	min, max   int        // opRepeat; max < 0: unbounded
}

// frame is one backtracking point: resume at pc with pos. A frame with
// rep set resumes a greedy class repetition that still has code points to
// give back down to minPos.
type frame struct {
	pos, minPos int
	pc          int32
	rep         bool
}

// compileRegex parses and compiles an ECMAScript-dialect pattern.
func compileRegex(src string) (*regex, error) {
	p := &parser{src: src}
	n, err := p.parseAlt()
	if err != nil {
		return nil, fmt.Errorf("regex %q: %w", src, err)
	}
	if p.pos < len(p.src) {
		return nil, fmt.Errorf("regex %q: unmatched ')' at offset %d", src, p.pos)
	}
	re := &regex{src: src}
	if _, err := re.compileProg(n); err != nil {
		return nil, fmt.Errorf("regex %q: %w", src, err)
	}
	re.first = firstSet(n)
	return re, nil
}

func mustCompileRegex(src string) *regex {
	re, err := compileRegex(src)
	if err != nil {
		panic(err)
	}
	return re
}

// matchAt reports the end of the match that starts exactly at pos.
func (re *regex) matchAt(text string, pos int, st *[]frame) (int, bool) {
	return re.exec(0, text, pos, st)
}

// findAll calls fn with the [start, end) byte offsets of every non-overlapping
// match in text, in order, the way ECMAScript's matchAll scans: after an empty
// match the scan moves on by one code point.
func (re *regex) findAll(text string, st *[]frame, fn func(start, end int)) {
	for pos := 0; pos <= len(text); {
		// Skip the positions where no match can start.
		if re.first != nil {
			for pos < len(text) {
				r, n := decodeRune(text, pos)
				if re.first.has(r) {
					break
				}
				pos += n
			}
			if pos == len(text) {
				break
			}
		}
		end, ok := re.exec(0, text, pos, st)
		if !ok || end == pos {
			if ok {
				fn(pos, end)
			}
			if pos == len(text) {
				break
			}
			_, n := decodeRune(text, pos)
			pos += n
			continue
		}
		fn(pos, end)
		pos = end
	}
}

// decodeRune decodes the code point at s[i]; small enough to inline, so that
// ASCII costs one comparison.
func decodeRune(s string, i int) (rune, int) {
	if c := s[i]; c < utf8.RuneSelf {
		return rune(c), 1
	}
	return decodeRuneSlow(s[i:])
}

//go:noinline
func decodeRuneSlow(s string) (rune, int) { return utf8.DecodeRuneInString(s) }

func (re *regex) exec(pi int, text string, start int, st *[]frame) (int, bool) {
	insts := re.progs[pi].insts
	stk := *st
	base := len(stk)
	stk = append(stk, frame{pc: 0, pos: start})
	for len(stk) > base {
		f := stk[len(stk)-1]
		stk = stk[:len(stk)-1]
		pc, pos := int(f.pc), f.pos
		if f.rep {
			_, n := utf8.DecodeLastRuneInString(text[:pos])
			pos -= n
			if pos > f.minPos {
				stk = append(stk, frame{pc: f.pc, pos: pos, minPos: f.minPos, rep: true})
			}
		}
	run:
		for {
			in := &insts[pc]
			switch in.op {
			case opMatch:
				*st = stk[:base]
				return pos, true
			case opRune:
				if pos >= len(text) {
					break run
				}
				r, n := decodeRune(text, pos)
				if r != in.r {
					break run
				}
				pos += n
				pc++
			case opClass:
				if pos >= len(text) {
					break run
				}
				r, n := decodeRune(text, pos)
				if !in.cls.has(r) {
					break run
				}
				pos += n
				pc++
			case opRepeat:
				p, count, minPos := pos, 0, pos
				for (in.max < 0 || count < in.max) && p < len(text) {
					r, n := decodeRune(text, p)
					if !in.cls.has(r) {
						break
					}
					p += n
					count++
					if count == in.min {
						minPos = p
					}
				}
				if count < in.min {
					break run
				}
				if !in.possessive && p > minPos {
					stk = append(stk, frame{pc: int32(pc + 1), pos: p, minPos: minPos, rep: true})
				}
				pos = p
				pc++
			case opSplit:
				if in.cls != nil {
					if pos >= len(text) {
						pc = in.y
						continue
					}
					if r, _ := decodeRune(text, pos); !in.cls.has(r) {
						pc = in.y
						continue
					}
				}
				stk = append(stk, frame{pc: int32(in.y), pos: pos})
				pc = in.x
			case opJmp:
				pc = in.x
			case opBegin:
				if pos != 0 {
					break run
				}
				pc++
			case opEnd:
				if pos != len(text) {
					break run
				}
				pc++
			case opWordB, opNotWordB:
				if atWordBoundary(text, pos) != (in.op == opWordB) {
					break run
				}
				pc++
			case opLook:
				*st = stk
				end, ok := re.exec(in.x, text, pos, st)
				stk = *st
				switch in.mode {
				case lookAhead:
					if !ok {
						break run
					}
				case lookNegAhead:
					if ok {
						break run
					}
				case lookAtomic:
					if !ok {
						break run
					}
					pos = end
				}
				pc++
			}
		}
	}
	*st = stk[:base]
	return 0, false
}

func isWordByte(c byte) bool {
	return c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func atWordBoundary(text string, pos int) bool {
	before := pos > 0 && isWordByte(text[pos-1])
	after := pos < len(text) && isWordByte(text[pos])
	return before != after
}

// ---- syntax tree ----

type nodeKind uint8

const (
	nClass nodeKind = iota
	nConcat
	nAlt
	nRepeat
	nLook
	nBegin
	nEnd
	nWordB
	nNotWordB
)

type node struct {
	kind       nodeKind
	cls        *charClass
	subs       []*node
	min, max   int
	greedy     bool
	possessive bool
	mode       lookMode
}

// canBeEmpty reports whether n can match the empty string.
func (n *node) canBeEmpty() bool {
	switch n.kind {
	case nClass:
		return false
	case nConcat:
		for _, s := range n.subs {
			if !s.canBeEmpty() {
				return false
			}
		}
		return true
	case nAlt:
		for _, s := range n.subs {
			if s.canBeEmpty() {
				return true
			}
		}
		return false
	case nRepeat:
		return n.min == 0 || n.subs[0].canBeEmpty()
	}
	return true
}

// ---- parser ----

type parser struct {
	src  string
	pos  int
	fold bool // inside (?i:...)
}

func (p *parser) more() bool { return p.pos < len(p.src) }

func (p *parser) peek() rune {
	r, _ := utf8.DecodeRuneInString(p.src[p.pos:])
	return r
}

func (p *parser) next() rune {
	r, n := utf8.DecodeRuneInString(p.src[p.pos:])
	p.pos += n
	return r
}

func (p *parser) errf(format string, args ...any) error {
	return fmt.Errorf("at offset %d: %s", p.pos, fmt.Sprintf(format, args...))
}

func (p *parser) parseAlt() (*node, error) {
	var alts []*node
	for {
		c, err := p.parseConcat()
		if err != nil {
			return nil, err
		}
		alts = append(alts, c)
		if p.more() && p.peek() == '|' {
			p.pos++
			continue
		}
		break
	}
	if len(alts) == 1 {
		return alts[0], nil
	}
	return &node{kind: nAlt, subs: alts}, nil
}

func (p *parser) parseConcat() (*node, error) {
	var items []*node
	for p.more() {
		c := p.peek()
		if c == '|' || c == ')' {
			break
		}
		atom, err := p.parseAtom()
		if err != nil {
			return nil, err
		}
		atom, err = p.parseQuantifier(atom)
		if err != nil {
			return nil, err
		}
		items = append(items, atom)
	}
	if len(items) == 1 {
		return items[0], nil
	}
	return &node{kind: nConcat, subs: items}, nil
}

func (p *parser) parseQuantifier(atom *node) (*node, error) {
	if p.more() {
		start := p.pos
		min, max := -1, -1
		switch p.peek() {
		case '*':
			p.pos++
			min, max = 0, -1
		case '+':
			p.pos++
			min, max = 1, -1
		case '?':
			p.pos++
			min, max = 0, 1
		case '{':
			lo, hi, ok := p.parseBraces()
			if !ok {
				p.pos = start
				return atom, nil // a literal '{', as browsers accept
			}
			min, max = lo, hi
		default:
			return atom, nil
		}
		switch atom.kind {
		case nBegin, nEnd, nWordB, nNotWordB, nLook:
			return nil, p.errf("nothing to repeat")
		}
		if max >= 0 && min > max {
			return nil, p.errf("numbers out of order in {%d,%d}", min, max)
		}
		if min > 1000 || max > 1000 {
			return nil, p.errf("repetition count over 1000")
		}
		rep := &node{kind: nRepeat, subs: []*node{atom}, min: min, max: max, greedy: true}
		if p.more() && p.peek() == '?' {
			p.pos++
			rep.greedy = false
		} else if p.more() && p.peek() == '+' {
			p.pos++
			rep.possessive = true
		}
		if (max < 0 || max > 1) && atom.canBeEmpty() {
			return nil, p.errf("a repeated expression that can match the empty string is not supported")
		}
		if p.more() {
			switch p.peek() {
			case '*', '+', '?':
				return nil, p.errf("nothing to repeat")
			case '{':
				save := p.pos
				if _, _, ok := p.parseBraces(); ok {
					return nil, p.errf("nothing to repeat")
				}
				p.pos = save
			}
		}
		return rep, nil
	}
	return atom, nil
}

// parseBraces parses {n}, {n,} or {n,m} at p.pos.
func (p *parser) parseBraces() (int, int, bool) {
	end := strings.IndexByte(p.src[p.pos:], '}')
	if end < 0 {
		return 0, 0, false
	}
	body := p.src[p.pos+1 : p.pos+end]
	lo, hi, found := strings.Cut(body, ",")
	n, err := strconv.Atoi(lo)
	if err != nil || n < 0 {
		return 0, 0, false
	}
	m := n
	if found {
		if hi == "" {
			m = -1
		} else if m, err = strconv.Atoi(hi); err != nil || m < 0 {
			return 0, 0, false
		}
	}
	p.pos += end + 1
	return n, m, true
}

func (p *parser) parseAtom() (*node, error) {
	c := p.next()
	switch c {
	case '(':
		return p.parseGroup()
	case '[':
		cls, err := p.parseClass()
		if err != nil {
			return nil, err
		}
		return &node{kind: nClass, cls: cls}, nil
	case '.':
		return &node{kind: nClass, cls: newClass(true, classItem{kind: itemRange, lo: '\n', hi: '\n'},
			classItem{kind: itemRange, lo: '\r', hi: '\r'}, classItem{kind: itemRange, lo: 0x2028, hi: 0x2029})}, nil
	case '^':
		return &node{kind: nBegin}, nil
	case '$':
		return &node{kind: nEnd}, nil
	case '*', '+', '?':
		return nil, p.errf("nothing to repeat before %q", c)
	case '\\':
		if !p.more() {
			return nil, p.errf("trailing backslash")
		}
		switch p.peek() {
		case 'b':
			p.pos++
			return &node{kind: nWordB}, nil
		case 'B':
			p.pos++
			return &node{kind: nNotWordB}, nil
		}
		if d := p.peek(); '1' <= d && d <= '9' {
			return nil, p.errf("back-references are not supported")
		}
		item, err := p.parseEscape(false)
		if err != nil {
			return nil, err
		}
		return &node{kind: nClass, cls: p.finishClass(false, item)}, nil
	}
	return &node{kind: nClass, cls: p.finishClass(false, classItem{kind: itemRange, lo: c, hi: c})}, nil
}

func (p *parser) parseGroup() (*node, error) {
	var mode lookMode
	look, fold := false, p.fold
	if strings.HasPrefix(p.src[p.pos:], "?") {
		rest := p.src[p.pos+1:]
		switch {
		case strings.HasPrefix(rest, ":"):
			p.pos += 2
		case strings.HasPrefix(rest, "="):
			p.pos += 2
			look, mode = true, lookAhead
		case strings.HasPrefix(rest, "!"):
			p.pos += 2
			look, mode = true, lookNegAhead
		case strings.HasPrefix(rest, ">"):
			p.pos += 2
			look, mode = true, lookAtomic
		case strings.HasPrefix(rest, "<=") || strings.HasPrefix(rest, "<!"):
			return nil, p.errf("lookbehind is not supported")
		case strings.HasPrefix(rest, "<"):
			end := strings.IndexByte(rest, '>')
			if end < 0 {
				return nil, p.errf("unterminated group name")
			}
			p.pos += 1 + end + 1
		case strings.HasPrefix(rest, "i:"):
			p.pos += 3
			fold = true
		case strings.HasPrefix(rest, "-i:"):
			p.pos += 4
			fold = false
		default:
			return nil, p.errf("unsupported group syntax (?%s", firstRune(rest))
		}
	}
	saved := p.fold
	p.fold = fold
	n, err := p.parseAlt()
	p.fold = saved
	if err != nil {
		return nil, err
	}
	if !p.more() || p.next() != ')' {
		return nil, p.errf("missing ')'")
	}
	if look {
		return &node{kind: nLook, mode: mode, subs: []*node{n}}, nil
	}
	return n, nil
}

func firstRune(s string) string {
	if s == "" {
		return ""
	}
	_, n := utf8.DecodeRuneInString(s)
	return s[:n]
}

// parseClass parses a bracket expression after its '['.
func (p *parser) parseClass() (*charClass, error) {
	neg := false
	if p.more() && p.peek() == '^' {
		p.pos++
		neg = true
	}
	var items []classItem
	for {
		if !p.more() {
			return nil, p.errf("missing ']'")
		}
		if p.peek() == ']' {
			p.pos++
			break
		}
		lo, err := p.classAtom()
		if err != nil {
			return nil, err
		}
		// A range a-b, unless '-' is last or an endpoint is a class escape.
		if lo.kind == itemRange && strings.HasPrefix(p.src[p.pos:], "-") && !strings.HasPrefix(p.src[p.pos:], "-]") && p.pos+1 < len(p.src) {
			save := p.pos
			p.pos++
			hi, err := p.classAtom()
			if err != nil {
				return nil, err
			}
			if hi.kind != itemRange {
				p.pos = save
				items = append(items, lo)
				continue
			}
			if hi.lo < lo.lo {
				return nil, p.errf("range out of order in character class")
			}
			items = append(items, classItem{kind: itemRange, lo: lo.lo, hi: hi.lo})
			continue
		}
		items = append(items, lo)
	}
	return p.finishClass(neg, items...), nil
}

func (p *parser) classAtom() (classItem, error) {
	c := p.next()
	if c != '\\' {
		return classItem{kind: itemRange, lo: c, hi: c}, nil
	}
	if !p.more() {
		return classItem{}, p.errf("trailing backslash")
	}
	if p.peek() == 'b' {
		p.pos++
		return classItem{kind: itemRange, lo: '\b', hi: '\b'}, nil
	}
	return p.parseEscape(true)
}

// parseEscape parses the escape after a backslash.
func (p *parser) parseEscape(inClass bool) (classItem, error) {
	c := p.next()
	lit := func(r rune) (classItem, error) { return classItem{kind: itemRange, lo: r, hi: r}, nil }
	switch c {
	case 'd', 'D':
		return classItem{kind: itemDigit, neg: c == 'D'}, nil
	case 'w', 'W':
		return classItem{kind: itemWord, neg: c == 'W'}, nil
	case 's', 'S':
		return classItem{kind: itemSpace, neg: c == 'S'}, nil
	case 'p', 'P':
		if !p.more() || p.peek() != '{' {
			return classItem{}, p.errf(`\%c needs {name}`, c)
		}
		end := strings.IndexByte(p.src[p.pos:], '}')
		if end < 0 {
			return classItem{}, p.errf(`unterminated \%c{`, c)
		}
		name := p.src[p.pos+1 : p.pos+end]
		p.pos += end + 1
		item, err := propertyItem(name)
		if err != nil {
			return classItem{}, p.errf("%v", err)
		}
		item.neg = c == 'P'
		return item, nil
	case 't':
		return lit('\t')
	case 'n':
		return lit('\n')
	case 'r':
		return lit('\r')
	case 'f':
		return lit('\f')
	case 'v':
		return lit('\v')
	case '0':
		return lit(0)
	case 'x':
		return p.hexEscape(2)
	case 'u':
		if p.more() && p.peek() == '{' {
			end := strings.IndexByte(p.src[p.pos:], '}')
			if end < 0 {
				return classItem{}, p.errf(`unterminated \u{`)
			}
			v, err := strconv.ParseUint(p.src[p.pos+1:p.pos+end], 16, 32)
			if err != nil || v > unicode.MaxRune {
				return classItem{}, p.errf(`bad \u{...} escape`)
			}
			p.pos += end + 1
			return lit(rune(v))
		}
		item, err := p.hexEscape(4)
		if err != nil {
			return item, err
		}
		// A surrogate pair written as two \u escapes is one code point.
		if utf16IsHigh(item.lo) && strings.HasPrefix(p.src[p.pos:], `\u`) {
			save := p.pos
			p.pos += 2
			lo, err := p.hexEscape(4)
			if err == nil && utf16IsLow(lo.lo) {
				r := (item.lo-0xD800)<<10 + (lo.lo - 0xDC00) + 0x10000
				return lit(r)
			}
			p.pos = save
		}
		return item, nil
	case 'c':
		if p.more() {
			l := p.peek()
			if 'a' <= l && l <= 'z' || 'A' <= l && l <= 'Z' {
				p.pos++
				return lit(l % 32)
			}
		}
		return classItem{}, p.errf(`bad \c escape`)
	}
	if c < utf8.RuneSelf && (unicode.IsLetter(c) || unicode.IsDigit(c)) {
		return classItem{}, p.errf(`unknown escape \%c`, c)
	}
	return lit(c) // an escaped punctuation or symbol character stands for itself
}

func utf16IsHigh(r rune) bool { return 0xD800 <= r && r < 0xDC00 }
func utf16IsLow(r rune) bool  { return 0xDC00 <= r && r < 0xE000 }

func (p *parser) hexEscape(n int) (classItem, error) {
	if p.pos+n > len(p.src) {
		return classItem{}, p.errf("short hex escape")
	}
	v, err := strconv.ParseUint(p.src[p.pos:p.pos+n], 16, 32)
	if err != nil {
		return classItem{}, p.errf("bad hex escape %q", p.src[p.pos:p.pos+n])
	}
	p.pos += n
	return classItem{kind: itemRange, lo: rune(v), hi: rune(v)}, nil
}

func (p *parser) finishClass(neg bool, items ...classItem) *charClass {
	c := newClass(neg, items...)
	if p.fold {
		c = newFoldClass(c)
	}
	return c
}

// ---- compiler ----

func (re *regex) compileProg(n *node) (int, error) {
	idx := len(re.progs)
	pr := &prog{}
	re.progs = append(re.progs, pr)
	c := &compiler{re: re, prog: pr}
	if err := c.emit(n); err != nil {
		return 0, err
	}
	pr.insts = append(pr.insts, inst{op: opMatch})
	return idx, nil
}

type compiler struct {
	re   *regex
	prog *prog
}

func (c *compiler) add(in inst) int {
	c.prog.insts = append(c.prog.insts, in)
	return len(c.prog.insts) - 1
}

func (c *compiler) pc() int { return len(c.prog.insts) }

func (c *compiler) emit(n *node) error {
	switch n.kind {
	case nClass:
		if r, ok := n.cls.single(); ok {
			c.add(inst{op: opRune, r: r})
		} else {
			c.add(inst{op: opClass, cls: n.cls})
		}
	case nConcat:
		for _, s := range n.subs {
			if err := c.emit(s); err != nil {
				return err
			}
		}
	case nAlt:
		var jumps []int
		for i, s := range n.subs {
			if i < len(n.subs)-1 {
				split := c.add(inst{op: opSplit, cls: firstSet(s)})
				c.prog.insts[split].x = c.pc()
				if err := c.emit(s); err != nil {
					return err
				}
				jumps = append(jumps, c.add(inst{op: opJmp}))
				c.prog.insts[split].y = c.pc()
			} else if err := c.emit(s); err != nil {
				return err
			}
		}
		for _, j := range jumps {
			c.prog.insts[j].x = c.pc()
		}
	case nRepeat:
		return c.emitRepeat(n)
	case nLook:
		sub, err := c.re.compileProg(n.subs[0])
		if err != nil {
			return err
		}
		c.add(inst{op: opLook, mode: n.mode, x: sub})
	case nBegin:
		c.add(inst{op: opBegin})
	case nEnd:
		c.add(inst{op: opEnd})
	case nWordB:
		c.add(inst{op: opWordB})
	case nNotWordB:
		c.add(inst{op: opNotWordB})
	}
	return nil
}

func (c *compiler) emitRepeat(n *node) error {
	body := n.subs[0]
	if body.kind == nClass && n.greedy {
		c.add(inst{op: opRepeat, cls: body.cls, min: n.min, max: n.max, possessive: n.possessive})
		return nil
	}
	if n.possessive {
		// x*+ is the atomic group (?>x*).
		inner := *n
		inner.possessive = false
		sub, err := c.re.compileProg(&inner)
		if err != nil {
			return err
		}
		c.add(inst{op: opLook, mode: lookAtomic, x: sub})
		return nil
	}
	for i := 0; i < n.min; i++ {
		if err := c.emit(body); err != nil {
			return err
		}
	}
	if n.max < 0 {
		loop := c.add(inst{op: opSplit})
		if err := c.emit(body); err != nil {
			return err
		}
		c.add(inst{op: opJmp, x: loop})
		c.setSplit(loop, loop+1, c.pc(), n.greedy)
		return nil
	}
	var splits []int
	for i := n.min; i < n.max; i++ {
		splits = append(splits, c.add(inst{op: opSplit}))
		if err := c.emit(body); err != nil {
			return err
		}
	}
	end := c.pc()
	for _, s := range splits {
		c.setSplit(s, s+1, end, n.greedy)
	}
	return nil
}

func (c *compiler) setSplit(at, body, exit int, greedy bool) {
	if greedy {
		c.prog.insts[at].x, c.prog.insts[at].y = body, exit
	} else {
		c.prog.insts[at].x, c.prog.insts[at].y = exit, body
	}
}

// firstSet returns the code points that a match of n can start with, or nil
// when n can match the empty string (and so can start anywhere).
func firstSet(n *node) *charClass {
	var parts []*charClass
	if nullable := collectFirst(n, &parts); nullable || len(parts) == 0 {
		return nil
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return newUnionClass(parts)
}

// collectFirst appends to parts the classes that can match n's first code
// point and reports whether n can match without consuming one.
func collectFirst(n *node, parts *[]*charClass) bool {
	switch n.kind {
	case nClass:
		*parts = append(*parts, n.cls)
		return false
	case nConcat:
		for _, s := range n.subs {
			if !collectFirst(s, parts) {
				return false
			}
		}
		return true
	case nAlt:
		nullable := false
		for _, s := range n.subs {
			if collectFirst(s, parts) {
				nullable = true
			}
		}
		return nullable
	case nRepeat:
		return collectFirst(n.subs[0], parts) || n.min == 0
	case nLook:
		if n.mode == lookAtomic {
			return collectFirst(n.subs[0], parts)
		}
	}
	// Lookaheads and anchors consume nothing.
	return true
}

// ---- character classes ----

type itemKind uint8

const (
	itemRange itemKind = iota // lo..hi
	itemTable                 // a unicode.RangeTable
	itemFunc                  // a predicate (unassigned code points, any, ...)
	itemDigit                 // \d
	itemWord                  // \w
	itemSpace                 // \s
)

type classItem struct {
	kind   itemKind
	neg    bool
	lo, hi rune
	table  *unicode.RangeTable
	fn     func(rune) bool
}

func (it *classItem) has(r rune) bool {
	var in bool
	switch it.kind {
	case itemRange:
		in = it.lo <= r && r <= it.hi
	case itemTable:
		in = unicode.Is(it.table, r)
	case itemFunc:
		in = it.fn(r)
	case itemDigit:
		in = '0' <= r && r <= '9'
	case itemWord:
		in = r < utf8.RuneSelf && isWordByte(byte(r))
	case itemSpace:
		in = isSpace(r)
	}
	return in != it.neg
}

// isSpace is ECMAScript's WhiteSpace or LineTerminator: what `\s` matches and
// what String.prototype.trim removes.
func isSpace(r rune) bool {
	switch r {
	case '\t', '\n', '\v', '\f', '\r', ' ', 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000, 0xFEFF:
		return true
	}
	return 0x2000 <= r && r <= 0x200A
}

// charClass is a set of code points with a bitmap for the first two planes
// (every script in common use, emoji, mathematical letters); code points above
// them are tested against the items.
const (
	bmpLimit = 0x20000
	bmpWords = bmpLimit / 64
)

type charClass struct {
	neg   bool
	fold  *charClass   // for case-insensitive classes: the class before folding
	union []*charClass // for unions: the members
	items []classItem
	bmp   []uint64 // membership of U+0000..bmpLimit-1, negation applied
}

func newClass(neg bool, items ...classItem) *charClass {
	c := &charClass{neg: neg, items: items, bmp: make([]uint64, bmpWords)}
	part := make([]uint64, bmpWords)
	for i := range items {
		it := &items[i]
		clear(part)
		switch it.kind {
		case itemRange:
			setBits(part, it.lo, it.hi)
		case itemTable:
			for _, rg := range it.table.R16 {
				for r := rune(rg.Lo); r <= rune(rg.Hi); r += rune(rg.Stride) {
					part[r>>6] |= 1 << (r & 63)
				}
			}
			for _, rg := range it.table.R32 {
				if rg.Lo < bmpLimit {
					for r := rune(rg.Lo); r <= rune(rg.Hi) && r < bmpLimit; r += rune(rg.Stride) {
						part[r>>6] |= 1 << (r & 63)
					}
				}
			}
		default:
			pos := *it
			pos.neg = false
			for r := rune(0); r < bmpLimit; r++ {
				if pos.has(r) {
					part[r>>6] |= 1 << (r & 63)
				}
			}
		}
		for w := range part {
			if it.neg {
				part[w] = ^part[w]
			}
			c.bmp[w] |= part[w]
		}
	}
	if neg {
		for w := range c.bmp {
			c.bmp[w] = ^c.bmp[w]
		}
	}
	return c
}

func setBits(b []uint64, lo, hi rune) {
	if hi >= bmpLimit {
		hi = bmpLimit - 1
	}
	for r := lo; r <= hi; r++ {
		b[r>>6] |= 1 << (r & 63)
	}
}

// newFoldClass returns the class that matches r when c matches any case
// variant of r (simple case folding, as ECMAScript's /iu does).
func newFoldClass(c *charClass) *charClass {
	f := &charClass{fold: c, bmp: make([]uint64, bmpWords)}
	for r := rune(0); r < bmpLimit; r++ {
		if c.bmp[r>>6]&(1<<(r&63)) == 0 {
			continue
		}
		f.bmp[r>>6] |= 1 << (r & 63)
		for g := unicode.SimpleFold(r); g != r; g = unicode.SimpleFold(g) {
			if g < bmpLimit {
				f.bmp[g>>6] |= 1 << (g & 63)
			}
		}
	}
	return f
}

func newUnionClass(parts []*charClass) *charClass {
	u := &charClass{union: parts, bmp: make([]uint64, bmpWords)}
	for _, p := range parts {
		for w := range u.bmp {
			u.bmp[w] |= p.bmp[w]
		}
	}
	return u
}

func (c *charClass) has(r rune) bool {
	if u := uint32(r); u < bmpLimit {
		return c.bmp[u>>6]>>(u&63)&1 != 0
	}
	return c.slow(r)
}

func (c *charClass) slow(r rune) bool {
	if c.union != nil {
		for _, u := range c.union {
			if u.has(r) {
				return true
			}
		}
		return false
	}
	if c.fold != nil {
		if c.fold.has(r) {
			return true
		}
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if c.fold.has(f) {
				return true
			}
		}
		return false
	}
	in := false
	for i := range c.items {
		if c.items[i].has(r) {
			in = true
			break
		}
	}
	return in != c.neg
}

// single reports whether the class is exactly one code point.
func (c *charClass) single() (rune, bool) {
	if c.fold == nil && c.union == nil && !c.neg && len(c.items) == 1 {
		it := c.items[0]
		if it.kind == itemRange && !it.neg && it.lo == it.hi {
			return it.lo, true
		}
	}
	return 0, false
}

var categoryAliases = map[string]string{
	"Letter": "L", "Cased_Letter": "LC", "Uppercase_Letter": "Lu", "Lowercase_Letter": "Ll",
	"Titlecase_Letter": "Lt", "Modifier_Letter": "Lm", "Other_Letter": "Lo",
	"Mark": "M", "Combining_Mark": "M", "Nonspacing_Mark": "Mn", "Spacing_Mark": "Mc", "Enclosing_Mark": "Me",
	"Number": "N", "Decimal_Number": "Nd", "digit": "Nd", "Letter_Number": "Nl", "Other_Number": "No",
	"Punctuation": "P", "punct": "P", "Connector_Punctuation": "Pc", "Dash_Punctuation": "Pd",
	"Open_Punctuation": "Ps", "Close_Punctuation": "Pe", "Initial_Punctuation": "Pi",
	"Final_Punctuation": "Pf", "Other_Punctuation": "Po",
	"Symbol": "S", "Math_Symbol": "Sm", "Currency_Symbol": "Sc", "Modifier_Symbol": "Sk", "Other_Symbol": "So",
	"Separator": "Z", "Space_Separator": "Zs", "Line_Separator": "Zl", "Paragraph_Separator": "Zp",
	"Other": "C", "Control": "Cc", "cntrl": "Cc", "Format": "Cf", "Surrogate": "Cs",
	"Private_Use": "Co", "Unassigned": "Cn",
}

// assigned reports whether r has a general category other than Cn.
func assigned(r rune) bool {
	return unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Z,
		unicode.Cc, unicode.Cf, unicode.Co, unicode.Cs)
}

// propertyItem resolves the name inside \p{...}.
func propertyItem(name string) (classItem, error) {
	key, val, hasEq := strings.Cut(name, "=")
	if hasEq {
		switch key {
		case "gc", "General_Category":
			return categoryItem(val)
		case "sc", "Script":
			if t, ok := unicode.Scripts[val]; ok {
				return classItem{kind: itemTable, table: t}, nil
			}
			return classItem{}, fmt.Errorf("unknown script %q", val)
		}
		return classItem{}, fmt.Errorf("unsupported property %q", name)
	}
	switch name {
	case "Any":
		return classItem{kind: itemRange, lo: 0, hi: unicode.MaxRune}, nil
	case "ASCII":
		return classItem{kind: itemRange, lo: 0, hi: 0x7F}, nil
	case "Assigned":
		return classItem{kind: itemFunc, fn: assigned}, nil
	}
	if it, err := categoryItem(name); err == nil {
		return it, nil
	}
	if t, ok := unicode.Scripts[name]; ok {
		return classItem{kind: itemTable, table: t}, nil
	}
	if t, ok := unicode.Properties[name]; ok {
		return classItem{kind: itemTable, table: t}, nil
	}
	return classItem{}, fmt.Errorf("unknown property \\p{%s}", name)
}

func categoryItem(name string) (classItem, error) {
	if a, ok := categoryAliases[name]; ok {
		name = a
	}
	switch name {
	case "Cn":
		return classItem{kind: itemFunc, fn: func(r rune) bool { return !assigned(r) }}, nil
	case "LC":
		return classItem{kind: itemFunc, fn: func(r rune) bool {
			return unicode.Is(unicode.Lu, r) || unicode.Is(unicode.Ll, r) || unicode.Is(unicode.Lt, r)
		}}, nil
	}
	// Go's C, like ECMAScript's \p{C}, includes the unassigned code points.
	if t, ok := unicode.Categories[name]; ok {
		return classItem{kind: itemTable, table: t}, nil
	}
	return classItem{}, fmt.Errorf("unknown general category %q", name)
}
