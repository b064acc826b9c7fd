package cpu

import (
	"fmt"
	"math"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/runtime"
)

// Kernels of the gradient ops (ir/ops_grad.go). Sums run in f64 in a fixed
// order, so gradients do not depend on the worker count.

func init() {
	register(ir.OpScatterAdd, kScatterAdd)
	register(ir.OpGroupedLinearWGrad, kGroupedLinearWGrad)
	register(ir.OpAttentionGrad, kAttentionGrad)
}

func kScatterAdd(c *Context, op *ir.Op, args []*runtime.Tensor) ([]*runtime.Tensor, error) {
	base, idx, src := args[0], args[1], args[2]
	ax, err := attrAxis(op, len(base.Shape))
	if err != nil {
		return nil, err
	}
	outer, n, inner := split3(base.Shape, ax)
	_, m, _ := split3(src.Shape, ax)
	if len(idx.I) != len(src.F) || outer*m*inner != len(src.F) {
		return nil, fmt.Errorf("scatter_add of %v at %v into %v", src.Shape, idx.Shape, base.Shape)
	}
	for i, v := range idx.I {
		if v < 0 || v >= int64(n) {
			return nil, fmt.Errorf("index %d (element %d) is out of range for dim %d of %v", v, i, n, base.Shape)
		}
	}
	out := c.Out(0)
	// Each output element sums its sources in src order: parallel over
	// (outer, inner) columns, which no two workers share.
	c.parallel(outer*inner, max(1, elemGrain/max(n+m, 1)), func(lo, hi int) {
		acc := make([]float64, n)
		for col := lo; col < hi; col++ {
			o, i := col/inner, col%inner
			for j := 0; j < n; j++ {
				acc[j] = float64(base.F[(o*n+j)*inner+i])
			}
			for j := 0; j < m; j++ {
				p := (o*m+j)*inner + i
				acc[idx.I[p]] += float64(src.F[p])
			}
			for j := 0; j < n; j++ {
				out.F[(o*n+j)*inner+i] = float32(acc[j])
			}
		}
	})
	return one(out), nil
}

func kGroupedLinearWGrad(c *Context, op *ir.Op, args []*runtime.Tensor) ([]*runtime.Tensor, error) {
	x, g, idx := args[0], args[1], args[2]
	E64, err := attrInt(op, "experts")
	if err != nil {
		return nil, err
	}
	E := int(E64)
	T, k := idx.Shape[0], idx.Shape[1]
	N, K := g.Shape[2], x.Shape[len(x.Shape)-1]
	perSlot := len(x.Shape) == 3
	slots := make([][]int, E) // slots routed to each expert, in order
	for s, e := range idx.I {
		if e < 0 || e >= int64(E) {
			return nil, fmt.Errorf("index %d at [%d, %d] is out of range for %d experts", e, s/k, s%k, E)
		}
		slots[e] = append(slots[e], s)
	}
	out := c.Out(0)
	fp8, _ := op.Attrs.Bool("fp8")
	fp8 = fp8 && c.mode == FP8
	// dw[e] = G_eᵀ·X_e with G_e, X_e the gradient and input rows of the
	// slots routed to e: one GEMM per expert (f32 or f64 accumulation as
	// for any product; in FP8 both operands quantized per 128 slots).
	c.forExperts(E, T*k, func(e int) int { return len(slots[e]) }, func(e, workers int) {
		n := len(slots[e])
		rows := make([]int, n) // the rows of x the slots read
		for i, s := range slots[e] {
			rows[i] = s / k
			if perSlot {
				rows[i] = s
			}
		}
		dst := out.F[e*N*K : (e+1)*N*K]
		if !fp8 {
			// G_eᵀ and X_e read in place: A(o, i) = g[slot_i, o], B(i, j) = x[row_i, j].
			ge := matA{f: g.F, ld: N, rows: slots[e], trans: true}
			gemmA(workers, N, K, n, ge, &matB{f: x.F, ld: K, rows: rows}, dst, K, c.wide())
			return
		}
		gt := make([]float32, N*n) // G_eᵀ [N, n]
		xe := make([]float32, n*K) // X_e [n, K]
		for i, s := range slots[e] {
			for o := 0; o < N; o++ {
				gt[o*n+i] = g.F[s*N+o]
			}
			copy(xe[i*K:(i+1)*K], x.F[rows[i]*K:(rows[i]+1)*K])
		}
		// As a Linear's weight gradient (docs/model.md §5): G_eᵀ per 1×128 tile
		// and X_eᵀ per [1, 128] block, both along the slots.
		xt := &runtime.Tensor{DType: ir.F32, Shape: []int{K, n}, F: transposed(xe, n, K)}
		q, err := runtime.QuantizeBlocks(xt, [2]int{1, fp8Tile})
		if err != nil {
			panic(err) // shapes are checked above; the executor reports a panic
		}
		gemmFP8(workers, N, K, quantizeRows(workers, gt, N, n), weightB(q, 0, 0, ir.BF16), dst, K)
	})
	for e := 0; e < E; e++ { // experts nothing was routed to
		if len(slots[e]) == 0 {
			clear(out.F[e*N*K : (e+1)*N*K])
		}
	}
	return one(out), nil
}

// kAttentionGrad recomputes the probabilities and forms the gradients with
// GEMMs, one (sequence, key/value head) block at a time:
//
//	P = softmax(Q·Kᵀ·scale + mask)   dV = Pᵀ·G   dP = G·Vᵀ
//	dS = P ∘ (dP − rowsum(dP ∘ P))·scale   dQ = dS·K   dK = dSᵀ·Q
//
// The softmax runs in f64 per row; products accumulate as the mode's GEMM
// does (dK and dV over every query head of the group in one GEMM). Blocks
// write disjoint rows of the gradients.
func kAttentionGrad(c *Context, op *ir.Op, args []*runtime.Tensor) ([]*runtime.Tensor, error) {
	q, k, v, pos, seq, g := args[0], args[1], args[2], args[3], args[4], args[5]
	scale, mask, err := attnAttrs(op)
	if err != nil {
		return nil, err
	}
	if !kvShapes(q, k, v) || k.Shape[0] != q.Shape[0] {
		return nil, fmt.Errorf("attention_grad of q %v, k %v, v %v", q.Shape, k.Shape, v.Shape)
	}
	T, H, D := q.Shape[0], q.Shape[1], q.Shape[2]
	Hk, Dv := k.Shape[1], v.Shape[2]
	G := H / Hk // query heads per key/value head
	if len(pos.I) != T || len(seq.I) != T {
		return nil, fmt.Errorf("positions %v and sequence ids %v must have %d entries", pos.Shape, seq.Shape, T)
	}
	dq, dk, dv := c.Out(0), c.Out(1), c.Out(2)
	members := map[int64][]int{}
	var ids []int64
	for s, id := range seq.I {
		if _, ok := members[id]; !ok {
			ids = append(ids, id)
		}
		members[id] = append(members[id], s)
	}
	wide := c.wide()
	blocks := len(ids) * Hk
	inner := max(1, c.workers/max(blocks, 1)) // few blocks: parallel GEMMs
	c.parallel(blocks, 1, func(lo, hi int) {
		for blk := lo; blk < hi; blk++ {
			rows, hk := members[ids[blk/Hk]], blk%Hk
			n := len(rows)
			// The block's rows of q, k, v, g and of the gradients are
			// lines t·H + h (query side) and t·Hk + hk (key/value side) of
			// those tensors: the GEMMs gather and scatter them. The G query
			// heads reading key/value head hk are stacked (row h·n + i of
			// P and dS is head hk·G + h's row i), so dk and dv are one
			// GEMM each over all of them, accumulating as the mode does.
			kvLines := make([]int, n)
			for i, t := range rows {
				kvLines[i] = t*Hk + hk
			}
			qLines := make([]int, G*n)
			for h := 0; h < G; h++ {
				for i, t := range rows {
					qLines[h*n+i] = t*H + hk*G + h
				}
			}
			KT := &matB{f: k.F, ld: D, trans: true, rows: kvLines}
			VT := &matB{f: v.F, ld: Dv, trans: true, rows: kvLines}
			S, dP := make([]float32, n*n), make([]float32, n*n)
			P, dS := make([]float32, G*n*n), make([]float32, G*n*n)
			e := make([]float64, n)
			for h := 0; h < G; h++ {
				lines := qLines[h*n : (h+1)*n]
				Ph, dSh := P[h*n*n:(h+1)*n*n], dS[h*n*n:(h+1)*n*n]
				gemmA(inner, n, n, D, matA{f: q.F, ld: D, rows: lines}, KT, S, n, wide)
				for i := 0; i < n; i++ {
					mx := math.Inf(-1)
					for j := 0; j < n; j++ {
						if mask.Visible(pos.I[rows[i]], pos.I[rows[j]]) {
							mx = max(mx, float64(S[i*n+j])*scale)
						}
					}
					var sum float64
					clear(e)
					for j := 0; j < n; j++ {
						if mask.Visible(pos.I[rows[i]], pos.I[rows[j]]) {
							e[j] = expAny(float64(S[i*n+j])*scale - mx)
							sum += e[j]
						}
					}
					for j := 0; j < n; j++ {
						Ph[i*n+j] = float32(e[j] / sum)
					}
				}
				gemmA(inner, n, n, Dv, matA{f: g.F, ld: Dv, rows: lines}, VT, dP, n, wide)
				for i := 0; i < n; i++ {
					var r float64
					for j := 0; j < n; j++ {
						r += float64(dP[i*n+j]) * float64(Ph[i*n+j])
					}
					for j := 0; j < n; j++ {
						dSh[i*n+j] = float32(float64(Ph[i*n+j]) * (float64(dP[i*n+j]) - r) * scale)
					}
				}
				gemmAC(inner, n, D, n, matA{f: dSh, ld: n}, &matB{f: k.F, ld: D, rows: kvLines}, matC[float32]{f: dq.F, ld: D, rows: lines}, wide)
			}
			// dv = Σ_h P_hᵀ·g_h and dk = Σ_h dS_hᵀ·q_h: the stacked P and dS,
			// transposed, are [n, G·n].
			gemmAC(inner, n, Dv, G*n, matA{f: P, ld: n, trans: true}, &matB{f: g.F, ld: Dv, rows: qLines}, matC[float32]{f: dv.F, ld: Dv, rows: kvLines}, wide)
			gemmAC(inner, n, D, G*n, matA{f: dS, ld: n, trans: true}, &matB{f: q.F, ld: D, rows: qLines}, matC[float32]{f: dk.F, ld: D, rows: kvLines}, wide)
		}
	})
	return []*runtime.Tensor{dq, dk, dv}, nil
}

// transposed returns the [c, r] transpose of a row-major [r, c] matrix.
func transposed(a []float32, r, c int) []float32 {
	out := make([]float32, r*c)
	for i := 0; i < r; i++ {
		for j := 0; j < c; j++ {
			out[j*r+i] = a[i*c+j]
		}
	}
	return out
}

func init() { register(ir.OpAdamW, kAdamW) }

// kAdamW computes the update per element in f32, as PyTorch's AdamW does
// (with the bias corrections and their square root applied as factors).
// adamwVec, when set (AVX, arith_amd64.go), updates the longest multiple
// of 8 elements exactly as the loop in kAdamW does and returns how many.
var adamwVec func(p, g, m, v, np, nm, nv []float32, c *[10]float32) int

func kAdamW(c *Context, op *ir.Op, args []*runtime.Tensor) ([]*runtime.Tensor, error) {
	p, g, m, v := args[0], args[1], args[2], args[3]
	lr, bc1, bc2, gs := args[4].F[0], args[5].F[0], args[6].F[0], args[7].F[0]
	var at [4]float32
	for i, k := range []string{"beta1", "beta2", "eps", "decay"} {
		x, err := attrFloat(op, k)
		if err != nil {
			return nil, err
		}
		at[i] = float32(x)
	}
	b1, b2, eps, decay := at[0], at[1], at[2], at[3]
	c1, c2, ibc1, ibc2 := 1-b1, 1-b2, 1/bc1, 1/bc2
	np, nm, nv := c.Out(0), c.Out(1), c.Out(2)
	c.parallel(len(p.F), elemGrain, func(lo, hi int) {
		P, G, M, V := p.F[lo:hi], g.F[lo:hi], m.F[lo:hi], v.F[lo:hi]
		NP, NM, NV := np.F[lo:hi], nm.F[lo:hi], nv.F[lo:hi]
		if adamwVec != nil {
			k := adamwVec(P, G, M, V, NP, NM, NV, &[10]float32{gs, b1, c1, b2, c2, ibc2, eps, ibc1, decay, lr})
			P, G, M, V, NP, NM, NV = P[k:], G[k:], M[k:], V[k:], NP[k:], NM[k:], NV[k:]
		}
		for i := range P {
			gi := G[i] * gs
			mi := b1*M[i] + c1*gi
			vi := b2*V[i] + c2*gi*gi
			den := float32(math.Sqrt(float64(vi*ibc2))) + eps
			NP[i], NM[i], NV[i] = P[i]-lr*(mi*ibc1/den+decay*P[i]), mi, vi
		}
	})
	return []*runtime.Tensor{np, nm, nv}, nil
}

func init() { register(ir.OpQuantizeBlocks, kQuantizeBlocks) }

func kQuantizeBlocks(c *Context, op *ir.Op, args []*runtime.Tensor) ([]*runtime.Tensor, error) {
	b, ok := op.Attrs.Ints("block")
	if !ok || len(b) != 2 {
		return nil, fmt.Errorf("attribute block must be two integers")
	}
	q, err := runtime.QuantizeBlocks(args[0], [2]int{int(b[0]), int(b[1])})
	if err != nil {
		return nil, err
	}
	return one(q), nil
}
