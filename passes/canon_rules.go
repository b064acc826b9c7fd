package passes

import "github.com/deepc-dev/deepc/ir"

// canonRules is canonicalize's rule table. Rules for the same op are tried
// in this order: folding first, since a folded constant needs no other rule.
var canonRules = ir.NewRules(append([]ir.Rule{
	{Name: "fold-unary", Pat: ir.OneOf([]*ir.OpDef{ir.OpNeg, ir.OpAbs, ir.OpSign, ir.OpSqrt}, constant("x")), Rewrite: foldUnary},
	{Name: "fold-binary", Pat: ir.OneOf([]*ir.OpDef{ir.OpAdd, ir.OpSub, ir.OpMul, ir.OpDiv, ir.OpMaximum, ir.OpMinimum}, constant("x"), constant("y")), Rewrite: foldBinary},
	{Name: "fold-compare", Pat: ir.OneOf([]*ir.OpDef{ir.OpEq, ir.OpNe, ir.OpLt, ir.OpLe, ir.OpGt, ir.OpGe}, constant("x"), constant("y")), Rewrite: foldCompare},
	{Name: "fold-cast", Pat: ir.P(ir.OpCast, constant("x")), Rewrite: foldCast},
	// reshape to the same shape, expand to the same shape and cast to the
	// same dtype return their operand unchanged.
	{Name: "noop-to-same-type", Pat: ir.OneOf([]*ir.OpDef{ir.OpReshape, ir.OpExpand, ir.OpCast}, ir.Any("x")).If(typeOfArg(0)), Rewrite: capture("x")},
	// A transpose is a no-op only when its permutation is the identity; one
	// that keeps the type (swapping two equal dims) still moves data.
	{Name: "identity-transpose", Pat: ir.P(ir.OpTranspose, ir.Any("x")).If(identityTranspose), Rewrite: capture("x")},
	// reshape(reshape(x)) is one reshape of x, and expand(expand(x)) one
	// expand of x (if x broadcasts to the middle shape and that to the last,
	// x broadcasts to the last). The inner op stays for its other users, if
	// any; dce removes it otherwise.
	{Name: "reshape-of-reshape", Pat: ir.P(ir.OpReshape, ir.P(ir.OpReshape, ir.Any("x"))), Rewrite: rootOf("x")},
	{Name: "expand-of-expand", Pat: ir.P(ir.OpExpand, ir.P(ir.OpExpand, ir.Any("x"))), Rewrite: rootOf("x")},
	{Name: "transpose-of-transpose", Pat: ir.P(ir.OpTranspose, ir.P(ir.OpTranspose, ir.Any("x")).As("inner")), Rewrite: transposeOfTranspose},
}, unitRules()...)...)

// constant matches a scalar const that folding can read, captured as name.
func constant(name string) *ir.Pat {
	return ir.Any(name).If(func(v *ir.Value) bool { _, ok := constOf(v); return ok })
}

// capture is the rewrite that returns the value captured as name.
func capture(name string) func(*ir.Rewriter, *ir.Match) *ir.Value {
	return func(_ *ir.Rewriter, m *ir.Match) *ir.Value { return m.V(name) }
}

// typeOfArg holds where an op's result has operand i's type.
func typeOfArg(i int) func(*ir.Value) bool {
	return func(v *ir.Value) bool { return v.Type.Equal(v.Def.Args[i].Type) }
}

// rootOf rebuilds the root op over the captured value name instead of its
// operand.
func rootOf(name string) func(*ir.Rewriter, *ir.Match) *ir.Value {
	return func(rw *ir.Rewriter, m *ir.Match) *ir.Value {
		op := m.Root
		return rw.EmitTyped(op.Name, []*ir.Value{m.V(name)}, op.Attrs.Clone(), op.ResultTypes())[0]
	}
}

func identityTranspose(v *ir.Value) bool {
	perm, ok := v.Def.Attrs.Ints("perm")
	return ok && isIdentityPerm(perm)
}

func isIdentityPerm(perm []int64) bool {
	for i, p := range perm {
		if p != int64(i) {
			return false
		}
	}
	return true
}

// transposeOfTranspose composes the permutations: out[i] = mid[p2[i]] =
// x[p1[p2[i]]].
func transposeOfTranspose(rw *ir.Rewriter, m *ir.Match) *ir.Value {
	p1, ok1 := m.Op("inner").Attrs.Ints("perm")
	p2, ok2 := m.Root.Attrs.Ints("perm")
	if !ok1 || !ok2 || len(p1) != len(p2) {
		return nil
	}
	perm := make([]int64, len(p2))
	for i, p := range p2 {
		perm[i] = p1[p]
	}
	if isIdentityPerm(perm) {
		return m.V("x")
	}
	attrs := m.Root.Attrs.Clone()
	attrs["perm"] = perm
	return rw.EmitTyped(ir.OpTranspose.Name, []*ir.Value{m.V("x")}, attrs, m.Root.ResultTypes())[0]
}

// units lists algebraic identities x op u = x as data: the op, its unit,
// and whether u may also stand on the left (u op x = x).
//
// x + 0 = x is not exact for x = -0 (-0 + +0 = +0); like XLA's simplifier we
// accept that, since no model's output depends on the sign of a zero sum.
var units = []struct {
	op   *ir.OpDef
	unit float64
	left bool
}{
	{ir.OpMul, 1, true},
	{ir.OpAdd, 0, true},
	{ir.OpSub, 0, false},
	{ir.OpDiv, 1, false},
}

// unitRules: x op u returns x (and u op x when left), where u is a splat
// of the unit, provided the result has x's type: broadcasting against a
// bigger u, or a different dtype, would make x the wrong value to return.
func unitRules() []ir.Rule {
	var rs []ir.Rule
	for _, u := range units {
		name := u.op.Name + "-unit"
		rs = append(rs, ir.Rule{Name: name, Pat: ir.P(u.op, ir.Any("x"), ir.Splat(u.unit)).If(typeOfArg(0)), Rewrite: capture("x")})
		if u.left {
			rs = append(rs, ir.Rule{Name: name, Pat: ir.P(u.op, ir.Splat(u.unit), ir.Any("x")).If(typeOfArg(1)), Rewrite: capture("x")})
		}
	}
	return rs
}
