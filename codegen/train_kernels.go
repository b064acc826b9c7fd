package codegen

import (
	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/program"
	"github.com/llir/llvm/ir/enum"
	"github.com/llir/llvm/ir/value"
)

// Kernels of the train program's own ops: AdamW, scatter_add (the
// adjoint of take_along) and quantize_blocks (FP8 training's weight and
// operand quantization).

// emitAdamW: one thread per parameter element, f32 arithmetic in the
// CPU's order; the four scalar operands are read once per thread.
func emitAdamW(k *kernelBuilder, step *program.Step) error {
	op := k.r.Ops[0]
	p, g, m, v := op.Args[0], op.Args[1], op.Args[2], op.Args[3]
	attr := func(name string) value.Value { x, _ := op.Attrs.Float(name); return cf32(x) }
	b1, b2, eps, decay := attr("beta1"), attr("beta2"), attr("eps"), attr("decay")
	shape := p.Type.Shape
	i := k.globalID()
	k.ifThen(k.lt(i, k.numel(shape)), func() {
		lr, bc1, bc2, gs := k.read(op.Args[4], ci64(0)), k.read(op.Args[5], ci64(0)), k.read(op.Args[6], ci64(0)), k.read(op.Args[7], ci64(0))
		f := k.b
		gi := f.NewFMul(k.read(g, i), gs)
		mi := f.NewFAdd(f.NewFMul(b1, k.read(m, i)), f.NewFMul(f.NewFSub(cf32(1), b1), gi))
		vi := f.NewFAdd(f.NewFMul(b2, k.read(v, i)), f.NewFMul(f.NewFMul(f.NewFSub(cf32(1), b2), gi), gi))
		den := f.NewFAdd(k.call("llvm.nvvm.sqrt.rn.f", f32, f.NewFMul(vi, f.NewFDiv(cf32(1), bc2))), eps)
		pi := k.read(p, i)
		upd := f.NewFAdd(f.NewFDiv(f.NewFMul(mi, f.NewFDiv(cf32(1), bc1)), den), f.NewFMul(decay, pi))
		np := f.NewFSub(pi, f.NewFMul(lr, upd))
		for j, x := range []value.Value{np, mi, vi} {
			o := op.Results[j]
			if ptr, ok := k.ptrs[o]; ok {
				k.store(k.toMem(k.round(x, o.Type.DType), o.Type.DType), k.at(ptr, i))
			}
		}
	})
	k.ret()
	step.Launch = program.Launch{Threads: 256, Grid: [3]program.GridDim{gridOf(256, shape...), one(), one()}}
	return nil
}

// scatter_add adds with f32 atomics, one thread per source element (the
// order of additions is arbitrary: results match the CPU within f32
// rounding, not bit for bit). An f32 result is updated in place
// (Step.InPlace); any other dtype (the bf16 embedding gradient) sums in an
// f32 scratch copy of base and is rounded once at the end, as the CPU
// rounds the op's result: three kernels.
func scatterPhases(r *Region) []phase {
	out := r.Ops[0].Results[0]
	if out.Type.DType == ir.F32 {
		return nil
	}
	acc := func(write bool) func(*Region, func(*ir.Value) string) []program.Arg {
		return func(r *Region, name func(*ir.Value) string) []program.Arg {
			o := r.Ops[0].Results[0]
			return []program.Arg{{Value: name(o) + ".acc", DType: "f32", Shape: shapeStrings(o.Type.Shape), Output: write, Scratch: true}}
		}
	}
	none := func(*Region) []*ir.Value { return []*ir.Value{} }
	return []phase{
		{emit: emitScatterInit, outputs: none, scratch: acc(true)},
		{emit: emitScatterAdd, outputs: none, scratch: acc(false)},
		{emit: emitScatterRound, scratch: acc(false)},
	}
}

func scratchPtr(k *kernelBuilder) value.Value {
	for _, p := range k.scratch {
		return p
	}
	return nil
}

// emitScatterInit copies base into the f32 accumulator.
func emitScatterInit(k *kernelBuilder, step *program.Step) error {
	op := k.r.Ops[0]
	base, out := op.Args[0], op.Results[0]
	i := k.globalID()
	k.ifThen(k.lt(i, k.numel(out.Type.Shape)), func() {
		k.store(k.read(base, i), k.at(scratchPtr(k), i))
	})
	k.ret()
	step.Launch = program.Launch{Threads: 256, Grid: [3]program.GridDim{gridOf(256, out.Type.Shape...), one(), one()}}
	return nil
}

// emitScatterRound writes the accumulator in the result's dtype.
func emitScatterRound(k *kernelBuilder, step *program.Step) error {
	out := k.r.Ops[0].Results[0]
	i := k.globalID()
	k.ifThen(k.lt(i, k.numel(out.Type.Shape)), func() {
		k.store(k.toMem(k.load(k.at(scratchPtr(k), i)), out.Type.DType), k.at(k.ptrs[out], i))
	})
	k.ret()
	step.Launch = program.Launch{Threads: 256, Grid: [3]program.GridDim{gridOf(256, out.Type.Shape...), one(), one()}}
	return nil
}

// emitScatterAdd adds every source element at its index: into the f32
// result in place, or into the accumulator.
func emitScatterAdd(k *kernelBuilder, step *program.Step) error {
	op := k.r.Ops[0]
	base, idx, src := op.Args[0], op.Args[1], op.Args[2]
	out := op.Results[0]
	dstBase := scratchPtr(k)
	if dstBase == nil {
		if out.Type.DType != ir.F32 || isConst(base) {
			return unsupported("scatter_add into %s", out.Type.DType)
		}
		dstBase = k.ptrs[out]
		step.InPlace = [][2]int{{0, 0}}
	}
	ax := axisOf(op, len(src.Type.Shape))
	i := k.globalID()
	k.ifThen(k.lt(i, k.numel(src.Type.Shape)), func() {
		si := k.unflatten(i, src.Type.Shape)
		j := k.sext64(k.load(k.at(k.ptrs[idx], i)))
		oi := append([]value.Value(nil), si...)
		oi[ax] = j
		dst := k.at(dstBase, k.flatten(oi, out.Type.Shape))
		k.b.NewAtomicRMW(enum.AtomicOpFAdd, dst, k.read(src, i), enum.AtomicOrderingMonotonic)
	})
	k.ret()
	step.Launch = program.Launch{Threads: 256, Grid: [3]program.GridDim{gridOf(256, src.Type.Shape...), one(), one()}}
	return nil
}

// emitQuantize: one 256-thread block per scale block: the block's amax
// (f32, block-reduced), scale = amax/448 (1 when amax is 0, as the CPU
// does), then every element x/scale to e4m3 with RNE and saturation.
func emitQuantize(k *kernelBuilder, step *program.Step) error {
	op := k.r.Ops[0]
	x := op.Args[0]
	out := op.Results[0]
	b, _ := op.Attrs.Ints("block")
	s := x.Type.Shape
	rows, cols := s[len(s)-2], s[len(s)-1]
	R, C := k.dim(rows), k.dim(cols)
	rb := k.div(k.add(R, ci64(b[0]-1)), ci64(b[0]))
	cb := k.div(k.add(C, ci64(b[1]-1)), ci64(b[1]))
	tid := k.zext64(k.sreg("tid.x"))
	bj, bi, mat := k.zext64(k.sreg("ctaid.x")), k.zext64(k.sreg("ctaid.y")), k.zext64(k.sreg("ctaid.z"))
	blk := k.add(k.mul(k.add(k.mul(mat, rb), bi), cb), bj)
	r0, c0 := k.mul(bi, ci64(b[0])), k.mul(bj, ci64(b[1]))
	nr := k.sub(minI(k, k.add(r0, ci64(b[0])), R), r0)
	nc := k.sub(minI(k, k.add(c0, ci64(b[1])), C), c0)
	n := k.mul(nr, nc)
	elem := func(e value.Value) value.Value {
		r, c := k.div(e, nc), k.rem(e, nc)
		return k.add(k.mul(k.add(k.mul(mat, R), k.add(r0, r)), C), k.add(c0, c))
	}
	amax := k.rowFold(rowCtx{n: n, tid: tid}, cf32(0), func(e value.Value) value.Value {
		return k.call("llvm.fabs.f32", f32, k.read(x, elem(e)))
	}, fmax(k))
	var scale value.Value = k.b.NewFDiv(amax, cf32(448))
	scale = k.sel(k.b.NewFCmp(enum.FPredOEQ, scale, cf32(0)), cf32(1), scale)
	k.loop(tid, n, ci64(rowThreads), nil, func(e value.Value, _ []value.Value) []value.Value {
		at := elem(e)
		k.store(k.toMem(k.b.NewFDiv(k.read(x, at), scale), ir.F8E4M3), k.at(k.ptrs[out], at))
		return nil
	})
	k.ifThen(k.b.NewICmp(enum.IPredEQ, tid, ci64(0)), func() {
		k.store(scale, k.at(k.scales[out], blk))
	})
	k.ret()
	lead := s[:len(s)-2]
	step.Launch = program.Launch{Threads: rowThreads, Grid: [3]program.GridDim{gridOf(b[1], cols), gridOf(b[0], rows), gridOf(1, lead...)}}
	return nil
}

func minI(k *kernelBuilder, a, b value.Value) value.Value { return k.sel(k.lt(a, b), a, b) }
