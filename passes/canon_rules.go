package passes

import (
	"slices"

	"github.com/deepc-dev/deepc/ir"
)

// canonRules is canonicalize's rule table. Rules for the same op are tried
// in this order: folding first, since a folded constant needs no other rule.
var canonRules = append([]rule{
	{"fold-unary", []*ir.OpDef{ir.OpNeg, ir.OpAbs, ir.OpSign, ir.OpSqrt}, foldUnary},
	{"fold-binary", []*ir.OpDef{ir.OpAdd, ir.OpSub, ir.OpMul, ir.OpDiv, ir.OpMaximum, ir.OpMinimum}, foldBinary},
	{"fold-compare", []*ir.OpDef{ir.OpEq, ir.OpNe, ir.OpLt, ir.OpLe, ir.OpGt, ir.OpGe}, foldCompare},
	{"fold-cast", []*ir.OpDef{ir.OpCast}, foldCast},
	{"noop-to-same-type", []*ir.OpDef{ir.OpReshape, ir.OpExpand, ir.OpCast}, noopToSameType},
	{"identity-transpose", []*ir.OpDef{ir.OpTranspose}, identityTranspose},
	{"reshape-of-reshape", []*ir.OpDef{ir.OpReshape}, collapseChain},
	{"expand-of-expand", []*ir.OpDef{ir.OpExpand}, collapseChain},
	{"transpose-of-transpose", []*ir.OpDef{ir.OpTranspose}, transposeOfTranspose},
}, unitRules()...)

// noopToSameType: reshape to the same shape, expand to the same shape and
// cast to the same dtype return their operand unchanged.
func noopToSameType(_ *rewriter, op *ir.Op) *ir.Value {
	if x := op.Args[0]; op.Result().Type.Equal(x.Type) {
		return x
	}
	return nil
}

// identityTranspose: a transpose is a no-op only when its permutation is the
// identity; one that keeps the type (swapping two equal dims) still moves data.
func identityTranspose(_ *rewriter, op *ir.Op) *ir.Value {
	perm, ok := op.Attrs.Ints("perm")
	if ok && isIdentityPerm(perm) {
		return op.Args[0]
	}
	return nil
}

func isIdentityPerm(perm []int64) bool {
	for i, p := range perm {
		if p != int64(i) {
			return false
		}
	}
	return true
}

// collapseChain: reshape(reshape(x)) is one reshape of x, and
// expand(expand(x)) one expand of x (if x broadcasts to the middle shape and
// that to the last, x broadcasts to the last). The inner op stays for its
// other users, if any; dce removes it otherwise.
func collapseChain(rw *rewriter, op *ir.Op) *ir.Value {
	inner := op.Args[0].Def
	if !inner.Is(op.Def()) {
		return nil
	}
	return rw.emit(op.Def(), []*ir.Value{inner.Args[0]}, op.Attrs.Clone(), op.Result().Type)
}

// transposeOfTranspose composes the permutations: out[i] = mid[p2[i]] =
// x[p1[p2[i]]].
func transposeOfTranspose(rw *rewriter, op *ir.Op) *ir.Value {
	inner := op.Args[0].Def
	if !inner.Is(ir.OpTranspose) {
		return nil
	}
	p1, ok1 := inner.Attrs.Ints("perm")
	p2, ok2 := op.Attrs.Ints("perm")
	if !ok1 || !ok2 || len(p1) != len(p2) {
		return nil
	}
	perm := make([]int64, len(p2))
	for i, p := range p2 {
		perm[i] = p1[p]
	}
	x := inner.Args[0]
	if isIdentityPerm(perm) {
		return x
	}
	attrs := op.Attrs.Clone()
	attrs["perm"] = perm
	return rw.emit(ir.OpTranspose, []*ir.Value{x}, attrs, op.Result().Type)
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

func unitRules() []rule {
	var rs []rule
	for _, u := range units {
		rs = append(rs, rule{u.op.Name + "-unit", []*ir.OpDef{u.op}, unitRule(u.unit, u.left)})
	}
	return rs
}

// unitRule returns x for x op u (and u op x when left), where u is a splat
// of the unit, provided the result has x's type: broadcasting against a
// bigger u, or a different dtype, would make x the wrong value to return.
func unitRule(unit float64, left bool) func(*rewriter, *ir.Op) *ir.Value {
	return func(_ *rewriter, op *ir.Op) *ir.Value {
		sides := [][2]int{{0, 1}} // {x, u} operand indices
		if left {
			sides = append(sides, [2]int{1, 0})
		}
		for _, s := range sides {
			x, u := op.Args[s[0]], op.Args[s[1]]
			if isSplatOf(u, unit) && op.Result().Type.Equal(x.Type) {
				return x
			}
		}
		return nil
	}
}

// splatViews are ops that keep a splat a splat; isSplatOf looks through them.
var splatViews = []*ir.OpDef{ir.OpExpand, ir.OpReshape}

// isSplatOf reports whether every element of v is unit: v is a const of that
// value, possibly reshaped or expanded.
func isSplatOf(v *ir.Value, unit float64) bool {
	for v.Def != nil && slices.Contains(splatViews, v.Def.Def()) {
		v = v.Def.Args[0]
	}
	if !v.Def.Is(ir.OpConst) {
		return false
	}
	x, ok := v.Def.Attrs.Float("value") // an int or a float; false for a bool
	return ok && x == unit
}
