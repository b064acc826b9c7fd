package codegen

import (
	"math"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/program"
	"github.com/llir/llvm/ir/constant"
	"github.com/llir/llvm/ir/enum"
	"github.com/llir/llvm/ir/types"
)

// Rope kernels: one thread per rotated pair. The frequencies depend only on
// the op's attributes, so the compiler computes them (ir.RopeFreqs, f64)
// into a constant table; the angle pos·freq is formed and reduced mod 2π in
// f64 (positions reach 10^5 radians, where f32 angles are off by 10^-2),
// then sin and cos of the reduced angle in f32.

func emitRope(k *kernelBuilder, step *program.Step) error {
	if len(k.r.Ops) != 1 {
		return unsupported("rope region with %d ops", len(k.r.Ops))
	}
	op := k.r.Ops[0]
	x, pos := op.Args[0], op.Args[1]
	out := op.Results[0]
	shape := x.Type.Shape
	d := shape[len(shape)-1]
	if d.IsSym() || d.N%2 != 0 {
		return unsupported("rope over a last dim of %s", d)
	}
	theta, _ := op.Attrs.Float("theta")
	scaling, _ := op.Attrs.Dict("scaling")
	freqs, err := ir.RopeFreqs(int(d.N), theta, scaling)
	if err != nil {
		return err
	}
	sign := 1.0
	if inv, _ := op.Attrs.Bool("inverse"); inv {
		sign = -1
	}
	halfLayout, err := ir.RopeHalf(op.Attrs)
	if err != nil {
		return err
	}
	elems := make([]constant.Constant, len(freqs))
	for i, f := range freqs {
		elems[i] = constant.NewFloat(f64, f)
	}
	tab := k.m.NewGlobalDef("freqs", constant.NewArray(types.NewArray(uint64(len(freqs)), f64), elems...))
	tab.Immutable = true
	tab.Linkage = enum.LinkageInternal

	half := d.N / 2
	pairs := k.div(k.numel(shape), ci64(2))
	i := k.globalID()
	perToken := k.div(k.numel(shape[1:]), ci64(2))
	k.ifThen(k.lt(i, pairs), func() {
		t := k.div(i, perToken)
		p := k.rem(i, ci64(half))
		f := k.load(k.b.NewGetElementPtr(tab.ContentType, tab, ci64(0), p))
		ang := k.b.NewFMul(k.b.NewSIToFP(k.load(k.at(k.ptrs[pos], t)), f64), f)
		turns := k.call("llvm.rint.f64", f64, k.b.NewFMul(ang, constant.NewFloat(f64, 1/(2*math.Pi))))
		red := k.b.NewFPTrunc(k.b.NewFSub(ang, k.b.NewFMul(turns, constant.NewFloat(f64, 2*math.Pi))), f32)
		sin := k.call("llvm.nvvm.sin.approx.f", f32, red)
		cos := k.call("llvm.nvvm.cos.approx.f", f32, red)
		if sign < 0 {
			sin = k.b.NewFNeg(sin)
		}
		// The pair's elements: 2i and 2i+1 (interleaved), or, for pair p
		// of vector v, v·d + p and v·d + p + d/2 (layout "half").
		e0, e1 := k.mul(i, ci64(2)), k.add(k.mul(i, ci64(2)), ci64(1))
		if halfLayout {
			e0 = k.add(k.mul(k.div(i, ci64(half)), ci64(d.N)), p)
			e1 = k.add(e0, ci64(half))
		}
		a := k.read(x, e0)
		b := k.read(x, e1)
		o0 := k.b.NewFSub(k.b.NewFMul(a, cos), k.b.NewFMul(b, sin))
		o1 := k.b.NewFAdd(k.b.NewFMul(a, sin), k.b.NewFMul(b, cos))
		k.store(k.toMem(o0, out.Type.DType), k.at(k.ptrs[out], e0))
		k.store(k.toMem(o1, out.Type.DType), k.at(k.ptrs[out], e1))
	})
	k.ret()
	step.Launch = program.Launch{Threads: 256, Grid: [3]program.GridDim{gridOf(512, shape...), one(), one()}}
	return nil
}
