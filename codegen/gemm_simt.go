package codegen

import (
	"github.com/deepc-dev/deepc/ir"
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
		if op.Name == "linear" || op.Name == "matmul" {
			g = op
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
	quant := quantBlockOf(k, b)
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
			x := k.loadElem(k.ptrs[a], k.add(aRow, kk), a.Type.DType)
			w := k.loadElem(k.ptrs[b], bAt(kk), b.Type.DType)
			if quant != nil {
				sc := k.scaleAt(b, n, kk, quant)
				w = k.b.NewFMul(w, sc)
			}
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

// quantBlockOf is the [rows, cols] scale block of a quantized weight input.
func quantBlockOf(k *kernelBuilder, w *ir.Value) []int64 {
	return k.blocks[w]
}

// scaleAt loads the scale of weight element (row, col) of a [rows, cols]
// weight quantized in blocks.
func (k *kernelBuilder) scaleAt(w *ir.Value, row, col value.Value, block []int64) value.Value {
	s := w.Type.Shape
	cols := k.dim(s[len(s)-1])
	nb := k.div(k.add(cols, ci64(block[1]-1)), ci64(block[1]))
	return k.load(k.at(k.scales[w], k.add(k.mul(k.div(row, ci64(block[0])), nb), k.div(col, ci64(block[1])))))
}
