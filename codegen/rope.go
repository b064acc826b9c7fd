package codegen

import (
	"math"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/program"
	"github.com/llir/llvm/ir/constant"
	"github.com/llir/llvm/ir/enum"
	"github.com/llir/llvm/ir/types"
	"github.com/llir/llvm/ir/value"
)

// Rope kernels: one thread per pair of the last axis (past rotary_dim, a
// pair that passes through). The frequencies depend only on the op's
// attributes, so the compiler computes them (ir.RopeFreqs, f64) into a
// constant table (dynamic scaling multiplies them by a power of the
// positions' maximum, computed in the kernel in f64); the angle pos·freq
// is formed and reduced mod 2π in f64 (positions reach 10^5 radians, where
// f32 angles are off by 10^-2), then sin and cos of the reduced angle in
// f32.

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
	r, err := ir.RopeRotaryDim(op.Attrs, d.N)
	if err != nil {
		return err
	}
	freqs, err := ir.RopeFreqs(int(r), theta, scaling)
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

	const threads = 256
	half := d.N / 2
	pairs := k.div(k.numel(shape), ci64(2))
	i := k.globalID()
	perToken := k.div(k.numel(shape[1:]), ci64(2))
	lnG := k.dynamicNTK(scaling, pos, shape[0], r, threads)
	k.ifThen(k.lt(i, pairs), func() {
		t := k.div(i, perToken)
		v, p := k.div(i, ci64(half)), k.rem(i, ci64(half)) // vector v, its pair p
		vbase := k.mul(v, ci64(d.N))
		k.ifThen(k.lt(p, ci64(r/2)), func() {
			f := k.load(k.b.NewGetElementPtr(tab.ContentType, tab, ci64(0), p))
			if lnG != nil { // × g^(−2p/(r−2)): the base raised by dynamic scaling
				expo := k.b.NewFMul(k.b.NewSIToFP(p, f64), cf64(-2/float64(r-2)))
				f = k.b.NewFMul(f, k.exp64(k.b.NewFMul(expo, lnG)))
			}
			ang := k.b.NewFMul(k.b.NewSIToFP(k.load(k.at(k.ptrs[pos], t)), f64), f)
			turns := k.call("llvm.rint.f64", f64, k.b.NewFMul(ang, constant.NewFloat(f64, 1/(2*math.Pi))))
			red := k.b.NewFPTrunc(k.b.NewFSub(ang, k.b.NewFMul(turns, constant.NewFloat(f64, 2*math.Pi))), f32)
			sin := k.call("llvm.nvvm.sin.approx.f", f32, red)
			cos := k.call("llvm.nvvm.cos.approx.f", f32, red)
			if sign < 0 {
				sin = k.b.NewFNeg(sin)
			}
			// The pair's elements: 2p and 2p+1 (interleaved), or p and
			// p + r/2 (layout "half"), of vector v.
			e0 := k.add(vbase, k.mul(p, ci64(2)))
			e1 := k.add(e0, ci64(1))
			if halfLayout {
				e0 = k.add(vbase, p)
				e1 = k.add(e0, ci64(r/2))
			}
			a := k.read(x, e0)
			b := k.read(x, e1)
			o0 := k.b.NewFSub(k.b.NewFMul(a, cos), k.b.NewFMul(b, sin))
			o1 := k.b.NewFAdd(k.b.NewFMul(a, sin), k.b.NewFMul(b, cos))
			k.store(k.toMem(o0, out.Type.DType), k.at(k.ptrs[out], e0))
			k.store(k.toMem(o1, out.Type.DType), k.at(k.ptrs[out], e1))
		})
		if r < d.N { // the pairs past rotary_dim pass through
			k.ifThen(k.b.NewICmp(enum.IPredSGE, p, ci64(r/2)), func() {
				e0 := k.add(vbase, k.add(ci64(r), k.mul(k.sub(p, ci64(r/2)), ci64(2))))
				for _, e := range []value.Value{e0, k.add(e0, ci64(1))} {
					k.store(k.toMem(k.read(x, e), out.Type.DType), k.at(k.ptrs[out], e))
				}
			})
		}
	})
	k.ret()
	step.Launch = program.Launch{Threads: threads, Grid: [3]program.GridDim{gridOf(512, shape...), one(), one()}}
	return nil
}

// dynamicNTK returns log g for Hugging Face's dynamic NTK scaling, where g
// = factor·L/L0 − (factor − 1) and L is the largest position plus one
// (every thread of the block takes part: a block reduction over the
// positions, in f32, exact to 2^24), or 0 when L ≤ L0; nil for any other
// scaling. The frequencies are then freq_p·g^(−2p/(r−2)) (ir.RopeFreqsAt).
func (k *kernelBuilder) dynamicNTK(scaling ir.Attrs, pos *ir.Value, T ir.Dim, r, threads int64) value.Value {
	if typ, _ := scaling.Str("type"); typ != "dynamic" {
		return nil
	}
	factor, _ := scaling.Float("factor")
	orig, _ := scaling.Float("original_max_position_embeddings")
	tid := k.zext64(k.sreg("tid.x"))
	m := k.loop(tid, k.dim(T), ci64(threads), []value.Value{cf32(0)}, func(j value.Value, a []value.Value) []value.Value {
		p := k.b.NewSIToFP(k.load(k.at(k.ptrs[pos], j)), f32)
		return []value.Value{k.call("llvm.maxnum.f32", f32, a[0], k.b.NewFAdd(p, cf32(1)))}
	})[0]
	L := k.b.NewFPExt(k.blockReduce(m, threads, fmax(k)), f64)
	g := k.b.NewFSub(k.b.NewFMul(L, cf64(factor/orig)), cf64(factor-1))
	long := k.b.NewFCmp(enum.FPredOGT, L, cf64(orig))
	return k.sel(long, k.ln64(k.sel(long, g, cf64(1))), cf64(0))
}
