package ir

import "fmt"

// Loc points back into the .deep source an op came from.
type Loc struct {
	File      string
	Line, Col int
}

func (l Loc) IsKnown() bool { return l.File != "" }

func (l Loc) String() string {
	if !l.IsKnown() {
		return "<unknown>"
	}
	return fmt.Sprintf("%s:%d:%d", l.File, l.Line, l.Col)
}

// Module is a whole compiled model: parameters shared by its functions
// (forward, mtp, and whatever pipelines derive) and the functions.
type Module struct {
	Name   string
	Attrs  Attrs
	Params []*Param
	Funcs  []*Func
}

// Param is a named weight or state tensor. Its name is the checkpoint name
// (a "{e}" in it means the tensor is stacked along axis 0 from per-index
// checkpoint tensors). Attrs carry quantization, initializer, trainability.
type Param struct {
	Name  string
	Type  Type
	Attrs Attrs
}

// Param finds a parameter by name.
func (m *Module) Param(name string) *Param {
	for _, p := range m.Params {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// Func finds a function by name.
func (m *Module) Func(name string) *Func {
	for _, f := range m.Funcs {
		if f.Name == name {
			return f
		}
	}
	return nil
}

// Func is one SSA function over tensors: arguments, a straight-line body,
// and returned values.
type Func struct {
	Name    string
	Args    []*Value
	Body    []*Op
	Results []*Value
}

// Value is an SSA tensor value: a function argument (Def == nil) or an op result.
type Value struct {
	Type  Type
	Def   *Op
	Index int    // result index in Def, or argument index
	Name  string // argument name; empty for op results
}

// Op is one operation. Name keys the op table (see Lookup); compare ops
// with Is, not by Name.
type Op struct {
	Name    string
	Args    []*Value
	Results []*Value
	Attrs   Attrs
	Loc     Loc
}

// Def returns the op's table entry, or nil for an unknown op.
func (o *Op) Def() *OpDef { return Lookup(o.Name) }

// Is reports whether o is an instance of op d. A nil o (the Def of a
// function argument) is no op, so v.Def.Is(OpParam) needs no nil check.
// Names are unique in the table, so comparing them is comparing defs
// without the table lookup.
func (o *Op) Is(d *OpDef) bool { return o != nil && o.Name == d.Name }

// Pure reports whether o may be removed when its results are unused and
// merged with an identical op: its table entry says so. Unknown ops are
// not pure, conservatively.
func (o *Op) Pure() bool {
	d := o.Def()
	return d != nil && d.Pure
}

// Result returns the single result of a one-result op.
func (o *Op) Result() *Value { return o.Results[0] }

// ResultTypes lists the op's result types.
func (o *Op) ResultTypes() []Type {
	ts := make([]Type, len(o.Results))
	for i, r := range o.Results {
		ts[i] = r.Type
	}
	return ts
}

// ArgTypes lists the op's operand types.
func (o *Op) ArgTypes() []Type {
	ts := make([]Type, len(o.Args))
	for i, a := range o.Args {
		ts[i] = a.Type
	}
	return ts
}

// NewOp builds an op with result values of the given types.
func NewOp(name string, args []*Value, attrs Attrs, results []Type, loc Loc) *Op {
	op := &Op{Name: name, Args: args, Attrs: attrs, Loc: loc}
	for i, t := range results {
		op.Results = append(op.Results, &Value{Type: t, Def: op, Index: i})
	}
	return op
}

// Uses counts, for every value defined in f, how many times it is used
// (as an operand or a returned value).
func (f *Func) Uses() map[*Value]int {
	uses := map[*Value]int{}
	for _, op := range f.Body {
		for _, a := range op.Args {
			uses[a]++
		}
	}
	for _, r := range f.Results {
		uses[r]++
	}
	return uses
}
