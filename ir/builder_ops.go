package ir

// Shorthands for the ops rewrites build most, in Op's sticky-error style.

// Reshape builds reshape(x) to dims.
func (b *Builder) Reshape(x *Value, dims ...Dim) *Value {
	return b.Op(OpReshape, []*Value{x}, Attrs{"shape": ShapeAttr(dims)})
}

// Transpose builds transpose(x) by perm.
func (b *Builder) Transpose(x *Value, perm ...int64) *Value {
	return b.Op(OpTranspose, []*Value{x}, Attrs{"perm": perm})
}

// Split builds split(x) along axis into parts of the given sizes.
func (b *Builder) Split(x *Value, axis int64, sizes ...int64) []*Value {
	return b.OpN(OpSplit, []*Value{x}, Attrs{"axis": axis, "sizes": sizes})
}

// Concat builds concat(xs...) along axis.
func (b *Builder) Concat(axis int64, xs ...*Value) *Value {
	return b.Op(OpConcat, xs, Attrs{"axis": axis})
}

// Cast builds cast(x) to dt.
func (b *Builder) Cast(x *Value, dt DType) *Value {
	return b.Op(OpCast, []*Value{x}, Attrs{"dtype": dt})
}

// Splat builds a tensor of shape s holding x: a scalar const, expanded
// when s is not scalar.
func (b *Builder) Splat(x float64, dt DType, s Shape) *Value {
	c := b.Op(OpConst, nil, Attrs{"value": x, "dtype": dt})
	if len(s) == 0 {
		return c
	}
	return b.Op(OpExpand, []*Value{c}, Attrs{"shape": ShapeAttr(s)})
}
