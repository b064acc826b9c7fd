package cpu

import (
	"fmt"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/runtime"
)

func init() {
	register(ir.OpLinear, kLinear)
	register(ir.OpMatmul, kMatmul)
	register(ir.OpGroupedLinear, kGroupedLinear)
	register(ir.OpGroupedGEMM, kGroupedGEMM)
}

// wide reports whether products accumulate in f64 (FP32 mode with
// Options.Wide).
func (c *Context) wide() bool { return c.wideAcc && c.mode == FP32 }

// useFP8 reports whether a product with weight w takes the FP8 path.
func (c *Context) useFP8(w *runtime.Tensor) bool { return c.mode == FP8 && w.Scale != nil }

func kLinear(c *Context, op *ir.Op, args []*runtime.Tensor) ([]*runtime.Tensor, error) {
	x, w := args[0], args[1]
	if len(w.Shape) != 2 || len(x.Shape) == 0 || x.Shape[len(x.Shape)-1] != w.Shape[1] {
		return nil, fmt.Errorf("linear of %v by weight %v (weights are [out, in])", x.Shape, w.Shape)
	}
	if w.Scale != nil {
		if err := checkScale(w); err != nil {
			return nil, err
		}
	}
	N, K := w.Shape[0], w.Shape[1]
	M := numel(x.Shape) / max(K, 1)
	out := c.Out(0)
	b := weightB(w, 0, 0, c.mode.dequantDType())
	if c.useFP8(w) {
		qa := quantizeRows(c.workers, x.F, M, K)
		gemmFP8(c.workers, M, N, qa, b, out.F, N)
	} else {
		gemm(c.workers, M, N, K, x.F, K, b, out.F, N, c.wide())
	}
	return one(out), nil
}

func kMatmul(c *Context, op *ir.Op, args []*runtime.Tensor) ([]*runtime.Tensor, error) {
	a, b := args[0], args[1]
	r := len(a.Shape)
	if r < 2 || len(b.Shape) != r || b.Shape[r-2] != a.Shape[r-1] {
		return nil, fmt.Errorf("matmul of %v by %v", a.Shape, b.Shape)
	}
	M, K, N := a.Shape[r-2], a.Shape[r-1], b.Shape[r-1]
	batch := numel(a.Shape[:r-2])
	if numel(b.Shape[:r-2]) != batch {
		return nil, fmt.Errorf("batch dims of %v and %v differ", a.Shape, b.Shape)
	}
	out := c.Out(0)
	// a may be a deferred transpose (transposed.go): its storage then
	// holds [..., K, M].
	at, atr := c.transposed(a)
	one := func(i, workers int) {
		ma := matA{f: a.F[i*M*K : (i+1)*M*K], ld: K}
		if atr {
			ma = matA{f: at.F[i*M*K : (i+1)*M*K], ld: M, trans: true}
		}
		mb := &matB{f: b.F[i*K*N : (i+1)*K*N], ld: N}
		gemmA(workers, M, N, K, ma, mb, out.F[i*M*N:(i+1)*M*N], N, c.wide())
	}
	if batch >= c.workers {
		// Many small products: one per worker at a time.
		c.parallel(batch, 1, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				one(i, 1)
			}
		})
	} else {
		for i := 0; i < batch; i++ {
			one(i, c.workers)
		}
	}
	return []*runtime.Tensor{out}, nil
}

// kGroupedLinear runs y[t, j] = x'[t, j] · w[idx[t, j]]ᵀ as one GEMM per
// expert over the rows routed to it (gathered contiguously, as a MoE
// dispatch does), scattering the results back.
func kGroupedLinear(c *Context, op *ir.Op, args []*runtime.Tensor) ([]*runtime.Tensor, error) {
	x, w, idx := args[0], args[1], args[2]
	if len(w.Shape) != 3 || len(idx.Shape) != 2 {
		return nil, fmt.Errorf("grouped_linear wants w [E, out, in] and idx [T, k], got %v and %v", w.Shape, idx.Shape)
	}
	E, K := w.Shape[0], w.Shape[2]
	T, k := idx.Shape[0], idx.Shape[1]
	perSlot := false
	switch {
	case len(x.Shape) == 2 && x.Shape[0] == T && x.Shape[1] == K:
	case len(x.Shape) == 3 && x.Shape[0] == T && x.Shape[1] == k && x.Shape[2] == K:
		perSlot = true
	default:
		return nil, fmt.Errorf("input %v does not fit idx %v and weights %v", x.Shape, idx.Shape, w.Shape)
	}
	if w.Scale != nil {
		if err := checkScale(w); err != nil {
			return nil, err
		}
	}
	// Counting sort of the (t, j) slots by expert.
	count := make([]int, E+1)
	for i, e := range idx.I {
		if e < 0 || e >= int64(E) {
			return nil, fmt.Errorf("index %d at [%d, %d] is out of range for %d experts", e, i/k, i%k, E)
		}
		count[e+1]++
	}
	for e := 0; e < E; e++ {
		count[e+1] += count[e]
	}
	order := make([]int, T*k) // slots grouped by expert
	fill := append([]int(nil), count[:E]...)
	for i, e := range idx.I {
		order[fill[e]] = i
		fill[e]++
	}
	rowOf := func(slot int) int { // the row of x a slot reads
		if perSlot {
			return slot
		}
		return slot / k
	}
	out := c.Out(0)
	rows := T
	if perSlot {
		rows = T * k
	}
	p := c.newExpertProduct(w, x.F, rows)
	c.forExperts(E, T*k, func(e int) int { return count[e+1] - count[e] }, func(e, workers int) {
		slots := order[count[e]:count[e+1]]
		src := make([]int, len(slots))
		for i, sl := range slots {
			src[i] = rowOf(sl)
		}
		p.gathered(e, src, slots, out.F, workers)
	})
	return one(out), nil
}
