package ir

import "fmt"

// Builder appends ops to a function, inferring result types from the op
// table. Loc is stamped on every op it builds.
type Builder struct {
	F   *Func
	Loc Loc
}

// NewFunc adds an empty function to m and returns a builder for it.
func (m *Module) NewFunc(name string) *Builder {
	f := &Func{Name: name}
	m.Funcs = append(m.Funcs, f)
	return &Builder{F: f}
}

// Arg appends a function argument.
func (b *Builder) Arg(name string, t Type) *Value {
	v := &Value{Type: t, Index: len(b.F.Args), Name: name}
	b.F.Args = append(b.F.Args, v)
	return v
}

// Emit appends op name applied to args and returns its results.
func (b *Builder) Emit(name string, args []*Value, attrs Attrs) ([]*Value, error) {
	def := Lookup(name)
	if def == nil {
		return nil, fmt.Errorf("unknown op %q", name)
	}
	if def.Infer == nil {
		return nil, fmt.Errorf("op %s has no inferred type; build it with EmitTyped", name)
	}
	types := make([]Type, len(args))
	for i, a := range args {
		types[i] = a.Type
	}
	if err := checkArity(def, len(args), attrs); err != nil {
		return nil, err
	}
	res, err := def.Infer(types, attrs)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return b.EmitTyped(name, args, attrs, res), nil
}

// Emit1 is Emit for single-result ops.
func (b *Builder) Emit1(name string, args []*Value, attrs Attrs) (*Value, error) {
	vs, err := b.Emit(name, args, attrs)
	if err != nil {
		return nil, err
	}
	if len(vs) != 1 {
		b.F.Body = b.F.Body[:len(b.F.Body)-1] // a failed emit leaves no op behind
		return nil, fmt.Errorf("%s: expected one result, got %d", name, len(vs))
	}
	return vs[0], nil
}

// EmitTyped appends an op with the given result types, unchecked; the
// verifier checks it later.
func (b *Builder) EmitTyped(name string, args []*Value, attrs Attrs, results []Type) []*Value {
	op := NewOp(name, args, attrs, results, b.Loc)
	b.F.Body = append(b.F.Body, op)
	return op.Results
}

// Param reads module parameter p.
func (b *Builder) Param(p *Param) *Value {
	return b.EmitTyped(OpParam.Name, nil, Attrs{"name": p.Name}, []Type{p.Type})[0]
}

// Return sets the function's results.
func (b *Builder) Return(vs ...*Value) { b.F.Results = vs }

func checkArity(def *OpDef, n int, attrs Attrs) error {
	switch {
	case def.Args == Variadic && n == 0:
		return fmt.Errorf("%s takes at least one operand", def.Name)
	case def.Args != Variadic && n != def.Args:
		return fmt.Errorf("%s takes %d operands, got %d", def.Name, def.Args, n)
	}
	for _, k := range def.Attrs {
		if _, ok := attrs[k]; !ok {
			return fmt.Errorf("%s requires attribute %s", def.Name, k)
		}
	}
	return nil
}

// ShapeAttr is the attribute value for a shape: an integer list when every
// dim is constant, so that printing and parsing give back equal attributes.
func ShapeAttr(s Shape) any {
	ns := make([]int64, len(s))
	for i, d := range s {
		if d.IsSym() {
			return s
		}
		ns[i] = d.N
	}
	return ns
}
