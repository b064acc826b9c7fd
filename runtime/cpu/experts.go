package cpu

import "github.com/deepc-dev/deepc/runtime"

// expertProduct multiplies rows of an activation by one expert's slice of
// stacked weights w [E, N, K] — the inner step of grouped_linear and
// grouped_gemm. On the FP8 path the activation is quantized once, per
// 1 x 128 tile of each row, so a row's product does not depend on which
// other rows share its GEMM.
type expertProduct struct {
	c        *Context
	w        *runtime.Tensor
	x        []float32 // rows of K values
	qx       *quantRows
	N, K     int
	wsz, ssz int // elements per expert of w and of its scales
}

func (c *Context) newExpertProduct(w *runtime.Tensor, x []float32, rows int) *expertProduct {
	N, K := w.Shape[1], w.Shape[2]
	p := &expertProduct{c: c, w: w, x: x, N: N, K: K, wsz: N * K}
	if w.Scale != nil {
		p.ssz = ceilDiv(N, w.Block[0]) * ceilDiv(K, w.Block[1])
	}
	if c.useFP8(w) {
		p.qx = quantizeRows(c.workers, x, rows, K)
	}
	return p
}

// weight returns expert e's weight for a product with rows rows.
func (p *expertProduct) weight(e, rows int) *matB {
	if src, ok := p.c.transposed(p.w); ok { // src [E, K, N]: B(k, n) = src[e][k·N + n]
		f := src.F[e*p.wsz : (e+1)*p.wsz]
		if rows >= gemvMaxRows {
			return &matB{f: f, ld: p.N}
		}
		// The gemv path reads the weight layout (transposed.go).
		return &matB{f: transposed(f, p.K, p.N), ld: p.K, trans: true}
	}
	return weightB(p.w, e*p.wsz, e*p.ssz, p.c.mode.dequantDType())
}

// rows computes y (n rows of N) from the n consecutive rows starting at lo.
func (p *expertProduct) rows(e, lo, n int, y []float32, workers int) {
	if n == 0 {
		return
	}
	K := p.K
	if q := p.qx; q != nil {
		part := &quantRows{q: q.q[lo*K:], s: q.s[lo*q.tiles:], K: K, tiles: q.tiles, stride: q.stride}
		gemmFP8(workers, n, p.N, part, p.weight(e, n), y, p.N)
		return
	}
	gemm(workers, n, p.N, K, p.x[lo*K:(lo+n)*K], K, p.weight(e, n), y, p.N, p.c.wide())
}

// gathered computes the rows src of x times expert e's weight into the
// rows dst of out (N wide).
func (p *expertProduct) gathered(e int, src, dst []int, out []float32, workers int) {
	n, K := len(src), p.K
	if n == 0 {
		return
	}
	if q := p.qx; q != nil {
		g := &quantRows{q: make([]float32, n*K), s: make([]float32, n*q.tiles), K: K, tiles: q.tiles, stride: K}
		for i, r := range src {
			copy(g.q[i*K:(i+1)*K], q.q[r*K:(r+1)*K])
			copy(g.s[i*q.tiles:(i+1)*q.tiles], q.s[r*q.tiles:(r+1)*q.tiles])
		}
		y := make([]float32, n*p.N)
		gemmFP8(workers, n, p.N, g, p.weight(e, n), y, p.N)
		for i, d := range dst {
			copy(out[d*p.N:(d+1)*p.N], y[i*p.N:(i+1)*p.N])
		}
		return
	}
	gemmAC(workers, n, p.N, K, matA{f: p.x, ld: K, rows: src}, p.weight(e, n), matC[float32]{f: out, ld: p.N, rows: dst}, p.c.wide())
}

// forExperts runs fn for each of E experts with work (count(e) rows out of
// total). An expert with more than half a worker's share of the rows gets
// all workers, one such expert at a time; the others run side by side, one
// worker each, handed out as workers free up. Per-expert GEMMs of a few
// hundred rows split across workers spend much of their time packing and
// waiting, so whole experts per worker are faster wherever loads allow.
func (c *Context) forExperts(E, total int, count func(e int) int, fn func(e, workers int)) {
	var light []int
	for e := 0; e < E; e++ {
		switch n := count(e); {
		case n == 0:
		case c.workers > 1 && 2*n*c.workers > total:
			fn(e, c.workers)
		default:
			light = append(light, e)
		}
	}
	c.parallel(len(light), 1, func(lo, hi int) {
		for _, e := range light[lo:hi] {
			fn(e, 1)
		}
	})
}
