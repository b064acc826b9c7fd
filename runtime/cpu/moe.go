package cpu

import (
	"fmt"
	"slices"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/runtime"
)

// Kernels of the lowered MoE (ir/ops_moe.go): dispatch, gather, grouped
// GEMM over the dispatched rows, combine.

func init() {
	register(ir.OpMoEDispatch, kMoEDispatch)
	register(ir.OpMoEGather, kMoEGather)
	register(ir.OpMoECombine, kMoECombine)
}

// segments returns the first row of each expert's segment: counts rounded
// up to block, laid end to end.
func segments(count []int64, block int) []int {
	start := make([]int, len(count)+1)
	for e, n := range count {
		start[e+1] = start[e] + ceilDiv(int(n), block)*block
	}
	return start
}

func kMoEDispatch(c *Context, op *ir.Op, args []*runtime.Tensor) ([]*runtime.Tensor, error) {
	idx := args[0]
	E64, _ := op.Attrs.Int("experts")
	B64, _ := op.Attrs.Int("block")
	E, B := int(E64), int(B64)
	if len(idx.Shape) != 2 {
		return nil, fmt.Errorf("moe_dispatch wants idx [T, k], got %v", idx.Shape)
	}
	k := idx.Shape[1]
	slot, count := c.Out(0), c.Out(1)
	for i := range count.I {
		count.I[i] = 0
	}
	for i, e := range idx.I {
		if e < 0 || e >= int64(E) {
			return nil, fmt.Errorf("index %d at [%d, %d] is out of range for %d experts", e, i/k, i%k, E)
		}
		count.I[e]++
	}
	start := segments(count.I, B)
	if start[E] > len(slot.I) {
		return nil, fmt.Errorf("dispatch needs %d rows, the result has %d", start[E], len(slot.I))
	}
	for i := range slot.I {
		slot.I[i] = -1
	}
	fill := slices.Clone(start[:E]) // next free row of each segment
	for s, e := range idx.I {       // slots in order: stable within each expert
		slot.I[fill[e]] = int64(s)
		fill[e]++
	}
	return []*runtime.Tensor{slot, count}, nil
}

func kMoEGather(c *Context, op *ir.Op, args []*runtime.Tensor) ([]*runtime.Tensor, error) {
	x, slot := args[0], args[1]
	k64, _ := op.Attrs.Int("k")
	k := int(k64)
	N, d := x.Shape[0], x.Shape[1]
	out := c.Out(0)
	for r, s := range slot.I {
		dst := out.F[r*d : (r+1)*d]
		if s < 0 {
			clear(dst)
			continue
		}
		src := int(s) / k
		if src >= N {
			return nil, fmt.Errorf("slot %d at row %d reads row %d of %d", s, r, src, N)
		}
		copy(dst, x.F[src*d:(src+1)*d])
	}
	return one(out), nil
}

func kGroupedGEMM(c *Context, op *ir.Op, args []*runtime.Tensor) ([]*runtime.Tensor, error) {
	x, w, count := args[0], args[1], args[2]
	B64, _ := op.Attrs.Int("block")
	if len(w.Shape) != 3 || len(x.Shape) != 2 || x.Shape[1] != w.Shape[2] || len(count.I) != w.Shape[0] {
		return nil, fmt.Errorf("grouped_gemm of %v by %v with %d counts", x.Shape, w.Shape, len(count.I))
	}
	if w.Scale != nil {
		if err := checkScale(w); err != nil {
			return nil, err
		}
	}
	E, N, R := w.Shape[0], w.Shape[1], x.Shape[0]
	for e, n := range count.I {
		if n < 0 {
			return nil, fmt.Errorf("expert %d has %d rows", e, n)
		}
	}
	start := segments(count.I, int(B64))
	if start[E] > R {
		return nil, fmt.Errorf("counts need %d rows, x has %d", start[E], R)
	}
	out := c.Out(0)
	// Padding rows are zero; the GEMM writes only counted rows.
	for e := 0; e < E; e++ {
		clear(out.F[(start[e]+int(count.I[e]))*N : start[e+1]*N])
	}
	clear(out.F[start[E]*N:])
	// Quantize (FP8) only the counted rows' span: padding is never read.
	p := c.newExpertProduct(w, x.F, start[E])
	c.forExperts(E, start[E], func(e int) int { return int(count.I[e]) }, func(e, workers int) {
		lo, n := start[e], int(count.I[e])
		p.rows(e, lo, n, out.F[lo*N:(lo+n)*N], workers)
	})
	return one(out), nil
}

func kMoECombine(c *Context, op *ir.Op, args []*runtime.Tensor) ([]*runtime.Tensor, error) {
	rows, slot, w := args[0], args[1], args[2]
	T, k := w.Shape[0], w.Shape[1]
	d := rows.Shape[1]
	rowOf := make([]int, T*k)
	for i := range rowOf {
		rowOf[i] = -1
	}
	for r, s := range slot.I {
		if s < 0 {
			continue
		}
		if s >= int64(T*k) || rowOf[s] >= 0 {
			return nil, fmt.Errorf("slot %d at row %d is out of range or repeated", s, r)
		}
		rowOf[s] = r
	}
	for s, r := range rowOf {
		if r < 0 {
			return nil, fmt.Errorf("slot %d (token %d, choice %d) has no row", s, s/k, s%k)
		}
	}
	out := c.Out(0)
	// The sum of an axis-1 reduction: f64 accumulation of f32 products, in
	// j order, rounded once (kReduce's order, so the lowering is exact).
	c.parallel(T, max(1, elemGrain/max(d*k, 1)), func(lo, hi int) {
		acc := make([]float64, d)
		for t := lo; t < hi; t++ {
			clear(acc)
			for j := 0; j < k; j++ {
				wt := w.F[t*k+j]
				r := rows.F[rowOf[t*k+j]*d:][:d]
				for i, v := range r {
					acc[i] += float64(float32(wt * v))
				}
			}
			o := out.F[t*d : (t+1)*d]
			for i, a := range acc {
				o[i] = float32(a)
			}
		}
	})
	return one(out), nil
}
