package autodiff

import (
	"fmt"
	"math"

	"github.com/deepc-dev/deepc/ir"
)

// rule returns the cotangent of each operand (nil: none, or an integer
// operand) from the cotangents dy of op's results (nil: zero).
type rule func(b *builder, op *ir.Op, dy []*ir.Value) []*ir.Value

// rules is the VJP table; every op has a rule or a reason in noGradient
// (internal/opfaces).
var rules = map[*ir.OpDef]rule{}

// noGradient names the ops with no gradient rule and why.
var noGradient = map[*ir.OpDef]string{
	ir.OpParam:              "a leaf: backward sums the cotangents of its reads into the param's gradient",
	ir.OpConst:              "a constant",
	ir.OpEq:                 "a comparison (bool result)",
	ir.OpNe:                 "a comparison (bool result)",
	ir.OpLt:                 "a comparison (bool result)",
	ir.OpLe:                 "a comparison (bool result)",
	ir.OpGt:                 "a comparison (bool result)",
	ir.OpGe:                 "a comparison (bool result)",
	ir.OpSign:               "piecewise constant",
	ir.OpRoute:              "indices: the routing choice gets no gradient (scores reach the loss through take_along)",
	ir.OpKVWrite:            "inference only (the KV cache)",
	ir.OpAttentionCache:     "inference only (the KV cache)",
	ir.OpMoEDispatch:        "inference only: training differentiates the unlowered experts (grouped_linear)",
	ir.OpMoEGather:          "inference only: training differentiates the unlowered experts (grouped_linear)",
	ir.OpGroupedGEMM:        "inference only: training differentiates the unlowered experts (grouped_linear)",
	ir.OpMoECombine:         "inference only: training differentiates the unlowered experts (grouped_linear)",
	ir.OpScatterAdd:         "a gradient op (no second derivatives)",
	ir.OpGroupedLinearWGrad: "a gradient op (no second derivatives)",
	ir.OpAttentionGrad:      "a gradient op (no second derivatives)",
	ir.OpAdamW:              "the optimizer's update",
}

// Differentiable reports whether op d has a gradient rule and, when it has
// none, why.
func Differentiable(d *ir.OpDef) (rule bool, without string) {
	_, rule = rules[d]
	return rule, noGradient[d]
}

func init() {
	unary := map[*ir.OpDef]func(b *builder, x, y, g *ir.Value) *ir.Value{
		ir.OpExp:  func(b *builder, x, y, g *ir.Value) *ir.Value { return b.bin(ir.OpMul, g, y) },
		ir.OpLog:  func(b *builder, x, y, g *ir.Value) *ir.Value { return b.bin(ir.OpDiv, g, x) },
		ir.OpSqrt: func(b *builder, x, y, g *ir.Value) *ir.Value { return b.bin(ir.OpDiv, b.scale(g, 0.5), y) },
		ir.OpRsqrt: func(b *builder, x, y, g *ir.Value) *ir.Value { // −½·y³
			return b.bin(ir.OpMul, b.scale(g, -0.5), b.bin(ir.OpMul, y, b.bin(ir.OpMul, y, y)))
		},
		ir.OpSigmoid: func(b *builder, x, y, g *ir.Value) *ir.Value { // y(1−y)
			return b.bin(ir.OpMul, g, b.bin(ir.OpMul, y, b.bin(ir.OpSub, b.constant(1, y.Type.DType), y)))
		},
		ir.OpSilu: func(b *builder, x, y, g *ir.Value) *ir.Value { // s·(1 + x·(1−s))
			s := b.un(ir.OpSigmoid, x)
			one := b.constant(1, x.Type.DType)
			return b.bin(ir.OpMul, g, b.bin(ir.OpMul, s, b.bin(ir.OpAdd, one, b.bin(ir.OpMul, x, b.bin(ir.OpSub, one, s)))))
		},
		ir.OpTanh: func(b *builder, x, y, g *ir.Value) *ir.Value {
			return b.bin(ir.OpMul, g, b.bin(ir.OpSub, b.constant(1, y.Type.DType), b.bin(ir.OpMul, y, y)))
		},
		ir.OpErf: func(b *builder, x, y, g *ir.Value) *ir.Value { // (2/√π)·exp(−x²)
			e := b.un(ir.OpExp, b.un(ir.OpNeg, b.bin(ir.OpMul, x, x)))
			return b.bin(ir.OpMul, g, b.scale(e, 2/math.Sqrt(math.Pi)))
		},
		ir.OpNeg: func(b *builder, x, y, g *ir.Value) *ir.Value { return b.un(ir.OpNeg, g) },
		ir.OpAbs: func(b *builder, x, y, g *ir.Value) *ir.Value { return b.bin(ir.OpMul, g, b.un(ir.OpSign, x)) },
	}
	for d, f := range unary {
		rules[d] = func(b *builder, op *ir.Op, dy []*ir.Value) []*ir.Value {
			return []*ir.Value{f(b, op.Args[0], op.Result(), dy[0])}
		}
	}
	// Binary ops broadcast: each operand's gradient is summed back to its
	// shape.
	binary := map[*ir.OpDef]func(b *builder, x, y, z, g *ir.Value) (dx, dy *ir.Value){
		ir.OpAdd: func(b *builder, x, y, z, g *ir.Value) (*ir.Value, *ir.Value) { return g, g },
		ir.OpSub: func(b *builder, x, y, z, g *ir.Value) (*ir.Value, *ir.Value) { return g, b.un(ir.OpNeg, g) },
		ir.OpMul: func(b *builder, x, y, z, g *ir.Value) (*ir.Value, *ir.Value) {
			return b.bin(ir.OpMul, g, y), b.bin(ir.OpMul, g, x)
		},
		ir.OpDiv: func(b *builder, x, y, z, g *ir.Value) (*ir.Value, *ir.Value) {
			gy := b.bin(ir.OpDiv, g, y)
			return gy, b.un(ir.OpNeg, b.bin(ir.OpMul, gy, z))
		},
		ir.OpMaximum: func(b *builder, x, y, z, g *ir.Value) (*ir.Value, *ir.Value) {
			return pick(b, b.bin(ir.OpGe, x, y), g)
		},
		ir.OpMinimum: func(b *builder, x, y, z, g *ir.Value) (*ir.Value, *ir.Value) {
			return pick(b, b.bin(ir.OpLe, x, y), g)
		},
		ir.OpPow: func(b *builder, x, y, z, g *ir.Value) (*ir.Value, *ir.Value) { // z = x^y
			dx := b.bin(ir.OpMul, g, b.bin(ir.OpMul, y, b.bin(ir.OpPow, x, b.bin(ir.OpSub, y, b.constant(1, y.Type.DType)))))
			return dx, b.bin(ir.OpMul, g, b.bin(ir.OpMul, z, b.un(ir.OpLog, x)))
		},
	}
	for d, f := range binary {
		rules[d] = func(b *builder, op *ir.Op, dy []*ir.Value) []*ir.Value {
			x, y := op.Args[0], op.Args[1]
			dx, dyy := f(b, x, y, op.Result(), dy[0])
			return []*ir.Value{b.sumTo(dx, x.Type.Shape), b.sumTo(dyy, y.Type.Shape)}
		}
	}
	rules[ir.OpWhere] = func(b *builder, op *ir.Op, dy []*ir.Value) []*ir.Value {
		c, x, y := op.Args[0], op.Args[1], op.Args[2]
		dx, dyy := pick(b, c, dy[0])
		return []*ir.Value{nil, b.sumTo(dx, x.Type.Shape), b.sumTo(dyy, y.Type.Shape)}
	}
	rules[ir.OpCast] = func(b *builder, op *ir.Op, dy []*ir.Value) []*ir.Value {
		if !op.Args[0].Type.DType.IsFloat() {
			return nil
		}
		return []*ir.Value{b.cast(dy[0], op.Args[0].Type.DType)}
	}
	rules[ir.OpSum] = func(b *builder, op *ir.Op, dy []*ir.Value) []*ir.Value {
		return []*ir.Value{unreduce(b, op, dy[0])}
	}
	rules[ir.OpMean] = func(b *builder, op *ir.Op, dy []*ir.Value) []*ir.Value {
		x := op.Args[0]
		ax, _ := x.Type.Shape.Axis(intAttr(op, "axis"))
		n := x.Type.Shape[ax]
		g := unreduce(b, op, dy[0])
		if n.IsSym() { // the axis's size, known when the program runs
			count := b.sum(b.expand(b.constant(1, g.Type.DType), ir.Shape{n}), 0, false)
			return []*ir.Value{b.bin(ir.OpDiv, g, count)}
		}
		return []*ir.Value{b.scale(g, 1/float64(n.N))}
	}
	rules[ir.OpReduceMax] = func(b *builder, op *ir.Op, dy []*ir.Value) []*ir.Value {
		// The gradient goes to every element equal to the maximum.
		x := op.Args[0]
		m := unreduce(b, op, op.Result())
		g := unreduce(b, op, dy[0])
		dx, _ := pick(b, b.bin(ir.OpEq, x, m), g)
		return []*ir.Value{dx}
	}
	rules[ir.OpSoftmax] = func(b *builder, op *ir.Op, dy []*ir.Value) []*ir.Value {
		y, g := op.Result(), dy[0]
		ax := intAttr(op, "axis")
		s := b.op1(ir.OpSum, []*ir.Value{b.bin(ir.OpMul, g, y)}, ir.Attrs{"axis": ax, "keepdim": true})
		return []*ir.Value{b.bin(ir.OpMul, y, b.bin(ir.OpSub, g, s))}
	}
	rules[ir.OpRMSNorm] = rmsNormGrad
	rules[ir.OpLinear] = func(b *builder, op *ir.Op, dy []*ir.Value) []*ir.Value {
		x, w, g := op.Args[0], op.Args[1], dy[0]
		if master, block, ok := fp8Weight(w); ok {
			// FP8 (docs/model.md §5): dgrad with Wᵀ per 128×128 block and g per
			// 1×128 tile; wgrad with g and x per 128×1 tile (along tokens).
			dx := b.op1(ir.OpLinear, []*ir.Value{g, b.quantize(b.transpose(master, 1, 0), block)}, nil)
			g2, x2 := b.flatten2(g), b.flatten2(b.cast(x, g.Type.DType))
			dw := b.op1(ir.OpLinear, []*ir.Value{b.transpose(g2, 1, 0), b.quantize(b.transpose(x2, 1, 0), []int64{1, 128})}, nil)
			return []*ir.Value{dx, dw}
		}
		// dx = g·W reads W as it is (no transposed copy).
		g2, x2 := b.flatten2(g), b.flatten2(b.cast(x, g.Type.DType))
		dx := b.reshape(b.op1(ir.OpMatmul, []*ir.Value{g2, w}, nil), x.Type.Shape)
		if x.Type.DType != g.Type.DType {
			dx = b.cast(dx, x.Type.DType)
		}
		dw := b.op1(ir.OpMatmul, []*ir.Value{b.transpose(g2, 1, 0), x2}, nil)
		return []*ir.Value{dx, dw}
	}
	rules[ir.OpQuantizeBlocks] = func(b *builder, op *ir.Op, dy []*ir.Value) []*ir.Value {
		return []*ir.Value{dy[0]} // straight through: the master gets the gradient
	}
	rules[ir.OpMatmul] = func(b *builder, op *ir.Op, dy []*ir.Value) []*ir.Value {
		x, y, g := op.Args[0], op.Args[1], dy[0]
		swap := lastTwo(len(x.Type.Shape))
		return []*ir.Value{
			b.op1(ir.OpMatmul, []*ir.Value{g, b.transpose(y, swap...)}, nil),
			b.op1(ir.OpMatmul, []*ir.Value{b.transpose(x, swap...), g}, nil),
		}
	}
	rules[ir.OpGroupedLinear] = func(b *builder, op *ir.Op, dy []*ir.Value) []*ir.Value {
		x, w, idx, g := op.Args[0], op.Args[1], op.Args[2], dy[0]
		wt := b.transpose(w, 0, 2, 1)
		wgrad := ir.Attrs{"experts": w.Type.Shape[0].N}
		if master, block, ok := fp8Weight(w); ok { // FP8 dgrad and wgrad
			wt = b.quantize(b.transpose(master, 0, 2, 1), block)
			wgrad["fp8"] = true
		}
		dx := b.op1(ir.OpGroupedLinear, []*ir.Value{g, wt, idx}, nil)
		if len(x.Type.Shape) == 2 { // one row for all of a token's slots
			dx = b.sum(dx, 1, false)
		}
		dw := b.op1(ir.OpGroupedLinearWGrad, []*ir.Value{b.cast(x, g.Type.DType), g, idx}, wgrad)
		return []*ir.Value{dx, dw, nil}
	}
	rules[ir.OpReshape] = func(b *builder, op *ir.Op, dy []*ir.Value) []*ir.Value {
		return []*ir.Value{b.reshape(dy[0], op.Args[0].Type.Shape)}
	}
	rules[ir.OpExpand] = func(b *builder, op *ir.Op, dy []*ir.Value) []*ir.Value {
		return []*ir.Value{b.sumTo(dy[0], op.Args[0].Type.Shape)}
	}
	rules[ir.OpTranspose] = func(b *builder, op *ir.Op, dy []*ir.Value) []*ir.Value {
		perm, _ := op.Attrs.Ints("perm")
		inv := make([]int64, len(perm))
		for i, p := range perm {
			inv[p] = int64(i)
		}
		return []*ir.Value{b.transpose(dy[0], inv...)}
	}
	rules[ir.OpConcat] = func(b *builder, op *ir.Op, dy []*ir.Value) []*ir.Value {
		ax, _ := op.Result().Type.Shape.Axis(intAttr(op, "axis"))
		var sizes []int64
		for _, a := range op.Args {
			d := a.Type.Shape[ax]
			if d.IsSym() {
				b.err = fmt.Errorf("concat along a symbolic axis")
				return nil
			}
			sizes = append(sizes, d.N)
		}
		if len(sizes) == 1 {
			return []*ir.Value{dy[0]}
		}
		return b.op(ir.OpSplit, []*ir.Value{dy[0]}, ir.Attrs{"axis": int64(ax), "sizes": sizes})[:len(sizes)]
	}
	rules[ir.OpSplit] = func(b *builder, op *ir.Op, dy []*ir.Value) []*ir.Value {
		ax := intAttr(op, "axis")
		parts := make([]*ir.Value, len(op.Results))
		for i, r := range op.Results {
			if parts[i] = dy[i]; parts[i] == nil {
				parts[i] = b.zeros(r.Type.Shape, r.Type.DType)
			}
		}
		return []*ir.Value{b.op1(ir.OpConcat, parts, ir.Attrs{"axis": ax})}
	}
	rules[ir.OpSlice] = func(b *builder, op *ir.Op, dy []*ir.Value) []*ir.Value {
		x := op.Args[0]
		ax, _ := x.Type.Shape.Axis(intAttr(op, "axis"))
		start, end := intAttr(op, "start"), intAttr(op, "end")
		n := x.Type.Shape[ax]
		var parts []*ir.Value
		pad := func(size int64) {
			s := append(ir.Shape(nil), x.Type.Shape...)
			s[ax] = ir.C(size)
			parts = append(parts, b.zeros(s, x.Type.DType))
		}
		if start > 0 {
			pad(start)
		}
		parts = append(parts, dy[0])
		if n.IsSym() && end != n.N {
			b.err = fmt.Errorf("slice of a symbolic axis")
			return nil
		}
		if end < n.N {
			pad(n.N - end)
		}
		if len(parts) == 1 {
			return []*ir.Value{dy[0]}
		}
		return []*ir.Value{b.op1(ir.OpConcat, parts, ir.Attrs{"axis": int64(ax)})}
	}
	rules[ir.OpGather] = func(b *builder, op *ir.Op, dy []*ir.Value) []*ir.Value {
		table, idx, g := op.Args[0], op.Args[1], dy[0]
		ax, _ := table.Type.Shape.Axis(intAttr(op, "axis"))
		ts := table.Type.Shape
		if ax != 0 || len(ts) != 2 || len(idx.Type.Shape) != 1 {
			b.err = fmt.Errorf("gather's gradient is implemented for rows of a matrix by a vector of indices, got %s by %s", ts, idx.Type.Shape)
			return nil
		}
		// Rows of the table: scatter the rows of g to their indices.
		T := idx.Type.Shape[0]
		rows := b.expand(b.reshape(idx, ir.Shape{T, ir.C(1)}), ir.Shape{T, ts[1]})
		return []*ir.Value{b.op1(ir.OpScatterAdd, []*ir.Value{b.zeros(ts, g.Type.DType), rows, g}, ir.Attrs{"axis": int64(0)}), nil}
	}
	rules[ir.OpTakeAlong] = func(b *builder, op *ir.Op, dy []*ir.Value) []*ir.Value {
		x, idx := op.Args[0], op.Args[1]
		return []*ir.Value{b.op1(ir.OpScatterAdd, []*ir.Value{b.zeros(x.Type.Shape, dy[0].Type.DType), idx, dy[0]}, ir.Attrs{"axis": intAttr(op, "axis")}), nil}
	}
	rules[ir.OpShift] = func(b *builder, op *ir.Op, dy []*ir.Value) []*ir.Value {
		return []*ir.Value{b.op1(ir.OpShift, []*ir.Value{dy[0], op.Args[1]}, ir.Attrs{"offset": -intAttr(op, "offset")}), nil}
	}
	rules[ir.OpTopK] = func(b *builder, op *ir.Op, dy []*ir.Value) []*ir.Value {
		if dy[0] == nil {
			return nil
		}
		x := op.Args[0]
		return []*ir.Value{b.op1(ir.OpScatterAdd, []*ir.Value{b.zeros(x.Type.Shape, dy[0].Type.DType), op.Results[1], dy[0]}, ir.Attrs{"axis": int64(-1)})}
	}
	rules[ir.OpRope] = func(b *builder, op *ir.Op, dy []*ir.Value) []*ir.Value {
		attrs := op.Attrs.Clone()
		inv, _ := attrs.Bool("inverse")
		attrs["inverse"] = !inv
		return []*ir.Value{b.op1(ir.OpRope, []*ir.Value{dy[0], op.Args[1]}, attrs), nil}
	}
	rules[ir.OpAttention] = func(b *builder, op *ir.Op, dy []*ir.Value) []*ir.Value {
		args := append(append([]*ir.Value(nil), op.Args...), dy[0])
		d := b.op(ir.OpAttentionGrad, args, op.Attrs.Clone())
		return []*ir.Value{d[0], d[1], d[2], nil, nil}
	}
}

// fp8Weight reports a weight quantized for an FP8 GEMM, with the value it
// quantizes and the block.
func fp8Weight(w *ir.Value) (*ir.Value, []int64, bool) {
	if !w.Def.Is(ir.OpQuantizeBlocks) {
		return nil, nil, false
	}
	block, _ := w.Def.Attrs.Ints("block")
	return w.Def.Args[0], block, true
}

// pick splits g by a condition: (where(c, g, 0), where(c, 0, g)).
func pick(b *builder, c, g *ir.Value) (*ir.Value, *ir.Value) {
	z := b.constant(0, g.Type.DType)
	return b.op1(ir.OpWhere, []*ir.Value{c, g, z}, nil), b.op1(ir.OpWhere, []*ir.Value{c, z, g}, nil)
}

// unreduce expands a reduction's result-shaped value back to its operand.
func unreduce(b *builder, op *ir.Op, v *ir.Value) *ir.Value {
	x := op.Args[0]
	ax, _ := x.Type.Shape.Axis(intAttr(op, "axis"))
	keep := append(ir.Shape(nil), x.Type.Shape...)
	keep[ax] = ir.C(1)
	return b.expand(b.reshape(v, keep), x.Type.Shape)
}

func intAttr(op *ir.Op, k string) int64 {
	v, _ := op.Attrs.Int(k)
	return v
}

func lastTwo(r int) []int64 {
	p := make([]int64, r)
	for i := range p {
		p[i] = int64(i)
	}
	p[r-1], p[r-2] = p[r-2], p[r-1]
	return p
}

// rmsNormGrad: with r = 1/sqrt(mean(x²) + eps) and x̂ = x·r (in f32),
// dw = Σ_rows g·x̂ and dx = r·(g·w − x̂·mean(g·w·x̂)).
func rmsNormGrad(b *builder, op *ir.Op, dy []*ir.Value) []*ir.Value {
	x, w := op.Args[0], op.Args[1]
	eps, _ := op.Attrs.Float("eps")
	xf, gf, wf := b.cast(x, ir.F32), b.cast(dy[0], ir.F32), b.cast(w, ir.F32)
	ms := b.op1(ir.OpMean, []*ir.Value{b.bin(ir.OpMul, xf, xf)}, ir.Attrs{"axis": int64(-1), "keepdim": true})
	r := b.un(ir.OpRsqrt, b.bin(ir.OpAdd, ms, b.constant(eps, ir.F32)))
	xhat := b.bin(ir.OpMul, xf, r)
	dw := b.sumTo(b.bin(ir.OpMul, gf, xhat), w.Type.Shape)
	gw := b.bin(ir.OpMul, gf, wf)
	m := b.op1(ir.OpMean, []*ir.Value{b.bin(ir.OpMul, gw, xhat)}, ir.Attrs{"axis": int64(-1), "keepdim": true})
	dx := b.bin(ir.OpMul, r, b.bin(ir.OpSub, gw, b.bin(ir.OpMul, xhat, m)))
	return []*ir.Value{b.cast(dx, x.Type.DType), b.cast(dw, w.Type.DType)}
}
