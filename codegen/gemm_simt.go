package codegen

import (
	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/program"
	"github.com/llir/llvm/ir/enum"
	"github.com/llir/llvm/ir/value"
)

// SIMT GEMMs: the cases the tensor-core kernel does not take (f32
// activations such as the MoE gate, batched matmul such as absorbed MLA
// decode). One thread per output element sums over K in order in f32, a
// block-quantized weight multiplied by its block's scale; the region's
// elementwise consumers run on the result as in the tensor-core epilogue.

func emitSIMTGEMM(k *kernelBuilder, step *program.Step) error {
	var g *ir.Op
	for _, op := range k.r.Ops {
		switch op.Def() {
		case ir.OpLinear, ir.OpMatmul:
			g = op
		case ir.OpGroupedLinear, ir.OpGroupedLinearWGrad:
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
	if g.Is(ir.OpLinear) {
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
		if g.Is(ir.OpLinear) {
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
		err = k.storeThroughEpilogue(g, i, shape, sum)
	})
	if err != nil {
		return err
	}
	k.ret()
	step.Launch = program.Launch{Threads: 128, Grid: [3]program.GridDim{gridOf(128, shape...), one(), one()}}
	return nil
}

// storeThroughEpilogue rounds the GEMM g's f32 result y at linear index i
// of shape to its dtype, runs the region's ops after g on it and stores
// the region's outputs there.
func (k *kernelBuilder) storeThroughEpilogue(g *ir.Op, i value.Value, shape ir.Shape, y value.Value) error {
	out := g.Results[0]
	vals, err := k.evalElement(i, shape, epilogue(k.r, g), map[*ir.Value]value.Value{out: k.round(y, out.Type.DType)})
	if err != nil {
		return err
	}
	for _, o := range k.r.Outputs {
		k.store(k.toMem(vals[o], o.Type.DType), k.at(k.ptrs[o], i))
	}
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
func emitGroupedSIMT(k *kernelBuilder, step *program.Step, g *ir.Op) error {
	out := g.Results[0]
	shape := out.Type.Shape
	var x, w, gr, idx *ir.Value
	if g.Is(ir.OpGroupedLinear) {
		x, w, idx = g.Args[0], g.Args[1], g.Args[2]
	} else {
		x, gr, idx = g.Args[0], g.Args[1], g.Args[2]
		if fp8, _ := g.Attrs.Bool("fp8"); fp8 {
			return emitWGradFP8(k, step, g)
		}
	}
	K := idx.Type.Shape[1].N
	in := k.dim(x.Type.Shape[len(x.Type.Shape)-1])
	// xAt is the index of x'[t, j, i].
	xAt := func(s, c value.Value) value.Value { return k.slotElem(x, s, c, K, in) }
	i := k.globalID()
	var err error
	k.ifThen(k.lt(i, k.numel(shape)), func() {
		var sum value.Value
		if g.Is(ir.OpGroupedLinear) {
			nOut := k.dim(shape[2])
			o := k.rem(i, nOut)
			slot := k.div(i, nOut) // t·K + j
			e := k.sext64(k.load(k.at(k.ptrs[idx], slot)))
			wRow := k.mul(k.add(k.mul(e, nOut), o), in)
			if b := k.blocks[w]; b != nil && k.scales[w] != nil {
				sum = k.groupedFP8(x, w, b, slot, wRow, in, xAt)
			} else {
				sum = k.loop(ci64(0), in, ci64(1), []value.Value{cf32(0)}, func(c value.Value, a []value.Value) []value.Value {
					return []value.Value{k.b.NewFAdd(a[0], k.b.NewFMul(k.read(x, xAt(slot, c)), k.read(w, k.add(wRow, c))))}
				})[0]
			}
		} else {
			nOut := k.dim(shape[1])
			c := k.rem(i, in)
			o := k.rem(k.div(i, in), nOut)
			e := k.div(i, k.mul(in, nOut))
			slots := k.numel(idx.Type.Shape)
			// Only the slots routed to e add (the expert is the same for
			// a whole warp: the branch does not diverge).
			sum = k.loop(ci64(0), slots, ci64(1), []value.Value{cf32(0)}, func(s value.Value, a []value.Value) []value.Value {
				hit := k.b.NewICmp(enum.IPredEQ, k.sext64(k.load(k.at(k.ptrs[idx], s))), e)
				return k.choose(hit, a, func() []value.Value {
					p := k.b.NewFMul(k.read(gr, k.add(k.mul(s, nOut), o)), k.read(x, xAt(s, c)))
					return []value.Value{k.b.NewFAdd(a[0], p)}
				})
			})[0]
		}
		err = k.storeThroughEpilogue(g, i, shape, sum)
	})
	if err != nil {
		return err
	}
	k.ret()
	step.Launch = program.Launch{Threads: 128, Grid: [3]program.GridDim{gridOf(128, shape...), one(), one()}}
	return nil
}

// emitWGradFP8 is grouped_linear_wgrad in FP8 (docs/model.md §5, the CPU's
// recipe): per expert, its slots in order form the K axis of
// dw[e] = G_eᵀ·X_e; both operands are quantized per 128 consecutive slots
// (scale = amax/448, 1 when amax is 0; e4m3 RNE, saturating), each tile's
// fp8 products are summed in f32 in slot order and promoted as
// acc + f32(p · f32(sG·sX)). One thread per output element (e, o, i) walks
// the slot list tile by tile: a first pass finds the tile's 128 slots of e
// and both amaxes, a second quantizes and sums. A SIMT kernel for
// correctness; the tensor-core version compacts each expert's slots first.
func emitWGradFP8(k *kernelBuilder, step *program.Step, g *ir.Op) error {
	x, gr, idx := g.Args[0], g.Args[1], g.Args[2]
	out := g.Results[0]
	shape := out.Type.Shape
	K := idx.Type.Shape[1].N
	in := k.dim(x.Type.Shape[len(x.Type.Shape)-1])
	nOut := k.dim(shape[1])
	slots := k.numel(idx.Type.Shape)
	xAt := func(s, c value.Value) value.Value { return k.slotElem(x, s, c, K, in) }
	i := k.globalID()
	var err error
	k.ifThen(k.lt(i, k.numel(shape)), func() {
		c := k.rem(i, in)
		o := k.rem(k.div(i, in), nOut)
		e := k.div(i, k.mul(in, nOut))
		isE := func(s value.Value) value.Value {
			return k.b.NewICmp(enum.IPredEQ, k.sext64(k.load(k.at(k.ptrs[idx], s))), e)
		}
		gv := func(s value.Value) value.Value { return k.read(gr, k.add(k.mul(s, nOut), o)) }
		xv := func(s value.Value) value.Value { return k.read(x, xAt(s, c)) }
		scale := func(amax value.Value) value.Value {
			s := k.b.NewFDiv(amax, cf32(448))
			return k.sel(k.b.NewFCmp(enum.FPredOEQ, s, cf32(0)), cf32(1), s)
		}
		// carry: the tile's first slot, the total
		res := k.while([]value.Value{ci64(0), cf32(0)}, func(cur []value.Value) value.Value {
			return k.lt(cur[0], slots)
		}, func(cur []value.Value) []value.Value {
			start := cur[0]
			// Pass 1: the next 128 slots of e from start: the end, amaxes.
			p1 := k.while([]value.Value{start, ci64(0), cf32(0), cf32(0)}, func(c1 []value.Value) value.Value {
				return k.b.NewAnd(k.lt(c1[0], slots), k.lt(c1[1], ci64(128)))
			}, func(c1 []value.Value) []value.Value {
				s := c1[0]
				hit := isE(s)
				am := k.choose(hit, c1[2:4], func() []value.Value {
					return []value.Value{
						k.call("llvm.maxnum.f32", f32, c1[2], k.call("llvm.fabs.f32", f32, gv(s))),
						k.call("llvm.maxnum.f32", f32, c1[3], k.call("llvm.fabs.f32", f32, xv(s))),
					}
				})
				return []value.Value{k.add(s, ci64(1)), k.add(c1[1], k.b.NewZExt(hit, i64)), am[0], am[1]}
			})
			end := p1[0]
			sG, sX := scale(p1[2]), scale(p1[3])
			// Pass 2: the tile's fp8 products in slot order.
			p := k.loop(start, end, ci64(1), []value.Value{cf32(0)}, func(s value.Value, a []value.Value) []value.Value {
				return k.choose(isE(s), a, func() []value.Value {
					qg := k.fromMem(k.toMem(k.b.NewFDiv(gv(s), sG), ir.F8E4M3), ir.F8E4M3)
					qx := k.fromMem(k.toMem(k.b.NewFDiv(xv(s), sX), ir.F8E4M3), ir.F8E4M3)
					return []value.Value{k.addRN(a[0], k.mulRN(qg, qx))}
				})
			})[0]
			total := k.sel(k.b.NewICmp(enum.IPredSGT, p1[1], ci64(0)), k.addRN(cur[1], k.mulRN(p, k.mulRN(sG, sX))), cur[1])
			return []value.Value{end, total}
		})
		err = k.storeThroughEpilogue(g, i, shape, res[1])
	})
	if err != nil {
		return err
	}
	k.ret()
	step.Launch = program.Launch{Threads: 128, Grid: [3]program.GridDim{gridOf(128, shape...), one(), one()}}
	return nil
}

// groupedFP8 is one output of grouped_linear with a block-quantized
// weight, in the FP8 recipe of docs/model.md §5 as the CPU computes it: the
// slot's row x'[slot] is quantized per 1×128 tile (scale = amax/448, 1
// when amax is 0; e4m3 RNE, saturating), each tile's products with the
// weight's fp8 values are summed in f32 in order, and the sum is promoted
// as acc + f32(p · f32(sx·sw)) with sw the weight block's scale.
func (k *kernelBuilder) groupedFP8(x, w *ir.Value, block []int64, slot, wRow, in value.Value, xAt func(s, c value.Value) value.Value) value.Value {
	tile := ci64(128)
	return k.loop(ci64(0), in, tile, []value.Value{cf32(0)}, func(c0 value.Value, acc []value.Value) []value.Value {
		end := k.call("llvm.smin.i64", i64, k.add(c0, tile), in)
		amax := k.loop(c0, end, ci64(1), []value.Value{cf32(0)}, func(c value.Value, a []value.Value) []value.Value {
			return []value.Value{k.call("llvm.maxnum.f32", f32, a[0], k.call("llvm.fabs.f32", f32, k.read(x, xAt(slot, c))))}
		})[0]
		s := k.b.NewFDiv(amax, cf32(448))
		sx := k.sel(k.b.NewFCmp(enum.FPredOEQ, s, cf32(0)), cf32(1), s)
		p := k.loop(c0, end, ci64(1), []value.Value{cf32(0)}, func(c value.Value, a []value.Value) []value.Value {
			qx := k.fromMem(k.toMem(k.b.NewFDiv(k.read(x, xAt(slot, c)), sx), ir.F8E4M3), ir.F8E4M3)
			qw := k.loadElem(k.ptrs[w], k.add(wRow, c), ir.F8E4M3)
			return []value.Value{k.addRN(a[0], k.mulRN(qx, qw))}
		})[0]
		sw := k.blockScale(w, k.add(wRow, c0), block)
		return []value.Value{k.addRN(acc[0], k.mulRN(p, k.mulRN(sx, sw)))}
	})[0]
}

// slotElem is the index of x'[s, c] for slot s = t·K + j of a grouped
// linear: x [T, in] is shared by a token's K slots, x [T, K, in] has a row
// per slot.
func (k *kernelBuilder) slotElem(x *ir.Value, s, c value.Value, K int64, in value.Value) value.Value {
	if len(x.Type.Shape) == 2 {
		s = k.div(s, ci64(K))
	}
	return k.add(k.mul(s, in), c)
}
