package cpu

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/runtime"
)

// attention and attention_cache share one blocked implementation. Per
// sequence, queries are sorted by position and keys by key position, so a
// block of queries under a causal mask sees a prefix of the keys. For each
// block (and head, or all heads at once when one key/value head serves
// them all) it gathers Q, K and V rows, computes S = Q·Kᵀ with the GEMM,
// masks, takes the softmax of S·scale row by row in f64, and computes
// O = P·V with the GEMM. Scores come out of the GEMM in f64 in FP32 mode
// (f32 otherwise); probabilities are rounded to f32 before P·V.

func init() {
	register(ir.OpAttention, kAttention)
	register(ir.OpAttentionCache, kAttentionCache)
}

func attnAttrs(op *ir.Op) (scale float64, mask ir.AttentionMask, err error) {
	if scale, err = attrFloat(op, "scale"); err != nil {
		return 0, mask, err
	}
	mask, err = ir.AttentionMaskOf(op.Attrs)
	return scale, mask, err
}

// kvShapes checks q [T, H, dq] against k [N, Hk, dq], v [N, Hk, dv] with Hk
// dividing H.
func kvShapes(q, k, v *runtime.Tensor) bool {
	return len(q.Shape) == 3 && len(k.Shape) == 3 && len(v.Shape) == 3 && k.Shape[2] == q.Shape[2] &&
		k.Shape[0] == v.Shape[0] && k.Shape[1] == v.Shape[1] && k.Shape[1] > 0 && q.Shape[1]%k.Shape[1] == 0
}

func kAttention(c *Context, op *ir.Op, args []*runtime.Tensor) ([]*runtime.Tensor, error) {
	q, k, v, pos, seq := args[0], args[1], args[2], args[3], args[4]
	scale, mask, err := attnAttrs(op)
	if err != nil {
		return nil, err
	}
	if !kvShapes(q, k, v) || k.Shape[0] != q.Shape[0] {
		return nil, fmt.Errorf("attention of q %v, k %v, v %v", q.Shape, k.Shape, v.Shape)
	}
	T := q.Shape[0]
	if len(pos.I) != T || len(seq.I) != T {
		return nil, fmt.Errorf("positions %v and sequence ids %v must have %d entries", pos.Shape, seq.Shape, T)
	}
	out := c.Out(0)
	a := attn{q: q, k: k, v: v, qpos: pos.I, qseq: seq.I, kpos: pos.I, kseq: seq.I, scale: scale, mask: mask, out: out}
	a.run(c)
	return one(out), nil
}

func kAttentionCache(c *Context, op *ir.Op, args []*runtime.Tensor) ([]*runtime.Tensor, error) {
	q, k, v, pos, seq, kpos, kseq := args[0], args[1], args[2], args[3], args[4], args[5], args[6]
	scale, mask, err := attnAttrs(op)
	if err != nil {
		return nil, err
	}
	if !kvShapes(q, k, v) {
		return nil, fmt.Errorf("attention_cache of q %v over k %v, v %v", q.Shape, k.Shape, v.Shape)
	}
	T, C := q.Shape[0], k.Shape[0]
	if len(pos.I) != T || len(seq.I) != T || len(kpos.I) != C || len(kseq.I) != C {
		return nil, fmt.Errorf("positions and sequence ids must have %d (tokens) and %d (slots) entries", T, C)
	}
	out := c.Out(0)
	a := attn{q: q, k: k, v: v, qpos: pos.I, qseq: seq.I, kpos: kpos.I, kseq: kseq.I, scale: scale, mask: mask,
		freeSlots: true, out: out}
	a.run(c)
	return one(out), nil
}

type attn struct {
	q, k, v    *runtime.Tensor // [T, H, dq], [C, Hk, dq], [C, Hk, dv]
	qpos, qseq []int64
	kpos, kseq []int64
	scale      float64
	mask       ir.AttentionMask
	freeSlots  bool // keys with sequence id -1 are never visible
	out        *runtime.Tensor
}

// attnItem is one unit of work: queries qs (sorted by position) of one
// sequence against the keys ks (sorted by position) of key/value head hk,
// for every query head that reads it.
type attnItem struct {
	qs, ks []int
	hk     int
}

const attnBlock = 64 // queries per item

// attnScratch is a worker's buffers, kept between calls: decode runs the
// attention of every layer on every token.
type attnScratch struct {
	qb, kb, vb, pb, ob, s32 []float32
	s64                     []float64
}

var attnScratchPool = sync.Pool{New: func() any { return new(attnScratch) }}

func (a *attn) run(c *Context) {
	H, dq := a.q.Shape[1], a.q.Shape[2]
	Hk, dv := a.k.Shape[1], a.v.Shape[2]
	byPos := func(p []int64) func(i, j int) int {
		return func(i, j int) int { return cmp.Or(cmp.Compare(p[i], p[j]), cmp.Compare(i, j)) }
	}
	queries := map[int64][]int{}
	for t, s := range a.qseq {
		queries[s] = append(queries[s], t)
	}
	keys := map[int64][]int{}
	for s, id := range a.kseq {
		if a.freeSlots && id == -1 {
			continue
		}
		if _, ok := queries[id]; ok {
			keys[id] = append(keys[id], s)
		}
	}
	ids := make([]int64, 0, len(queries))
	for id := range queries {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var items []attnItem
	for _, id := range ids {
		qs, ks := queries[id], keys[id]
		slices.SortFunc(qs, byPos(a.qpos))
		slices.SortFunc(ks, byPos(a.kpos))
		for q0 := 0; q0 < len(qs); q0 += attnBlock {
			blk := qs[q0:min(q0+attnBlock, len(qs))]
			vis := a.visibleKeys(ks, a.qpos[blk[0]], a.qpos[blk[len(blk)-1]])
			for hk := 0; hk < Hk; hk++ {
				items = append(items, attnItem{qs: blk, ks: vis, hk: hk})
			}
		}
	}
	inner := 1
	if len(items) < c.workers {
		inner = max(1, c.workers/max(len(items), 1))
	}
	wide := c.wide()
	parallelFor(c.workers, len(items), 1, func(lo, hi int) {
		sc := attnScratchPool.Get().(*attnScratch)
		defer attnScratchPool.Put(sc)
		qb, kb, vb, pb, ob, s32, s64 := sc.qb, sc.kb, sc.vb, sc.pb, sc.ob, sc.s32, sc.s64
		defer func() { *sc = attnScratch{qb, kb, vb, pb, ob, s32, s64} }()
		grow := func(b []float32, n int) []float32 {
			if cap(b) < n {
				return make([]float32, n)
			}
			return b[:n]
		}
		heads := make([]int, H/Hk)
		for _, it := range items[lo:hi] {
			for j := range heads { // the query heads that read key/value head it.hk
				heads[j] = it.hk*len(heads) + j
			}
			m, n := len(it.qs)*len(heads), len(it.ks)
			// Rows of Q in (query, head) order; the row's query is it.qs[r/len(heads)].
			qb = grow(qb, m*dq)
			for i, t := range it.qs {
				for j, h := range heads {
					copy(qb[(i*len(heads)+j)*dq:], a.q.F[(t*H+h)*dq:(t*H+h+1)*dq])
				}
			}
			ob = grow(ob, m*dv)
			if n == 0 {
				clear(ob)
			} else {
				hk := it.hk
				kb, vb = grow(kb, n*dq), grow(vb, n*dv)
				for j, s := range it.ks {
					copy(kb[j*dq:(j+1)*dq], a.k.F[(s*Hk+hk)*dq:(s*Hk+hk+1)*dq])
					copy(vb[j*dv:(j+1)*dv], a.v.F[(s*Hk+hk)*dv:(s*Hk+hk+1)*dv])
				}
				kmat := &matB{f: kb, ld: dq, trans: true}
				pb = grow(pb, m*n)
				if wide {
					if cap(s64) < m*n {
						s64 = make([]float64, m*n)
					}
					s64 = s64[:m*n]
					gemmT[float64](inner, m, n, dq, matA{f: qb, ld: dq}, kmat, matC[float64]{f: s64, ld: n})
					for r := 0; r < m; r++ {
						softmaxRow(a, s64[r*n:(r+1)*n], pb[r*n:(r+1)*n], it.qs[r/len(heads)], it.ks)
					}
				} else {
					s32 = grow(s32, m*n)
					gemmT[float32](inner, m, n, dq, matA{f: qb, ld: dq}, kmat, matC[float32]{f: s32, ld: n})
					for r := 0; r < m; r++ {
						softmaxRow(a, s32[r*n:(r+1)*n], pb[r*n:(r+1)*n], it.qs[r/len(heads)], it.ks)
					}
				}
				gemm(inner, m, dv, n, pb, n, &matB{f: vb, ld: dv}, ob, dv, wide)
			}
			for i, t := range it.qs {
				for j, h := range heads {
					copy(a.out.F[(t*H+h)*dv:(t*H+h+1)*dv], ob[(i*len(heads)+j)*dv:(i*len(heads)+j+1)*dv])
				}
			}
		}
	})
}

// softmaxRow turns the scores of query t against keys ks into
// probabilities p (0 for masked keys), in f64. A query that sees no key
// gets all zeros (and so a zero output).
func softmaxRow[S float](a *attn, s []S, p []float32, t int, ks []int) {
	m := math.Inf(-1)
	// Keys are sorted by position: the visible ones are a run [lo, n).
	lo, n := a.visibleRun(ks, a.qpos[t], a.qpos[t])
	clear(p[:lo])
	s, p = s[lo:n], p[lo:]
	n -= lo
	for j := 0; j < n; j++ {
		m = max(m, float64(s[j])*a.scale)
	}
	var sum float64
	e := s[:n] // reuse the scores' storage for the exponentials
	for j := 0; j < n; j++ {
		x := expAny(float64(s[j])*a.scale - m)
		e[j] = S(x)
		sum += x
	}
	for j := 0; j < n; j++ {
		p[j] = float32(float64(e[j]) / sum)
	}
	clear(p[n:])
}

// visibleRun returns the run ks[lo:hi] (ks sorted by position) of keys that
// a query at some position in [first, last] may see: after first's window
// and, when causal, at or before last.
func (a *attn) visibleRun(ks []int, first, last int64) (lo, hi int) {
	after := func(p int64) int { // the first key past position p
		i, _ := slices.BinarySearchFunc(ks, p, func(k int, p int64) int {
			if a.kpos[k] <= p {
				return -1
			}
			return 1
		})
		return i
	}
	hi = len(ks)
	if a.mask.Causal {
		hi = after(last)
	}
	if a.mask.Window > 0 {
		if first > math.MinInt64+a.mask.Window { // else every key is within the window
			lo = min(after(first-a.mask.Window), hi)
		}
	}
	return lo, hi
}

func (a *attn) visibleKeys(ks []int, first, last int64) []int {
	lo, hi := a.visibleRun(ks, first, last)
	return ks[lo:hi]
}
