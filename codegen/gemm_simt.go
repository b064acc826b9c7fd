package codegen

import (
	"github.com/deepc-dev/deepc/ir"
	"github.com/llir/llvm/ir/enum"
	"github.com/llir/llvm/ir/value"
)

// SIMT GEMMs: the cases the tensor-core kernel does not take (f32
// activations such as the MoE gate, batched matmul such as absorbed MLA
// decode). One thread per output element sums over K in order in f32, a
// block-quantized weight multiplied by its block's scale; the region's
// elementwise consumers run on the result as in the tensor-core epilogue.

func emitSIMTGEMM(k *kernelBuilder, step *Step) error {
	var g *ir.Op
	for _, op := range k.r.Ops {
		switch op.Name {
		case "linear", "matmul":
			g = op
		case "grouped_linear", "grouped_linear_wgrad":
			return emitGroupedSIMT(k, step, op)
		}
	}
	if g == nil {
		return unsupported("no SIMT GEMM for %s", opNames(k.r))
	}
	a, b := g.Args[0], g.Args[1]
	out := g.Results[0]
	shape := out.Type.Shape
	var K ir.Dim
	if g.Name == "linear" {
		K = a.Type.Shape[len(a.Type.Shape)-1]
	} else {
		K = a.Type.Shape[len(a.Type.Shape)-1]
		if len(b.Type.Shape) > 2 && len(b.Type.Shape) != len(shape) {
			return unsupported("matmul with b of rank %d against a result of rank %d", len(b.Type.Shape), len(shape))
		}
	}
	i := k.globalID()
	var err error
	k.ifThen(k.lt(i, k.numel(shape)), func() {
		idx := k.unflatten(i, shape)
		n := idx[len(idx)-1]
		var aRow value.Value // a's row start
		var bAt func(kk value.Value) value.Value
		if g.Name == "linear" {
			m := k.flatten(idx[:len(idx)-1], shape[:len(shape)-1])
			aRow = k.mul(m, k.dim(K))
			bAt = func(kk value.Value) value.Value { return k.add(k.mul(n, k.dim(K)), kk) }
		} else {
			// a [..., M, K] · b [..., K, N]: batch indices shared.
			aIdx := append(append([]value.Value(nil), idx[:len(idx)-1]...), ci64(0))
			aRow = k.flatten(aIdx, a.Type.Shape)
			bShape := b.Type.Shape
			bIdx := make([]value.Value, len(bShape))
			copy(bIdx, idx[len(idx)-len(bShape):])
			bAt = func(kk value.Value) value.Value {
				bi := append([]value.Value(nil), bIdx...)
				bi[len(bi)-2] = kk
				bi[len(bi)-1] = n
				return k.flatten(bi, bShape)
			}
		}
		sum := k.loop(ci64(0), k.dim(K), ci64(1), []value.Value{cf32(0)}, func(kk value.Value, c []value.Value) []value.Value {
			x := k.read(a, k.add(aRow, kk))
			w := k.read(b, bAt(kk)) // dequantised by its block's scale
			return []value.Value{k.b.NewFAdd(c[0], k.b.NewFMul(x, w))}
		})[0]
		y := k.round(sum, out.Type.DType)
		var vals map[*ir.Value]value.Value
		if vals, err = k.evalElement(i, shape, epilogue(k.r, g), map[*ir.Value]value.Value{out: y}); err != nil {
			return
		}
		for _, o := range k.r.Outputs {
			k.store(k.toMem(vals[o], o.Type.DType), k.at(k.ptrs[o], i))
		}
	})
	if err != nil {
		return err
	}
	k.ret()
	step.Launch = Launch{Threads: 128, Grid: [3]GridDim{gridOf(128, shape...), one(), one()}}
	return nil
}

// epilogue is the region's ops after op.
func epilogue(r *Region, op *ir.Op) []*ir.Op {
	for i, o := range r.Ops {
		if o == op {
			return r.Ops[i+1:]
		}
	}
	return nil
}

// emitGroupedSIMT: grouped_linear (y[t, j, o] = Σ_i x'[t, j, i] ·
// w[idx[t, j], o, i]) and its weight gradient (dw[e, o, i] = Σ over slots
// (t, j) routed to e of g[t, j, o] · x'[t, j, i]), one thread per output
// element, f32 sums in order, then the region's epilogue.
func emitGroupedSIMT(k *kernelBuilder, step *Step, g *ir.Op) error {
	out := g.Results[0]
	shape := out.Type.Shape
	var x, w, gr, idx *ir.Value
	if g.Name == "grouped_linear" {
		x, w, idx = g.Args[0], g.Args[1], g.Args[2]
	} else {
		x, gr, idx = g.Args[0], g.Args[1], g.Args[2]
		if fp8, _ := g.Attrs.Bool("fp8"); fp8 {
			return unsupported("grouped_linear_wgrad with fp8 operands")
		}
	}
	K := idx.Type.Shape[1].N
	in := k.dim(x.Type.Shape[len(x.Type.Shape)-1])
	// xAt is the index of x'[t, j, i].
	xAt := func(t, j, i value.Value) value.Value {
		if len(x.Type.Shape) == 2 {
			return k.add(k.mul(t, in), i)
		}
		return k.add(k.mul(k.add(k.mul(t, ci64(K)), j), in), i)
	}
	i := k.globalID()
	var err error
	k.ifThen(k.lt(i, k.numel(shape)), func() {
		var sum value.Value
		if g.Name == "grouped_linear" {
			nOut := k.dim(shape[2])
			o := k.rem(i, nOut)
			slot := k.div(i, nOut) // t·K + j
			t, j := k.div(slot, ci64(K)), k.rem(slot, ci64(K))
			e := k.sext64(k.load(k.at(k.ptrs[idx], slot)))
			wRow := k.mul(k.add(k.mul(e, nOut), o), in)
			sum = k.loop(ci64(0), in, ci64(1), []value.Value{cf32(0)}, func(c value.Value, a []value.Value) []value.Value {
				return []value.Value{k.b.NewFAdd(a[0], k.b.NewFMul(k.read(x, xAt(t, j, c)), k.read(w, k.add(wRow, c))))}
			})[0]
		} else {
			nOut := k.dim(shape[1])
			c := k.rem(i, in)
			o := k.rem(k.div(i, in), nOut)
			e := k.div(i, k.mul(in, nOut))
			slots := k.numel(idx.Type.Shape)
			sum = k.loop(ci64(0), slots, ci64(1), []value.Value{cf32(0)}, func(s value.Value, a []value.Value) []value.Value {
				hit := k.b.NewICmp(enum.IPredEQ, k.sext64(k.load(k.at(k.ptrs[idx], s))), e)
				t, j := k.div(s, ci64(K)), k.rem(s, ci64(K))
				p := k.b.NewFMul(k.read(gr, k.add(k.mul(s, nOut), o)), k.read(x, xAt(t, j, c)))
				return []value.Value{k.sel(hit, k.b.NewFAdd(a[0], p), a[0])}
			})[0]
		}
		y := k.round(sum, out.Type.DType)
		var vals map[*ir.Value]value.Value
		if vals, err = k.evalElement(i, shape, epilogue(k.r, g), map[*ir.Value]value.Value{out: y}); err != nil {
			return
		}
		for _, o := range k.r.Outputs {
			k.store(k.toMem(vals[o], o.Type.DType), k.at(k.ptrs[o], i))
		}
	})
	if err != nil {
		return err
	}
	k.ret()
	step.Launch = Launch{Threads: 128, Grid: [3]GridDim{gridOf(128, shape...), one(), one()}}
	return nil
}
