package tokenizer

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The regex engine's syntax tree and its parser (ECMAScript with the u flag; see regex.go).

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
	src   string
	pos   int
	fold  bool // inside (?i:...)
	depth int  // groups open
	quota *patternQuota
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
		if err := p.quota.takeClasses(4); err != nil { // a class of three items
			return nil, err
		}
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
		return p.classNode(false, item)
	}
	return p.classNode(false, classItem{kind: itemRange, lo: c, hi: c})
}

func (p *parser) classNode(neg bool, items ...classItem) (*node, error) {
	cls, err := p.finishClass(neg, items...)
	if err != nil {
		return nil, err
	}
	return &node{kind: nClass, cls: cls}, nil
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
	if p.depth++; p.depth > maxRegexDepth {
		return nil, p.errf("groups nested more than %d deep", maxRegexDepth)
	}
	saved := p.fold
	p.fold = fold
	n, err := p.parseAlt()
	p.fold = saved
	p.depth--
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
	return p.finishClass(neg, items...)
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

// finishClass builds the class of items, taking it and its items (and its
// case-folded copy) from the quota first.
func (p *parser) finishClass(neg bool, items ...classItem) (*charClass, error) {
	n := 1 + len(items)
	if p.fold {
		n++
	}
	if err := p.quota.takeClasses(n); err != nil {
		return nil, err
	}
	c := newClass(neg, items...)
	if p.fold {
		c = newFoldClass(c)
	}
	return c, nil
}
