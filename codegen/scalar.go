package codegen

import (
	"fmt"

	"github.com/deepc-dev/deepc/ir"
	"github.com/llir/llvm/ir/enum"
	"github.com/llir/llvm/ir/types"
	"github.com/llir/llvm/ir/value"
)

// Scalar code: every element-level op of a fused region computes on f32
// (floats), i32/i64 (integers) or i1 (bool) registers, and each op's result
// is rounded to its IR dtype before use, as the CPU runtime rounds every
// op's result; one table of rules builds them all.

// elemType is the LLVM element type a dtype is stored as in memory.
func elemType(d ir.DType) types.Type {
	switch d {
	case ir.F32:
		return f32
	case ir.BF16, ir.F16:
		return i16
	case ir.F8E4M3, ir.F8E5M2, ir.Bool:
		return i8
	case ir.I32:
		return i32
	case ir.I64:
		return i64
	}
	panic("codegen: no element type for " + d.String())
}

// regType is the register type a dtype computes in.
func regType(d ir.DType) types.Type {
	switch {
	case d.IsFloat():
		return f32
	case d == ir.Bool:
		return i1
	case d == ir.I32:
		return i32
	}
	return i64
}

// loadElem reads element i of p (dtype d) into a register.
func (k *builder) loadElem(p value.Value, i value.Value, d ir.DType) value.Value {
	return k.fromMem(k.load(k.at(p, i)), d)
}

// fromMem widens a stored element to its register type.
func (k *builder) fromMem(v value.Value, d ir.DType) value.Value {
	switch d {
	case ir.BF16:
		w := k.b.NewShl(k.b.NewZExt(v, i32), ci32(16))
		return k.b.NewBitCast(w, f32)
	case ir.F16:
		return k.asm(f32, "cvt.f32.f16 $0, $1;", "=f,h", v)
	case ir.F8E4M3, ir.F8E5M2:
		kind := map[ir.DType]string{ir.F8E4M3: "e4m3x2", ir.F8E5M2: "e5m2x2"}[d]
		h := k.asm(i32, "{.reg .b16 lo;\n cvt.rn.f16x2."+kind+" $0, $1;}", "=r,h", k.b.NewZExt(v, i16))
		return k.asm(f32, "{.reg .b16 lo, hi;\n mov.b32 {lo, hi}, $1;\n cvt.f32.f16 $0, lo;}", "=f,r", h)
	case ir.Bool:
		return k.b.NewICmp(enum.IPredNE, v, cint(i8, 0))
	}
	return v
}

// toMem narrows a register value to its stored form (round to nearest even;
// saturating to e4m3).
func (k *builder) toMem(v value.Value, d ir.DType) value.Value {
	switch d {
	case ir.BF16:
		return k.asm(i16, "cvt.rn.bf16.f32 $0, $1;", "=h,f", v)
	case ir.F16:
		return k.asm(i16, "cvt.rn.f16.f32 $0, $1;", "=h,f", v)
	case ir.F8E4M3, ir.F8E5M2:
		kind := map[ir.DType]string{ir.F8E4M3: "e4m3x2", ir.F8E5M2: "e5m2x2"}[d]
		h := k.asm(i16, "cvt.rn.satfinite."+kind+".f32 $0, 0f00000000, $1;", "=h,f", v)
		return k.b.NewTrunc(h, i8)
	case ir.Bool:
		return k.b.NewZExt(v, i8)
	}
	return v
}

// round rounds an f32 register to dtype d's precision (identity for f32).
func (k *builder) round(v value.Value, d ir.DType) value.Value {
	if d == ir.F32 || !d.IsFloat() {
		return v
	}
	return k.fromMem(k.toMem(v, d), d)
}

// convert changes a register value from dtype from to dtype to.
func (k *builder) convert(v value.Value, from, to ir.DType) value.Value {
	rf, rt := regType(from), regType(to)
	switch {
	case rf.Equal(f32) && rt.Equal(f32):
		return k.round(v, to)
	case rf.Equal(f32) && rt.Equal(i1):
		return k.b.NewFCmp(enum.FPredUNE, v, cf32(0))
	case rf.Equal(f32):
		return k.b.NewFPToSI(v, rt)
	case rf.Equal(i1) && rt.Equal(f32):
		return k.b.NewUIToFP(v, f32)
	case rf.Equal(i1):
		return k.b.NewZExt(v, rt)
	case rt.Equal(f32):
		return k.round(k.b.NewSIToFP(v, f32), to)
	case rt.Equal(i1):
		return k.b.NewICmp(enum.IPredNE, v, cint(rf, 0))
	case rf.Equal(rt):
		return v
	case rf.(*types.IntType).BitSize < rt.(*types.IntType).BitSize:
		return k.b.NewSExt(v, rt)
	}
	return k.b.NewTrunc(v, rt)
}

// scalarRule computes one op on register values; dt is the operands' dtype.
type scalarRule func(k *builder, a []value.Value, op *ir.Op, dt ir.DType) (value.Value, error)

func unaryF(name string) scalarRule {
	return func(k *builder, a []value.Value, _ *ir.Op, _ ir.DType) (value.Value, error) {
		return k.call(name, f32, a[0]), nil
	}
}

func arith(fop, iop func(k *builder, x, y value.Value) value.Value) scalarRule {
	return func(k *builder, a []value.Value, _ *ir.Op, dt ir.DType) (value.Value, error) {
		if dt.IsFloat() {
			return fop(k, a[0], a[1]), nil
		}
		return iop(k, a[0], a[1]), nil
	}
}

func compare(fp enum.FPred, ip enum.IPred) scalarRule {
	return func(k *builder, a []value.Value, _ *ir.Op, dt ir.DType) (value.Value, error) {
		if dt.IsFloat() {
			return k.b.NewFCmp(fp, a[0], a[1]), nil
		}
		return k.b.NewICmp(ip, a[0], a[1]), nil
	}
}

// expF is e^x through ex2.approx.ftz with the input scaled by log2(e).
func (k *builder) expF(x value.Value) value.Value {
	return k.call("llvm.nvvm.ex2.approx.ftz.f", f32, k.b.NewFMul(x, cf32(1.4426950408889634)))
}

// erfF is erf by Abramowitz and Stegun's 7.1.26 (absolute error below
// 1.5e-7, under f32's resolution near 1): with t = 1/(1 + p·|x|),
// erf(|x|) = 1 − t·(a1 + t·(a2 + t·(a3 + t·(a4 + t·a5))))·exp(−x²), and
// erf is odd. PTX has no erf instruction.
func (k *builder) erfF(x value.Value) value.Value {
	ax := k.call("llvm.fabs.f32", f32, x)
	t := k.b.NewFDiv(cf32(1), k.b.NewFAdd(cf32(1), k.b.NewFMul(cf32(0.3275911), ax)))
	var poly value.Value = cf32(1.061405429)
	for _, c := range []float64{-1.453152027, 1.421413741, -0.284496736, 0.254829592} {
		poly = k.b.NewFAdd(cf32(c), k.b.NewFMul(t, poly))
	}
	e := k.expF(k.b.NewFNeg(k.b.NewFMul(ax, ax)))
	r := k.b.NewFSub(cf32(1), k.b.NewFMul(k.b.NewFMul(t, poly), e))
	return k.sel(k.b.NewFCmp(enum.FPredOLT, x, cf32(0)), k.b.NewFNeg(r), r)
}

func (k *builder) sigmoidF(x value.Value) value.Value {
	e := k.expF(k.b.NewFNeg(x))
	return k.b.NewFDiv(cf32(1), k.b.NewFAdd(cf32(1), e))
}

var scalarRules = map[*ir.OpDef]scalarRule{
	ir.OpExp: func(k *builder, a []value.Value, _ *ir.Op, _ ir.DType) (value.Value, error) { return k.expF(a[0]), nil },
	ir.OpLog: func(k *builder, a []value.Value, _ *ir.Op, _ ir.DType) (value.Value, error) {
		l2 := k.call("llvm.nvvm.lg2.approx.f", f32, a[0])
		return k.b.NewFMul(l2, cf32(0.6931471805599453)), nil
	},
	ir.OpSqrt:  unaryF("llvm.nvvm.sqrt.rn.f"),
	ir.OpRsqrt: unaryF("llvm.nvvm.rsqrt.approx.f"),
	ir.OpTanh:  unaryF("llvm.nvvm.tanh.approx.f"),
	ir.OpErf: func(k *builder, a []value.Value, _ *ir.Op, _ ir.DType) (value.Value, error) {
		return k.erfF(a[0]), nil
	},
	ir.OpSigmoid: func(k *builder, a []value.Value, _ *ir.Op, _ ir.DType) (value.Value, error) {
		return k.sigmoidF(a[0]), nil
	},
	ir.OpSilu: func(k *builder, a []value.Value, _ *ir.Op, _ ir.DType) (value.Value, error) {
		return k.b.NewFMul(a[0], k.sigmoidF(a[0])), nil
	},
	ir.OpNeg: func(k *builder, a []value.Value, _ *ir.Op, dt ir.DType) (value.Value, error) {
		if dt.IsFloat() {
			return k.b.NewFNeg(a[0]), nil
		}
		return k.b.NewSub(cint(a[0].Type(), 0), a[0]), nil
	},
	ir.OpAbs: func(k *builder, a []value.Value, _ *ir.Op, dt ir.DType) (value.Value, error) {
		if dt.IsFloat() {
			return k.call("llvm.fabs.f32", f32, a[0]), nil
		}
		neg := k.b.NewSub(cint(a[0].Type(), 0), a[0])
		return k.sel(k.lt(a[0], cint(a[0].Type(), 0)), neg, a[0]), nil
	},
	ir.OpSign: func(k *builder, a []value.Value, _ *ir.Op, dt ir.DType) (value.Value, error) {
		if !dt.IsFloat() {
			return nil, fmt.Errorf("sign of %s", dt)
		}
		pos := k.b.NewUIToFP(k.b.NewFCmp(enum.FPredOGT, a[0], cf32(0)), f32)
		neg := k.b.NewUIToFP(k.b.NewFCmp(enum.FPredOLT, a[0], cf32(0)), f32)
		return k.b.NewFSub(pos, neg), nil
	},
	ir.OpAdd: arith(func(k *builder, x, y value.Value) value.Value { return k.b.NewFAdd(x, y) }, func(k *builder, x, y value.Value) value.Value { return k.b.NewAdd(x, y) }),
	ir.OpSub: arith(func(k *builder, x, y value.Value) value.Value { return k.b.NewFSub(x, y) }, func(k *builder, x, y value.Value) value.Value { return k.b.NewSub(x, y) }),
	ir.OpMul: arith(func(k *builder, x, y value.Value) value.Value { return k.b.NewFMul(x, y) }, func(k *builder, x, y value.Value) value.Value { return k.b.NewMul(x, y) }),
	ir.OpDiv: arith(func(k *builder, x, y value.Value) value.Value { return k.b.NewFDiv(x, y) }, func(k *builder, x, y value.Value) value.Value { return k.b.NewSDiv(x, y) }),
	ir.OpMaximum: arith(func(k *builder, x, y value.Value) value.Value { return k.call("llvm.maxnum.f32", f32, x, y) },
		func(k *builder, x, y value.Value) value.Value { return k.sel(k.lt(x, y), y, x) }),
	ir.OpMinimum: arith(func(k *builder, x, y value.Value) value.Value { return k.call("llvm.minnum.f32", f32, x, y) },
		func(k *builder, x, y value.Value) value.Value { return k.sel(k.lt(x, y), x, y) }),
	ir.OpPow: func(k *builder, a []value.Value, _ *ir.Op, dt ir.DType) (value.Value, error) {
		if !dt.IsFloat() {
			return nil, fmt.Errorf("pow of %s", dt)
		}
		l := k.call("llvm.nvvm.lg2.approx.f", f32, a[0])
		return k.call("llvm.nvvm.ex2.approx.ftz.f", f32, k.b.NewFMul(l, a[1])), nil
	},
	ir.OpEq: compare(enum.FPredOEQ, enum.IPredEQ),
	ir.OpNe: compare(enum.FPredUNE, enum.IPredNE),
	ir.OpLt: compare(enum.FPredOLT, enum.IPredSLT),
	ir.OpLe: compare(enum.FPredOLE, enum.IPredSLE),
	ir.OpGt: compare(enum.FPredOGT, enum.IPredSGT),
	ir.OpGe: compare(enum.FPredOGE, enum.IPredSGE),
	ir.OpWhere: func(k *builder, a []value.Value, _ *ir.Op, _ ir.DType) (value.Value, error) {
		return k.sel(a[0], a[1], a[2]), nil
	},
	ir.OpCast: func(k *builder, a []value.Value, op *ir.Op, dt ir.DType) (value.Value, error) {
		return k.convert(a[0], dt, op.Results[0].Type.DType), nil
	},
}

// scalarOp emits op on register operands and rounds the result to its dtype.
func (k *builder) scalarOp(op *ir.Op, args []value.Value) (value.Value, error) {
	if op.Is(ir.OpConst) {
		v, _ := op.Attrs.Float("value")
		d := op.Results[0].Type.DType
		switch rt := regType(d); {
		case rt.Equal(f32):
			return k.round(cf32(v), d), nil
		case rt.Equal(i1):
			return cint(i1, map[bool]int64{false: 0, true: 1}[v != 0]), nil
		default:
			return cint(rt, int64(v)), nil
		}
	}
	rule, ok := scalarRules[op.Def()]
	if !ok {
		return nil, fmt.Errorf("no scalar rule for %s", op.Name)
	}
	dt := op.Args[0].Type.DType
	if op.Is(ir.OpWhere) {
		dt = op.Args[1].Type.DType
	}
	v, err := rule(k, args, op, dt)
	if err != nil {
		return nil, err
	}
	if op.Is(ir.OpCast) {
		return v, nil
	}
	return k.round(v, op.Results[0].Type.DType), nil
}

// read is element i of v in register form; a constant is its value.
func (k *kernelBuilder) read(v *ir.Value, i value.Value) value.Value {
	if isConst(v) {
		x, _ := k.scalarOp(v.Def, nil)
		return x
	}
	x := k.loadElem(k.ptrs[v], i, v.Type.DType)
	if b := k.blocks[v]; b != nil && k.scales[v] != nil {
		x = k.b.NewFMul(x, k.blockScale(v, i, b))
	}
	return x
}

// blockScale is the scale of element i of a tensor quantized in blocks of
// its last two axes (leading axes index whole matrices).
func (k *kernelBuilder) blockScale(v *ir.Value, i value.Value, b []int64) value.Value {
	s := v.Type.Shape
	rows, cols := k.dim(s[len(s)-2]), k.dim(s[len(s)-1])
	rb := k.div(k.add(rows, ci64(b[0]-1)), ci64(b[0]))
	cb := k.div(k.add(cols, ci64(b[1]-1)), ci64(b[1]))
	col := k.rem(i, cols)
	rest := k.div(i, cols)
	row, mat := k.rem(rest, rows), k.div(rest, rows)
	at := k.add(k.mul(k.add(k.mul(mat, rb), k.div(row, ci64(b[0]))), cb), k.div(col, ci64(b[1])))
	return k.load(k.at(k.scales[v], at))
}
