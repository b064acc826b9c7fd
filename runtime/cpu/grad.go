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
	register("scatter_add", kScatterAdd)
	register("grouped_linear_wgrad", kGroupedLinearWGrad)
	register("attention_grad", kAttentionGrad)
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
	// dw[e] = G_eᵀ·X_e with G_e, X_e the gradient and input rows of the
	// slots routed to e: one GEMM per expert (f32 or f64 accumulation as
	// for any product).
	c.forExperts(E, T*k, func(e int) int { return len(slots[e]) }, func(e, workers int) {
		n := len(slots[e])
		gt := make([]float32, N*n) // G_eᵀ [N, n]
		xe := make([]float32, n*K) // X_e [n, K]
		for i, s := range slots[e] {
			for o := 0; o < N; o++ {
				gt[o*n+i] = g.F[s*N+o]
			}
			row := s / k
			if perSlot {
				row = s
			}
			copy(xe[i*K:(i+1)*K], x.F[row*K:(row+1)*K])
		}
		gemm(workers, N, K, n, gt, n, &matB{f: xe, ld: K}, out.F[e*N*K:(e+1)*N*K], K, c.wide())
	})
	for e := 0; e < E; e++ { // experts nothing was routed to
		if len(slots[e]) == 0 {
			clear(out.F[e*N*K : (e+1)*N*K])
		}
	}
	return one(out), nil
}

// kAttentionGrad recomputes each query's softmax and accumulates
// dq, dk, dv in f64, one head per worker at a time (heads write disjoint
// parts of the gradients).
func kAttentionGrad(c *Context, op *ir.Op, args []*runtime.Tensor) ([]*runtime.Tensor, error) {
	q, k, v, pos, seq, g := args[0], args[1], args[2], args[3], args[4], args[5]
	scale, causal, err := attnAttrs(op)
	if err != nil {
		return nil, err
	}
	T, H, D := q.Shape[0], q.Shape[1], q.Shape[2]
	Dv := v.Shape[2]
	if len(pos.I) != T || len(seq.I) != T {
		return nil, fmt.Errorf("positions %v and sequence ids %v must have %d entries", pos.Shape, seq.Shape, T)
	}
	dq, dk, dv := c.Out(0), c.Out(1), c.Out(2)
	// Each query scans only its own sequence's tokens.
	members := map[int64][]int{}
	for s, id := range seq.I {
		members[id] = append(members[id], s)
	}
	visible := func(t, s int) bool { return !causal || pos.I[s] <= pos.I[t] }
	c.parallel(H, 1, func(lo, hi int) {
		p := make([]float64, T)
		dp := make([]float64, T)
		accK := make([]float64, T*D)
		accV := make([]float64, T*Dv)
		accQ := make([]float64, D)
		for h := lo; h < hi; h++ {
			clear(accK)
			clear(accV)
			qrow := func(t int) []float32 { return q.F[(t*H+h)*D : (t*H+h+1)*D] }
			krow := func(s int) []float32 { return k.F[(s*H+h)*D : (s*H+h+1)*D] }
			vrow := func(s int) []float32 { return v.F[(s*H+h)*Dv : (s*H+h+1)*Dv] }
			for t := 0; t < T; t++ {
				qt, gt := qrow(t), g.F[(t*H+h)*Dv:(t*H+h+1)*Dv]
				ss := members[seq.I[t]]
				mx := math.Inf(-1)
				for _, s := range ss {
					if !visible(t, s) {
						continue
					}
					var d float64
					for i, kv := range krow(s) {
						d += float64(qt[i]) * float64(kv)
					}
					p[s] = d * scale
					mx = max(mx, p[s])
				}
				var sum float64
				for _, s := range ss {
					if visible(t, s) {
						p[s] = math.Exp(p[s] - mx)
						sum += p[s]
					}
				}
				// dp = g·v; ds = p·(dp − Σ p·dp)
				var pdp float64
				for _, s := range ss {
					if !visible(t, s) {
						continue
					}
					p[s] /= sum
					var d float64
					for i, vv := range vrow(s) {
						d += float64(gt[i]) * float64(vv)
					}
					dp[s] = d
					pdp += p[s] * d
				}
				clear(accQ)
				for _, s := range ss {
					if !visible(t, s) {
						continue
					}
					for i, gv := range gt {
						accV[s*Dv+i] += p[s] * float64(gv)
					}
					ds := p[s] * (dp[s] - pdp) * scale
					for i, kv := range krow(s) {
						accQ[i] += ds * float64(kv)
					}
					for i, qv := range qt {
						accK[s*D+i] += ds * float64(qv)
					}
				}
				for i, a := range accQ {
					dq.F[(t*H+h)*D+i] = float32(a)
				}
			}
			for s := 0; s < T; s++ {
				for i := 0; i < D; i++ {
					dk.F[(s*H+h)*D+i] = float32(accK[s*D+i])
				}
				for i := 0; i < Dv; i++ {
					dv.F[(s*H+h)*Dv+i] = float32(accV[s*Dv+i])
				}
			}
		}
	})
	return []*runtime.Tensor{dq, dk, dv}, nil
}

func init() { register("adamw", kAdamW) }

// kAdamW computes the update in f64 per element, rounding the results.
func kAdamW(c *Context, op *ir.Op, args []*runtime.Tensor) ([]*runtime.Tensor, error) {
	p, g, m, v := args[0], args[1], args[2], args[3]
	lr, bc1, bc2, gs := float64(args[4].F[0]), float64(args[5].F[0]), float64(args[6].F[0]), float64(args[7].F[0])
	var at [4]float64
	for i, k := range []string{"beta1", "beta2", "eps", "decay"} {
		x, err := attrFloat(op, k)
		if err != nil {
			return nil, err
		}
		at[i] = x
	}
	b1, b2, eps, decay := at[0], at[1], at[2], at[3]
	np, nm, nv := c.Out(0), c.Out(1), c.Out(2)
	c.parallel(len(p.F), elemGrain, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			gi := float64(g.F[i]) * gs
			mi := b1*float64(m.F[i]) + (1-b1)*gi
			vi := b2*float64(v.F[i]) + (1-b2)*gi*gi
			pi := float64(p.F[i])
			step := (mi/bc1)/(math.Sqrt(vi/bc2)+eps) + decay*pi
			np.F[i], nm.F[i], nv.F[i] = float32(pi-lr*step), float32(mi), float32(vi)
		}
	})
	return []*runtime.Tensor{np, nm, nv}, nil
}

func init() { register("quantize_blocks", kQuantizeBlocks) }

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
