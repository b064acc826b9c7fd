package cpu

import (
	"fmt"
	"math"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/runtime"
)

// attention and attention_cache: per (token, head), scores q·k·scale over
// the visible keys, softmax, weighted sum of v; all in f64, parallel over
// (token, head).

func init() {
	register("attention", kAttention)
	register("attention_cache", kAttentionCache)
}

func attnAttrs(op *ir.Op) (scale float64, causal bool, err error) {
	scale, err = attrFloat(op, "scale")
	causal = true
	if v, ok := op.Attrs["causal"]; ok {
		b, ok := v.(bool)
		if !ok {
			return 0, false, fmt.Errorf("attribute causal must be a bool")
		}
		causal = b
	}
	return scale, causal, err
}

// attend computes one output row o[dv] = Σ_s softmax(q·k_s·scale) v_s over
// the key rows at k[kOffs[j]+kh:] and value rows at v[vOffs[j]+vh:].
func attend(q []float32, k, v []float32, kOffs, vOffs []int, kh, vh int, scale float64, o []float32, sc []float64, acc []float64) {
	dq, dv := len(q), len(o)
	if len(kOffs) == 0 {
		clear(o)
		return
	}
	m := math.Inf(-1)
	for j, off := range kOffs {
		kr := k[off+kh : off+kh+dq]
		var dot float64
		for i, qv := range q {
			dot += float64(qv) * float64(kr[i])
		}
		sc[j] = dot * scale
		m = max(m, sc[j])
	}
	var sum float64
	clear(acc[:dv])
	for j, off := range vOffs {
		p := math.Exp(sc[j] - m)
		sum += p
		vr := v[off+vh : off+vh+dv]
		for i, vv := range vr {
			acc[i] += p * float64(vv)
		}
	}
	for i := range o {
		o[i] = float32(acc[i] / sum)
	}
}

func kAttention(c *Context, op *ir.Op, args []*runtime.Tensor) ([]*runtime.Tensor, error) {
	q, k, v, pos, seq := args[0], args[1], args[2], args[3], args[4]
	scale, causal, err := attnAttrs(op)
	if err != nil {
		return nil, err
	}
	if len(q.Shape) != 3 || len(k.Shape) != 3 || len(v.Shape) != 3 || q.Shape[0] != k.Shape[0] ||
		q.Shape[1] != k.Shape[1] || q.Shape[2] != k.Shape[2] || v.Shape[0] != q.Shape[0] || v.Shape[1] != q.Shape[1] {
		return nil, fmt.Errorf("attention of q %v, k %v, v %v", q.Shape, k.Shape, v.Shape)
	}
	T, H, dq, dv := q.Shape[0], q.Shape[1], q.Shape[2], v.Shape[2]
	if len(pos.I) != T || len(seq.I) != T {
		return nil, fmt.Errorf("positions %v and sequence ids %v must have %d entries", pos.Shape, seq.Shape, T)
	}
	members := map[int64][]int{} // tokens of each sequence, in packing order
	for t, s := range seq.I {
		members[s] = append(members[s], t)
	}
	out := c.Out(0)
	c.parallel(T*H, max(1, H), func(lo, hi int) {
		var kOffs, vOffs []int
		sc := make([]float64, 0)
		acc := make([]float64, dv)
		last := -1
		for th := lo; th < hi; th++ {
			t, h := th/H, th%H
			if t != last { // the visible keys of token t
				kOffs, vOffs = kOffs[:0], vOffs[:0]
				for _, s := range members[seq.I[t]] {
					if !causal || pos.I[s] <= pos.I[t] {
						kOffs = append(kOffs, s*H*dq)
						vOffs = append(vOffs, s*H*dv)
					}
				}
				if cap(sc) < len(kOffs) {
					sc = make([]float64, len(kOffs))
				}
				sc = sc[:len(kOffs)]
				last = t
			}
			attend(q.F[(t*H+h)*dq:(t*H+h+1)*dq], k.F, v.F, kOffs, vOffs, h*dq, h*dv, scale, out.F[(t*H+h)*dv:(t*H+h+1)*dv], sc, acc)
		}
	})
	return one(out), nil
}

func kAttentionCache(c *Context, op *ir.Op, args []*runtime.Tensor) ([]*runtime.Tensor, error) {
	q, k, v, pos, seq, kpos, kseq := args[0], args[1], args[2], args[3], args[4], args[5], args[6]
	scale, causal, err := attnAttrs(op)
	if err != nil {
		return nil, err
	}
	if len(q.Shape) != 3 || len(k.Shape) != 3 || len(v.Shape) != 3 || k.Shape[2] != q.Shape[2] ||
		k.Shape[0] != v.Shape[0] || k.Shape[1] != v.Shape[1] || (k.Shape[1] != q.Shape[1] && k.Shape[1] != 1) {
		return nil, fmt.Errorf("attention_cache of q %v over k %v, v %v", q.Shape, k.Shape, v.Shape)
	}
	T, H, dq, dv := q.Shape[0], q.Shape[1], q.Shape[2], v.Shape[2]
	C, Hk := k.Shape[0], k.Shape[1]
	if len(pos.I) != T || len(seq.I) != T || len(kpos.I) != C || len(kseq.I) != C {
		return nil, fmt.Errorf("positions and sequence ids must have %d (tokens) and %d (slots) entries", T, C)
	}
	slots := map[int64][]int{} // occupied slots of each sequence
	for s, id := range kseq.I {
		if id != -1 {
			slots[id] = append(slots[id], s)
		}
	}
	out := c.Out(0)
	c.parallel(T*H, max(1, H), func(lo, hi int) {
		var kOffs, vOffs []int
		var sc []float64
		acc := make([]float64, dv)
		last := -1
		for th := lo; th < hi; th++ {
			t, h := th/H, th%H
			hk := h
			if Hk == 1 {
				hk = 0
			}
			if t != last {
				kOffs, vOffs = kOffs[:0], vOffs[:0]
				if seq.I[t] != -1 {
					for _, s := range slots[seq.I[t]] {
						if !causal || kpos.I[s] <= pos.I[t] {
							kOffs = append(kOffs, s*Hk*dq)
							vOffs = append(vOffs, s*Hk*dv)
						}
					}
				}
				if cap(sc) < len(kOffs) {
					sc = make([]float64, len(kOffs))
				}
				sc = sc[:len(kOffs)]
				last = t
			}
			attend(q.F[(t*H+h)*dq:(t*H+h+1)*dq], k.F, v.F, kOffs, vOffs, hk*dq, hk*dv, scale, out.F[(t*H+h)*dv:(t*H+h+1)*dv], sc, acc)
		}
	})
	return one(out), nil
}
