package ir

import "slices"

// Pat is a pattern over values, written as data: which op defines the
// value, patterns for that op's operands, a name to capture the value
// under, and a condition. Build patterns with P, OneOf, Any and Splat:
//
//	P(OpReshape, P(OpReshape, Any("x")))   reshape of a reshape of anything
//	P(OpSub, Any("x"), Any("x"))           x - x: a name used twice must bind one value
//	P(OpMul, Any("x"), Splat(1))           x * 1
type Pat struct {
	Ops  []*OpDef          // the defining op is one of these; none: any value, a function argument included
	Args []*Pat            // patterns for the operands, in order; nil: any operands
	Name string            // capture the value under this name (its op is Match.Op(Name))
	Cond func(*Value) bool // an extra condition; nil: none
}

// P matches a value defined by op d whose operands match args (any
// operands when args is empty).
func P(d *OpDef, args ...*Pat) *Pat { return &Pat{Ops: []*OpDef{d}, Args: args} }

// OneOf matches a value defined by any of the ops ds.
func OneOf(ds []*OpDef, args ...*Pat) *Pat { return &Pat{Ops: ds, Args: args} }

// Any matches every value and captures it as name ("" captures nothing).
func Any(name string) *Pat { return &Pat{Name: name} }

// Splat matches a tensor every element of which is x (see IsSplat).
func Splat(x float64) *Pat { return Any("").If(func(v *Value) bool { return IsSplat(v, x) }) }

// As returns p capturing its value as name.
func (p *Pat) As(name string) *Pat { q := *p; q.Name = name; return &q }

// If returns p with the extra condition cond (and p's own, if any).
func (p *Pat) If(cond func(*Value) bool) *Pat {
	q := *p
	if prev := p.Cond; prev != nil {
		q.Cond = func(v *Value) bool { return prev(v) && cond(v) }
	} else {
		q.Cond = cond
	}
	return &q
}

func (p *Pat) wellFormed() bool {
	if p == nil {
		return false
	}
	for _, a := range p.Args {
		if !a.wellFormed() {
			return false
		}
	}
	return true
}

// Match is a successful match: the root op and the captured values.
type Match struct {
	Root *Op
	vals map[string]*Value
}

// V is the value captured as name, or nil.
func (m *Match) V(name string) *Value { return m.vals[name] }

// Op is the op that defines the value captured as name, or nil.
func (m *Match) Op(name string) *Op {
	if v := m.vals[name]; v != nil {
		return v.Def
	}
	return nil
}

// Match matches v against p.
func (p *Pat) Match(v *Value) (*Match, bool) {
	m := &Match{Root: v.Def, vals: map[string]*Value{}}
	return m, p.match(v, m)
}

func (p *Pat) match(v *Value, m *Match) bool {
	if len(p.Ops) > 0 && (v.Def == nil || !slices.ContainsFunc(p.Ops, v.Def.Is)) {
		return false
	}
	if p.Args != nil && (v.Def == nil || len(p.Args) != len(v.Def.Args)) {
		return false
	}
	for i, a := range p.Args {
		if !a.match(v.Def.Args[i], m) {
			return false
		}
	}
	if p.Cond != nil && !p.Cond(v) {
		return false
	}
	if p.Name == "" {
		return true
	}
	if prev, ok := m.vals[p.Name]; ok {
		return prev == v
	}
	m.vals[p.Name] = v
	return true
}

// splatViews are ops that keep a splat a splat; IsSplat looks through them.
var splatViews = []*OpDef{OpExpand, OpReshape}

// IsSplat reports whether every element of v is x: v is a const of that
// value, possibly reshaped or expanded.
func IsSplat(v *Value, x float64) bool {
	for v.Def != nil && slices.ContainsFunc(splatViews, v.Def.Is) {
		v = v.Def.Args[0]
	}
	if !v.Def.Is(OpConst) {
		return false
	}
	c, ok := v.Def.Attrs.Float("value") // an int or a float; false for a bool
	return ok && c == x
}
