package filecheck

import (
	"errors"
	"fmt"
)

// Config says how to read a check file.
type Config struct {
	// File names the check file in errors ("fold.ir:12: ..."); without it
	// they say "check line 12".
	File string
	// Prefixes select the directives (`// FOO:`, `// FOO-NEXT:`, ...);
	// none means DefaultPrefix.
	Prefixes []string
}

// Check matches the CHECK directives found in checkSource against input.
func Check(input, checkSource string) error { return Config{}.Check(input, checkSource) }

// Check matches the directives found in checkSource against input. It
// returns nil when all hold, or every failure (one per label block at most),
// each an *Error naming its directive's line.
func (c Config) Check(input, checkSource string) error {
	prefixes := c.Prefixes
	if len(prefixes) == 0 {
		prefixes = []string{DefaultPrefix}
	}
	if err := checkPrefixes(prefixes); err != nil {
		return err
	}
	ds, err := parseDirectives(checkSource, prefixes, c.at)
	if err != nil {
		return err
	}
	ck := &checker{input: newInput(input), file: c.File, vars: map[string]string{}}
	blocks, err := ck.split(ds)
	if err != nil {
		return err
	}
	var errs []error
	for _, b := range blocks {
		if err := ck.checkBlock(b); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// at names check line l in errors.
func (c Config) at(l int) string { return where(c.File, l) }

func where(file string, l int) string {
	if file == "" {
		return fmt.Sprintf("check line %d", l)
	}
	return fmt.Sprintf("%s:%d", file, l)
}

// checker is one run of a check file over an input.
type checker struct {
	*input
	file string
	// vars are the variables' values: set by each matching definition and
	// kept to the end of the file, across labels (LLVM without
	// --enable-var-scope).
	vars map[string]string
}

// block is a stretch of input that the directives after one CHECK-LABEL
// (or before the first) must match within.
type block struct {
	start, end pos
	label      *match // the label's match; nil for the block before any label
	dirs       []directive
}

// split finds the labels in order and cuts the input at them, the way
// FileCheck does before it looks at any other directive: a failure in one
// function's checks then cannot make the next function's checks fail too.
func (c *checker) split(ds []directive) ([]block, error) {
	cur := block{start: pos{}}
	var blocks []block
	for _, d := range ds {
		if d.kind != kLabel {
			cur.dirs = append(cur.dirs, d)
			continue
		}
		mt, err := d.pat.compile(nil) // labels have no variables (checkVars)
		if err != nil {
			return nil, err
		}
		from := cur.start
		if cur.label != nil {
			from = cur.label.end
		}
		m, ok := c.find(mt, from, c.end())
		if !ok {
			return nil, c.fail(d, mt, from, from.line, "label not found")
		}
		cur.end = m.start
		blocks = append(blocks, cur)
		cur = block{start: m.start, label: &m}
	}
	cur.end = c.end()
	return append(blocks, cur), nil
}

// checkBlock matches a block's directives in order and stops at the first
// failure: later matches would be measured from a wrong place.
func (c *checker) checkBlock(b block) error {
	cur, prev := b.start, b.label
	if prev != nil {
		cur = prev.end
	}
	// CHECK-NOTs wait for the next positive match, which ends their range;
	// they take the variables' values from where they stand in the file.
	type not struct {
		d  directive
		mt *matcher
	}
	var nots []not
	for _, d := range b.dirs {
		mt, err := d.pat.compile(c.vars)
		if err != nil {
			return c.fail(d, nil, cur, cur.line, "%v", err)
		}
		if d.kind == kNot {
			nots = append(nots, not{d, mt})
			continue
		}
		m, err := c.matchOne(d, mt, cur, prev, b.end)
		if err != nil {
			return err
		}
		for _, n := range nots {
			if err := c.checkNot(n.d, n.mt, cur, m.start); err != nil {
				return err
			}
		}
		nots = nil
		for name, g := range mt.defs {
			c.vars[name] = m.groups[g]
		}
		cur, prev = m.end, &m
	}
	for _, n := range nots {
		if err := c.checkNot(n.d, n.mt, cur, b.end); err != nil {
			return err
		}
	}
	return nil
}

// matchOne finds a positive directive's pattern: anywhere after cur for
// CHECK, on the line after prev for CHECK-NEXT, on prev's line for CHECK-SAME.
func (c *checker) matchOne(d directive, mt *matcher, cur pos, prev *match, end pos) (match, error) {
	switch d.kind {
	case kNext:
		next := prev.end.line + 1
		if next > end.line {
			return match{}, c.fail(d, mt, cur, prev.end.line, "no line follows the previous match (input line %d)", prev.end.line+1)
		}
		from, to := pos{next, 0}, c.lineEnd(next)
		if end.before(to) {
			to = end
		}
		if m, ok := c.find(mt, from, to); ok {
			return m, nil
		}
		return match{}, c.missed(d, mt, next, from, cur, end, "not found on the line after the previous match (input line %d)", prev.end.line+1)
	case kSame:
		to := c.lineEnd(prev.end.line)
		if end.before(to) {
			to = end
		}
		if m, ok := c.find(mt, cur, to); ok {
			return m, nil
		}
		return match{}, c.missed(d, mt, prev.end.line, cur, cur, end, "not found on the same line as the previous match (input line %d)", prev.end.line+1)
	}
	if m, ok := c.find(mt, cur, end); ok {
		return m, nil
	}
	return match{}, c.missed(d, mt, cur.line, cur, cur, end, "not found")
}

// missed reports a pattern not found where expected (searched from from,
// about input line l), and adds where it does occur between cur and end,
// or the likeliest near miss.
func (c *checker) missed(d directive, mt *matcher, l int, from, cur, end pos, format string, args ...any) *Error {
	e := c.fail(d, mt, from, l, format, args...)
	if m, ok := c.find(mt, cur, end); ok {
		e.Msg += fmt.Sprintf("; it occurs at input line %d", m.start.line+1)
		return e
	}
	if nm := c.nearMiss(mt.literal, cur, end); nm >= 0 && nm != l {
		e.Msg += fmt.Sprintf("; possible intended match at input line %d", nm+1)
		e.Context += "possible intended match:\n" + c.quote(nm)
	}
	return e
}

// checkNot fails if a CHECK-NOT pattern occurs in [from, to).
func (c *checker) checkNot(d directive, mt *matcher, from, to pos) error {
	if m, ok := c.find(mt, from, to); ok {
		return c.fail(d, mt, from, m.start.line, "found at input line %d, where it must not occur (the range checked ends at input line %d)", m.start.line+1, to.line+1)
	}
	return nil
}
