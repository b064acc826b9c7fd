package tokenizer

import (
	"fmt"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// The regex engine's character classes: ranges, Unicode properties and categories, case folding (see regex.go).

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
	bits   func() []uint64 // itemFunc: fn below bmpLimit, as a bitmap
}

// funcItem is the item of a predicate. Its bitmap is computed once per
// process: testing a predicate on 2¹⁷ code points takes milliseconds, and a
// hostile pattern may name it thousands of times.
func funcItem(fn func(rune) bool) classItem {
	return classItem{kind: itemFunc, fn: fn, bits: sync.OnceValue(func() []uint64 {
		b := make([]uint64, bmpWords)
		for r := rune(0); r < bmpLimit; r++ {
			if fn(r) {
				b[r>>6] |= 1 << (r & 63)
			}
		}
		return b
	})}
}

var (
	spaceItem       = funcItem(isSpace) // for its bitmap; \s is itemSpace
	assignedItem    = funcItem(assigned)
	unassignedItem  = funcItem(func(r rune) bool { return !assigned(r) })
	casedLetterItem = funcItem(func(r rune) bool {
		return unicode.Is(unicode.Lu, r) || unicode.Is(unicode.Ll, r) || unicode.Is(unicode.Lt, r)
	})
)

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

// newClass builds the class of items. Every item costs at most a pass over
// the bitmap's words (or, for a Unicode table, over its ranges), so that
// the pattern quota, which counts classes and items, bounds the time.
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
				setStride(part, rune(rg.Lo), rune(rg.Hi), rune(rg.Stride))
			}
			for _, rg := range it.table.R32 {
				setStride(part, rune(rg.Lo), rune(rg.Hi), rune(rg.Stride))
			}
		case itemFunc:
			copy(part, it.bits())
		case itemDigit:
			setBits(part, '0', '9')
		case itemWord:
			setBits(part, '0', '9')
			setBits(part, 'A', 'Z')
			setBits(part, '_', '_')
			setBits(part, 'a', 'z')
		case itemSpace:
			copy(part, spaceItem.bits())
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

// setBits sets the bits of lo..hi below bmpLimit, a word at a time.
func setBits(b []uint64, lo, hi rune) {
	hi = min(hi, bmpLimit-1)
	for lo <= hi {
		w, off := lo>>6, lo&63
		n := min(hi-lo+1, 64-off) // bits in this word
		mask := ^uint64(0)
		if n < 64 {
			mask = (1<<uint(n) - 1) << uint(off)
		}
		b[w] |= mask
		lo += n
	}
}

// setStride sets lo, lo+stride, ... up to hi, below bmpLimit.
func setStride(b []uint64, lo, hi, stride rune) {
	if stride == 1 {
		setBits(b, lo, hi)
		return
	}
	for r := lo; r <= hi && r < bmpLimit; r += stride {
		b[r>>6] |= 1 << (r & 63)
	}
}

// foldable lists the code points below bmpLimit that have other case
// variants (a few thousand); the others fold to themselves.
var foldable = sync.OnceValue(func() []rune {
	var rs []rune
	for r := rune(0); r < bmpLimit; r++ {
		if unicode.SimpleFold(r) != r {
			rs = append(rs, r)
		}
	}
	return rs
})

// newFoldClass returns the class that matches r when c matches any case
// variant of r (simple case folding, as ECMAScript's /iu does).
func newFoldClass(c *charClass) *charClass {
	f := &charClass{fold: c, bmp: make([]uint64, bmpWords)}
	copy(f.bmp, c.bmp)
	for _, r := range foldable() {
		if c.bmp[r>>6]&(1<<(r&63)) == 0 {
			continue
		}
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
		return assignedItem, nil
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
		return unassignedItem, nil
	case "LC":
		return casedLetterItem, nil
	}
	// Go's C, like ECMAScript's \p{C}, includes the unassigned code points.
	if t, ok := unicode.Categories[name]; ok {
		return classItem{kind: itemTable, table: t}, nil
	}
	return classItem{}, fmt.Errorf("unknown general category %q", name)
}
