package filecheck

import (
	"errors"
	"fmt"
)

// Check matches the directives found in checkSource against input. It
// returns nil when all hold, or every failure (one per label block at most),
// each an *Error naming its directive's line.
func Check(input, checkSource string) error {
	ds, err := parseDirectives(checkSource)
	if err != nil {
		return err
	}
	in := newInput(input)
	blocks, err := in.split(ds)
	if err != nil {
		return err
	}
	var errs []error
	for _, b := range blocks {
		if err := in.checkBlock(b); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
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
func (in *input) split(ds []directive) ([]block, error) {
	cur := block{start: pos{}}
	var blocks []block
	for _, d := range ds {
		if d.kind != kLabel {
			cur.dirs = append(cur.dirs, d)
			continue
		}
		m, ok := in.find(d.pattern, cur.start, in.end())
		if cur.label != nil {
			m, ok = in.find(d.pattern, cur.label.end, in.end())
		}
		if !ok {
			return nil, in.fail(d, cur.start.line, "label not found in the input after line %d", cur.start.line+1)
		}
		cur.end = m.start
		blocks = append(blocks, cur)
		cur = block{start: m.start, label: &m}
	}
	cur.end = in.end()
	return append(blocks, cur), nil
}

// checkBlock matches a block's directives in order and stops at the first
// failure: later matches would be measured from a wrong place.
func (in *input) checkBlock(b block) error {
	cur, prev := b.start, b.label
	if prev != nil {
		cur = prev.end
	}
	var nots []directive
	for _, d := range b.dirs {
		if d.kind == kNot {
			nots = append(nots, d)
			continue
		}
		m, err := in.matchOne(d, cur, prev, b.end)
		if err != nil {
			return err
		}
		if err := in.checkNots(nots, cur, m.start); err != nil {
			return err
		}
		nots = nil
		cur, prev = m.end, &m
	}
	return in.checkNots(nots, cur, b.end)
}

// matchOne finds a positive directive's pattern: anywhere after cur for
// CHECK, on the line after prev for CHECK-NEXT, on prev's line for CHECK-SAME.
func (in *input) matchOne(d directive, cur pos, prev *match, end pos) (match, error) {
	switch d.kind {
	case kNext:
		next := prev.end.line + 1
		if next > end.line {
			return match{}, in.fail(d, prev.end.line, "no line follows the previous match (input line %d)", prev.end.line+1)
		}
		to := in.lineEnd(next)
		if end.before(to) {
			to = end
		}
		if m, ok := in.find(d.pattern, pos{next, 0}, to); ok {
			return m, nil
		}
		return match{}, in.missed(d, next, cur, end, "not found on the line after the previous match (input line %d)", prev.end.line+1)
	case kSame:
		to := in.lineEnd(prev.end.line)
		if end.before(to) {
			to = end
		}
		if m, ok := in.find(d.pattern, cur, to); ok {
			return m, nil
		}
		return match{}, in.missed(d, prev.end.line, cur, end, "not found on the same line as the previous match (input line %d)", prev.end.line+1)
	}
	if m, ok := in.find(d.pattern, cur, end); ok {
		return m, nil
	}
	return match{}, in.missed(d, cur.line, cur, end, "not found after input line %d", cur.line+1)
}

// missed reports a pattern not found where expected, at input line l, and
// adds where it does occur further on, or the likeliest near miss.
func (in *input) missed(d directive, l int, cur, end pos, format string, args ...any) *Error {
	e := in.fail(d, l, format, args...)
	if m, ok := in.find(d.pattern, cur, end); ok {
		e.Msg += fmt.Sprintf("; it occurs at input line %d", m.start.line+1)
		return e
	}
	if nm := in.nearMiss(d.pattern, cur, end); nm >= 0 && nm != l {
		e.Msg += fmt.Sprintf("; possible intended match at input line %d", nm+1)
		e.Context += "possible intended match:\n" + in.quote(nm)
	}
	return e
}

// checkNots fails if any CHECK-NOT pattern occurs in [from, to).
func (in *input) checkNots(nots []directive, from, to pos) error {
	for _, d := range nots {
		if m, ok := in.find(d.pattern, from, to); ok {
			return in.fail(d, m.start.line, "found at input line %d, where it must not occur", m.start.line+1)
		}
	}
	return nil
}
