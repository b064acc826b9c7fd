package ir

import "fmt"

// Builder builds ops into a function: at its end (NewFunc, or a Builder
// literal), or at an insertion point of an Editor (Editor.Before, After).
// Loc is stamped on every op it builds.
//
// It has two styles. Emit and Emit1 take op names and return each error.
// Op and OpN take op handles and keep the first error: code that builds a
// dozen ops checks Err once at the end, and after an error they build
// nothing and return nil values.
type Builder struct {
	F   *Func
	Loc Loc

	insert func(*Op) // nil: append to F.Body
	err    error
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

// Emit builds op name applied to args and returns its results.
func (b *Builder) Emit(name string, args []*Value, attrs Attrs) ([]*Value, error) {
	res, err := inferByName(name, args, attrs)
	if err != nil {
		return nil, err
	}
	return b.EmitTyped(name, args, attrs, res), nil
}

func inferByName(name string, args []*Value, attrs Attrs) ([]Type, error) {
	def := Lookup(name)
	if def == nil {
		return nil, fmt.Errorf("unknown op %q", name)
	}
	return InferTypes(def, args, attrs)
}

// InferTypes checks args and attrs against d's entry in the op table and
// returns the result types its type rule gives.
func InferTypes(d *OpDef, args []*Value, attrs Attrs) ([]Type, error) {
	if d.Infer == nil {
		return nil, fmt.Errorf("op %s has no inferred type; build it with EmitTyped", d.Name)
	}
	if err := checkArity(d, len(args), attrs); err != nil {
		return nil, err
	}
	types := make([]Type, len(args))
	for i, a := range args {
		types[i] = a.Type
	}
	res, err := d.Infer(types, attrs)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d.Name, err)
	}
	return res, nil
}

// Emit1 is Emit for single-result ops.
func (b *Builder) Emit1(name string, args []*Value, attrs Attrs) (*Value, error) {
	res, err := inferByName(name, args, attrs)
	if err != nil {
		return nil, err
	}
	if len(res) != 1 {
		return nil, fmt.Errorf("%s: expected one result, got %d", name, len(res))
	}
	return b.EmitTyped(name, args, attrs, res)[0], nil
}

// EmitTyped builds an op with the given result types, unchecked; the
// verifier checks it later.
func (b *Builder) EmitTyped(name string, args []*Value, attrs Attrs, results []Type) []*Value {
	op := NewOp(name, args, attrs, results, b.Loc)
	b.place(op)
	return op.Results
}

// place puts op at the builder's insertion point.
func (b *Builder) place(op *Op) {
	if b.insert != nil {
		b.insert(op)
	} else {
		b.F.Body = append(b.F.Body, op)
	}
}

// failed records err (the first one) and returns the nil values a
// failed Op or OpN gives.
func (b *Builder) failed(err error) []*Value {
	if b.err == nil {
		b.err = err
	}
	return make([]*Value, 8)
}

// OpN builds op d (result types from its type rule) and returns its
// results; after an error, nil values (see Builder).
func (b *Builder) OpN(d *OpDef, args []*Value, attrs Attrs) []*Value {
	if b.err != nil {
		return b.failed(b.err)
	}
	res, err := InferTypes(d, args, attrs)
	if err != nil {
		return b.failed(err)
	}
	return b.EmitTyped(d.Name, args, attrs, res)
}

// Inline builds composite d's decomposition over args (see
// DeclareComposite) and returns its results; after an error, nil values.
// The operands need not fit d's signature, only its ops' type rules: a
// pass that moves an op to other shapes (moe-lower's rows) inlines it.
func (b *Builder) Inline(d *OpDef, args []*Value) []*Value {
	if b.err != nil {
		return b.failed(b.err)
	}
	ops, res, err := instantiate(d, args, nil, b.Loc, false)
	if err != nil {
		return b.failed(err)
	}
	for _, op := range ops {
		b.place(op)
	}
	return res
}

// Op is OpN for single-result ops.
func (b *Builder) Op(d *OpDef, args []*Value, attrs Attrs) *Value { return b.OpN(d, args, attrs)[0] }

// Err is the first error Op or OpN met.
func (b *Builder) Err() error { return b.err }

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
