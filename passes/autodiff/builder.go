package autodiff

import (
	"fmt"

	"github.com/deepc-dev/deepc/ir"
)

// builder appends ops to the gradient function, types from the op table;
// the first error sticks and later calls return placeholders.
type builder struct {
	f   *ir.Func
	loc ir.Loc
	err error
}

func newBuilder(f *ir.Func) *builder { return &builder{f: f} }

var bad = &ir.Value{Type: ir.T(ir.F32)}

func (b *builder) op(d *ir.OpDef, args []*ir.Value, attrs ir.Attrs) []*ir.Value {
	if b.err != nil {
		return []*ir.Value{bad, bad, bad}
	}
	ts := make([]ir.Type, len(args))
	for i, a := range args {
		if a == nil || a == bad {
			b.err = fmt.Errorf("%s: operand %d missing", d.Name, i)
			return []*ir.Value{bad, bad, bad}
		}
		ts[i] = a.Type
	}
	res, err := d.Infer(ts, attrs)
	if err != nil {
		b.err = fmt.Errorf("%s: %w", d.Name, err)
		return []*ir.Value{bad, bad, bad}
	}
	op := ir.NewOp(d.Name, args, attrs, res, b.loc)
	b.f.Body = append(b.f.Body, op)
	return op.Results
}

func (b *builder) op1(d *ir.OpDef, args []*ir.Value, attrs ir.Attrs) *ir.Value {
	return b.op(d, args, attrs)[0]
}

func (b *builder) constant(v float64, dt ir.DType) *ir.Value {
	return b.op1(ir.OpConst, nil, ir.Attrs{"value": v, "dtype": dt})
}

func (b *builder) zeros(s ir.Shape, dt ir.DType) *ir.Value {
	z := b.constant(0, dt)
	if len(s) == 0 {
		return z
	}
	return b.op1(ir.OpExpand, []*ir.Value{z}, ir.Attrs{"shape": ir.ShapeAttr(s)})
}

func (b *builder) cast(x *ir.Value, dt ir.DType) *ir.Value {
	if x.Type.DType == dt {
		return x
	}
	return b.op1(ir.OpCast, []*ir.Value{x}, ir.Attrs{"dtype": dt})
}

func (b *builder) bin(d *ir.OpDef, x, y *ir.Value) *ir.Value {
	return b.op1(d, []*ir.Value{x, y}, nil)
}

func (b *builder) un(d *ir.OpDef, x *ir.Value) *ir.Value { return b.op1(d, []*ir.Value{x}, nil) }

func (b *builder) scale(x *ir.Value, c float64) *ir.Value {
	return b.bin(ir.OpMul, x, b.constant(c, x.Type.DType))
}

func (b *builder) reshape(x *ir.Value, s ir.Shape) *ir.Value {
	if x.Type.Shape.Equal(s) {
		return x
	}
	return b.op1(ir.OpReshape, []*ir.Value{x}, ir.Attrs{"shape": ir.ShapeAttr(s)})
}

func (b *builder) expand(x *ir.Value, s ir.Shape) *ir.Value {
	if x.Type.Shape.Equal(s) {
		return x
	}
	return b.op1(ir.OpExpand, []*ir.Value{x}, ir.Attrs{"shape": ir.ShapeAttr(s)})
}

func (b *builder) transpose(x *ir.Value, perm ...int64) *ir.Value {
	return b.op1(ir.OpTranspose, []*ir.Value{x}, ir.Attrs{"perm": perm})
}

func (b *builder) sum(x *ir.Value, axis int, keep bool) *ir.Value {
	return b.op1(ir.OpSum, []*ir.Value{x}, ir.Attrs{"axis": int64(axis), "keepdim": keep})
}

// sumTo reduces a broadcast result's gradient g to shape s (numpy rules).
func (b *builder) sumTo(g *ir.Value, s ir.Shape) *ir.Value {
	for len(g.Type.Shape) > len(s) {
		g = b.sum(g, 0, false)
	}
	for i, d := range s {
		if b.err == nil && d == ir.C(1) && g.Type.Shape[i] != ir.C(1) {
			g = b.sum(g, i, true)
		}
	}
	return g
}

// flatten2 reshapes x [..., n] to [M, n], M the product of the leading
// dims (at most one symbolic).
func (b *builder) flatten2(x *ir.Value) *ir.Value {
	s := x.Type.Shape
	if len(s) == 2 {
		return x
	}
	lead := ir.C(1)
	for _, d := range s[:len(s)-1] {
		switch {
		case !d.IsSym():
			lead = ir.Affine(d.N, lead, 0)
		case !lead.IsSym():
			lead = ir.Affine(lead.N, d, 0)
		default:
			b.err = fmt.Errorf("cannot flatten %s: two symbolic dims", s)
			return bad
		}
	}
	return b.reshape(x, ir.Shape{lead, s[len(s)-1]})
}

// param reads module param p.
func (b *builder) param(p *ir.Param) *ir.Value {
	if b.err != nil {
		return bad
	}
	op := ir.NewOp(ir.OpParam.Name, nil, ir.Attrs{"name": p.Name}, []ir.Type{p.Type}, b.loc)
	b.f.Body = append(b.f.Body, op)
	return op.Result()
}

// quantize makes x block-quantized fp8 for an FP8 GEMM.
func (b *builder) quantize(x *ir.Value, block []int64) *ir.Value {
	return b.op1(ir.OpQuantizeBlocks, []*ir.Value{x}, ir.Attrs{"block": block})
}

// copyOp appends a copy of op (types, attributes and location kept) with
// its operands mapped by arg, and records its results in copies.
func (b *builder) copyOp(op *ir.Op, arg func(*ir.Value) *ir.Value, copies map[*ir.Value]*ir.Value) {
	args := make([]*ir.Value, len(op.Args))
	for i, a := range op.Args {
		args[i] = arg(a)
	}
	types := make([]ir.Type, len(op.Results))
	for i, r := range op.Results {
		types[i] = r.Type
	}
	c := ir.NewOp(op.Name, args, op.Attrs.Clone(), types, op.Loc)
	b.f.Body = append(b.f.Body, c)
	for i, r := range op.Results {
		copies[r] = c.Results[i]
	}
}
