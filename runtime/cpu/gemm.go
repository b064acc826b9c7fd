package cpu

import (
	"sync"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/runtime"
)

// The GEMM behind linear, matmul and grouped_linear:
//
//	out[i*ldc + j] = Σ_k A(i, k) · B(k, j)    i < M, j < N, k < K
//
// It is cache-blocked in the usual way (Goto/BLIS): the output is cut into
// mc x nc tiles handed to the workers; for each block of kc elements of K a
// worker packs the tile's rows of A into mr-row strips and its columns of B
// into nr-column strips (converting to the accumulator type, and
// dequantising block-quantized weights on the way), then runs an mr x nr
// register-tile kernel over every pair of strips, keeping the tile's
// accumulators in a scratch buffer across K blocks. A B strip (kc·nr
// values) stays in L1 while the A panel (mc·kc) streams from L2.
//
// The accumulator type is f64 in FP32 mode and f32 otherwise; f32 sums run
// sequentially in k within a K block, and the blocks are added in order.

const (
	kcBlock = 256
	mcBlock = 96 // a multiple of every kernel's mr
	ncBlock = 256
)

// microKernel adds the product of an A strip (kc x mr, packed k-major) and
// a B strip (kc x nr) to the mr x nr block of c with row stride ldc. Every
// element is a sum in k order (with or without fused multiply-adds).
type microKernel[T float] struct {
	mr, nr int
	fn     func(kc int, a, b, c []T, ldc int)
	name   string
}

// The kernels in use: portable Go 4x4 kernels, replaced at init by
// assembly kernels where the CPU has them (gemm_amd64.go).
var (
	kernF32 = microKernel[float32]{4, 4, micro4x4[float32], "go 4x4"}
	kernF64 = microKernel[float64]{4, 4, micro4x4[float64], "go 4x4"}
	goF32   = kernF32
	goF64   = kernF64
)

// gemvF32 and gemvF64, when set (gemm_amd64.go), compute four dot products
// of x with consecutive rows of a weight (row stride ldw): the GEMM's path
// for a few rows (decode), which reads the weight once without packing.
var (
	gemvF32 func(x, w []float32, ldw int, out *[4]float32)
	gemvF64 func(x, w []float32, ldw int, out *[4]float64)
	// gemvSeqF32, when set, is gemvF32 for up to four rows of A (xs: M
	// rows of K values) over many weight rows (out: M rows of len(out)/M),
	// reading the weight once and in address order (see dotRows): decode
	// streams its weights from memory, and the hardware prefetcher follows
	// one stream better than four short ones. It gives each output the
	// bits gemvF32 gives it.
	gemvSeqF32 func(xs []float32, M int, w []float32, ldw int, out []float32)
)

// gemvSmall computes out = A·B for M < gemvMaxRows rows against a weight
// B (trans layout) with the gemv kernels, dequantising a block-quantized
// weight four rows at a time (so a weight takes the same path, and gives
// the same bits, quantized or dequantised beforehand); false when the
// kernels are not available.
func gemvSmall[T float](workers, M, N, K int, a matA, b *matB, c matC[float32]) bool {
	var zero T
	var gemv func(x, w []float32, ldw int, out *[4]T)
	switch any(zero).(type) {
	case float32:
		if gemvF32 != nil {
			gemv = any(gemvF32).(func(x, w []float32, ldw int, out *[4]T))
		}
	default:
		if gemvF64 != nil {
			gemv = any(gemvF64).(func(x, w []float32, ldw int, out *[4]T))
		}
	}
	if gemv == nil || K == 0 {
		return false
	}
	if a.trans { // the gemv kernels read rows: gather A's few columns
		rows := make([]float32, M*K)
		for k := 0; k < K; k++ {
			r := a.line(k)
			for i, v := range a.f[r*a.ld : r*a.ld+M] {
				rows[i*K+k] = v
			}
		}
		a = matA{f: rows, ld: K}
	}
	groups := ceilDiv(N, 4)
	if _, f32 := any(zero).(float32); f32 && M <= 4 && b.scale == nil && gemvSeqF32 != nil {
		// A's rows packed, K apart (gemvSeqF32's layout); one row is
		// its own packing, and its results go straight to C.
		xs := a.row(0)[:K]
		if M > 1 {
			xs = make([]float32, M*K)
			for m := range M {
				copy(xs[m*K:], a.row(m)[:K])
			}
		}
		full := N / 4 * 4 // rows gemvF32 would take four at a time
		parallelFor(workers, groups, max(1, 8192/K), func(lo, hi int) {
			n0, n1 := lo*4, min(hi*4, full)
			switch {
			case n1 <= n0:
			case M == 1:
				gemvSeqF32(xs, 1, b.f[n0*b.ld:], b.ld, c.f[c.line(0)*c.ld+n0:][:n1-n0])
			default:
				out := make([]float32, M*(n1-n0))
				gemvSeqF32(xs, M, b.f[n0*b.ld:], b.ld, out)
				for m := range M {
					copy(c.f[c.line(m)*c.ld+n0:], out[m*(n1-n0):(m+1)*(n1-n0)])
				}
			}
			for n := max(n0, full); n < min(hi*4, N); n++ { // the last rows, as below
				row := b.f[n*b.ld : n*b.ld+K]
				for m := range M {
					var s T
					for k, v := range xs[m*K : (m+1)*K] {
						s += T(v) * T(row[k])
					}
					c.f[c.line(m)*c.ld+n] = float32(s)
				}
			}
		})
		return true
	}
	parallelFor(workers, groups, max(1, 8192/K), func(lo, hi int) {
		var o [4]T
		var deq []float32 // a block-quantized weight's four rows, dequantised
		if b.scale != nil {
			deq = make([]float32, 4*K)
		}
		for g := lo; g < hi; g++ {
			n0 := g * 4
			w, ldw := b.f[n0*b.ld:], b.ld
			if deq != nil { // the values packB would give the blocked kernels
				for r := 0; r < min(4, N-n0); r++ {
					for k := range K {
						deq[r*K+k] = b.at(k, n0+r)
					}
				}
				w, ldw = deq, K
			}
			for m := 0; m < M; m++ {
				x := a.row(m)[:K]
				out := c.f[c.line(m)*c.ld:]
				if n0+4 <= N {
					gemv(x, w, ldw, &o)
					for r := 0; r < 4; r++ {
						out[n0+r] = float32(o[r])
					}
					continue
				}
				for n := n0; n < N; n++ { // the last rows
					var s T
					row := w[(n-n0)*ldw : (n-n0)*ldw+K]
					for k, v := range x {
						s += T(v) * T(row[k])
					}
					out[n] = float32(s)
				}
			}
		}
	})
	return true
}

// gemvMaxRows is the row count below which the GEMM takes the gemv path.
// Up to 16 rows the gemv kernels (four weight rows, reused from L1 for each
// row of A) beat packing the whole weight for the blocked GEMM: decode with
// a batch of up to 16 sequences never repacks a weight.
const gemvMaxRows = 17

func kernelFor[T float]() *microKernel[T] {
	var zero T
	switch any(zero).(type) {
	case float32:
		return any(&kernF32).(*microKernel[T])
	default:
		return any(&kernF64).(*microKernel[T])
	}
}

// matB describes the right-hand operand.
type matB struct {
	f     []float32
	ld    int
	trans bool // element (k, n) at f[n*ld + k] (a weight [N, K]); else at f[k*ld + n]
	// rows, when set, gathers the lines of f: element (k, n) at
	// f[rows[k]*ld + n], or at f[rows[n]*ld + k] when transposed (no
	// scales then).
	rows []int
	// Block quantization (trans layout only): the value is
	// f[...] · scale[(n/b0)*sld + k/b1], rounded to deq.
	scale  []float32
	sld    int
	b0, b1 int
	deq    ir.DType
	// src and off: the weight tensor f comes from (f = src.F[off:]), when
	// B is a weight, so its packed form can be kept (prepack.go).
	src *runtime.Tensor
	off int
}

// at returns B(k, n) (dequantised); for tests and edge paths.
func (b *matB) at(k, n int) float32 {
	if b.trans {
		v := b.f[n*b.ld+k]
		if b.scale != nil {
			v = runtime.RoundTo(b.deq, v*b.scale[(n/b.b0)*b.sld+k/b.b1])
		}
		return v
	}
	return b.f[k*b.ld+n]
}

// weightB describes a weight w [N, K] (rows of f starting at off) with
// optional block scales (the scales of that matrix, starting at soff).
func weightB(w *runtime.Tensor, off, soff int, deq ir.DType) *matB {
	r := len(w.Shape)
	K := w.Shape[r-1]
	b := &matB{f: w.F[off:], ld: K, trans: true, src: w, off: off}
	if w.Scale != nil {
		b.scale = w.Scale.F[soff:]
		b.b0, b.b1 = w.Block[0], w.Block[1]
		b.sld = ceilDiv(K, b.b1)
		b.deq = deq
	}
	return b
}

type float interface{ ~float32 | ~float64 }

type scratch[T float] struct{ ap, bp, acc, edge []T }

var pools = struct{ f32, f64 sync.Pool }{}

func getScratch[T float]() *scratch[T] {
	var zero T
	var p *sync.Pool
	if _, ok := any(zero).(float32); ok {
		p = &pools.f32
	} else {
		p = &pools.f64
	}
	if s, ok := p.Get().(*scratch[T]); ok {
		return s
	}
	return &scratch[T]{
		ap:   make([]T, mcBlock*kcBlock),
		bp:   make([]T, kcBlock*ncBlock),
		acc:  make([]T, mcBlock*ncBlock),
		edge: make([]T, maxStrip*maxStrip),
	}
}

func putScratch[T float](s *scratch[T]) {
	var zero T
	if _, ok := any(zero).(float32); ok {
		pools.f32.Put(s)
	} else {
		pools.f64.Put(s)
	}
}

func roundUp(n, m int) int { return (n + m - 1) / m * m }

// tiling picks the tile sizes for an M x N product on the given workers:
// full-size tiles when there are enough of them, narrower column tiles
// when M is small (decode) so every worker gets work.
func tiling(M, N, workers, mr, nr int) (mc, nc int) {
	mc = min(mcBlock, roundUp(M, mr))
	nc = ncBlock
	mt := ceilDiv(M, mc)
	if want := 2 * workers; mt*ceilDiv(N, nc) < want {
		nt := ceilDiv(want, mt)
		nc = max(2*nr, roundUp(ceilDiv(N, nt), nr))
		nc = min(nc, ncBlock)
	}
	return mc, nc
}

// gemm computes out = A·B (A row-major with leading dimension lda),
// accumulating in f64 when wide is set and in f32 otherwise.
func gemm(workers, M, N, K int, a []float32, lda int, b *matB, out []float32, ldc int, wide bool) {
	gemmA(workers, M, N, K, matA{f: a, ld: lda}, b, out, ldc, wide)
}

func gemmA(workers, M, N, K int, a matA, b *matB, out []float32, ldc int, wide bool) {
	gemmAC(workers, M, N, K, a, b, matC[float32]{f: out, ld: ldc}, wide)
}

// gemmAC is gemmA with the output's rows possibly scattered.
func gemmAC(workers, M, N, K int, a matA, b *matB, out matC[float32], wide bool) {
	if wide {
		gemmT[float64](workers, M, N, K, a, b, out)
	} else {
		gemmT[float32](workers, M, N, K, a, b, out)
	}
}

// matA is the left operand: row i at f[i·ld:]; or, when trans is set,
// A(i, k) = f[k·ld + i]. rows, when set, gathers the lines of f: row i
// at f[rows[i]·ld:], or A(i, k) = f[rows[k]·ld + i] when transposed.
type matA struct {
	f     []float32
	ld    int
	rows  []int
	trans bool
}

// line returns the index of A's i-th line in f (a row, or a k-line when
// transposed).
func (a matA) line(i int) int { return lineOf(a.rows, i) }

// lineOf is line i of an operand whose lines rows gathers (nil: line i).
func lineOf(rows []int, i int) int {
	if rows != nil {
		return rows[i]
	}
	return i
}

// row returns row i of an untransposed A.
func (a matA) row(i int) []float32 { return a.f[a.line(i)*a.ld:] }

// matC is the output: row i at f[i·ld:], or at f[rows[i]·ld:] (a
// scatter) when rows is set.
type matC[O float] struct {
	f    []O
	ld   int
	rows []int
}

func (c matC[O]) line(i int) int { return lineOf(c.rows, i) }

// gemmT is the GEMM with accumulator type T, writing outputs of type O.
func gemmT[T, O float](workers, M, N, K int, a matA, b *matB, out matC[O]) {
	if M <= 0 || N <= 0 {
		return
	}
	if o, ok := any(out).(matC[float32]); ok && M < gemvMaxRows && b.trans && b.rows == nil {
		if gemvSmall[T](workers, M, N, K, a, b, o) {
			return
		}
	}
	kern := kernelFor[T]()
	mr, nr := kern.mr, kern.nr
	mc, nc := tiling(M, N, workers, mr, nr)
	mt, nt := ceilDiv(M, mc), ceilDiv(N, nc)
	// A unit of work is a column tile and a group of row tiles: each block
	// of B is packed once per unit and reused by the group's row tiles,
	// whose accumulators live side by side. Groups are as large as the
	// worker count and the accumulator budget allow.
	mg := min(mt, max(1, ceilDiv(2*workers, nt)))
	for mg < mt && ceilDiv(mt, mg)*mc*roundUp(nc, nr) > accBudget {
		mg++
	}
	tpg := ceilDiv(mt, mg)
	pre := prepacked[T](workers, b, N, K, nr)
	// When the output has the accumulator type and dense rows, it holds
	// the accumulators itself (cleared first, as the scratch would be);
	// only blocks past its edges go through a small scratch.
	var direct []T
	if o, ok := any(out).(matC[T]); ok && o.rows == nil {
		direct = o.f
	}
	ld := out.ld
	parallelFor(workers, nt*mg, 1, func(lo, hi int) {
		s := getScratch[T]()
		defer putScratch(s)
		for u := lo; u < hi; u++ {
			jt, g := u%nt, u/nt
			t0, t1 := g*tpg, min(mt, (g+1)*tpg)
			if t0 >= t1 {
				continue
			}
			j0 := jt * nc
			ncb := min(nc, N-j0)
			np := roundUp(ncb, nr)
			var acc []T
			if direct != nil {
				for i := t0 * mc; i < min(M, t1*mc); i++ {
					clear(direct[i*ld+j0 : i*ld+j0+ncb])
				}
			} else {
				acc = s.accFor((t1 - t0) * mc * np)
				clear(acc)
			}
			for k0 := 0; k0 < K; k0 += kcBlock {
				kcb := min(kcBlock, K-k0)
				bp := s.bp
				if pre != nil {
					bp = pre.block(k0, kcb, j0)
				} else {
					packB(bp, b, j0, ncb, k0, kcb, nr)
				}
				for it := t0; it < t1; it++ {
					i0 := it * mc
					mcb := min(mc, M-i0)
					mp := roundUp(mcb, mr)
					packA(s.ap, a, i0, mcb, k0, kcb, mr)
					if direct != nil {
						s.addInto(kern, direct, ld, i0, mcb, j0, ncb, kcb, bp)
						continue
					}
					tacc := acc[(it-t0)*mc*np:]
					for js := 0; js < np; js += nr {
						bs := bp[js*kcb : (js+nr)*kcb]
						for is := 0; is < mp; is += mr {
							kern.fn(kcb, s.ap[is*kcb:(is+mr)*kcb], bs, tacc[is*np+js:], np)
						}
					}
				}
			}
			if direct != nil {
				continue
			}
			for it := t0; it < t1; it++ {
				i0 := it * mc
				mcb := min(mc, M-i0)
				tacc := acc[(it-t0)*mc*np:]
				for i := 0; i < mcb; i++ {
					r := out.line(i0 + i)
					o := out.f[r*out.ld+j0 : r*out.ld+j0+ncb]
					row := tacc[i*np : i*np+ncb]
					for j, v := range row {
						o[j] = O(v)
					}
				}
			}
		}
	})
}

// addInto adds the product of the packed A panel (s.ap, mcb rows) and B
// panel bp (ncb columns, kcb deep) to the output tile at row i0, column
// j0 of c (row stride ld): whole mr x nr blocks in place, blocks past the
// tile's edges through the edge scratch, added element by element as the
// kernel adds.
func (s *scratch[T]) addInto(kern *microKernel[T], c []T, ld, i0, mcb, j0, ncb, kcb int, bp []T) {
	mr, nr := kern.mr, kern.nr
	for js := 0; js < ncb; js += nr {
		bs := bp[js*kcb : (js+nr)*kcb]
		for is := 0; is < mcb; is += mr {
			as := s.ap[is*kcb : (is+mr)*kcb]
			if is+mr <= mcb && js+nr <= ncb {
				kern.fn(kcb, as, bs, c[(i0+is)*ld+j0+js:], ld)
				continue
			}
			e := s.edge[:mr*nr]
			clear(e)
			kern.fn(kcb, as, bs, e, nr)
			for r := 0; r < min(mr, mcb-is); r++ {
				row := c[(i0+is+r)*ld+j0+js:]
				for j, v := range e[r*nr : r*nr+min(nr, ncb-js)] {
					row[j] += v
				}
			}
		}
	}
}

// accBudget caps a unit's accumulators (elements).
const accBudget = 1 << 20

// accFor returns n accumulators, growing the scratch when needed.
func (s *scratch[T]) accFor(n int) []T {
	if cap(s.acc) < n {
		s.acc = make([]T, n)
	}
	return s.acc[:n]
}

// packA copies rows i0..i0+mcb, columns k0..k0+kcb of A into mr-row
// strips: strip s holds ap[s*mr*kcb + k*mr + r] = A(i0+s*mr+r, k0+k), rows
// past the tile padded with zeros.
func packA[T float](ap []T, a matA, i0, mcb, k0, kcb, mr int) {
	if a.trans {
		packPieces(ap, a.f, a.ld, a.rows, i0, mcb, k0, kcb, mr)
		return
	}
	var rows [maxStrip][]float32
	for s := 0; s*mr < mcb; s++ {
		for r := 0; r < mr; r++ {
			if i := s*mr + r; i < mcb {
				rows[r] = a.row(i0 + i)[k0 : k0+kcb]
			} else {
				rows[r] = zeroRow[:kcb]
			}
		}
		interleave(ap[s*mr*kcb:(s+1)*mr*kcb], &rows, mr, kcb)
	}
}

// interleave4F32, when set (pack_amd64.go), does interleave's f32 work
// for four rows over the longest multiple of four of their length and
// returns that length; the loop finishes.
var interleave4F32 func(dst []float32, w int, r0, r1, r2, r3 []float32) int

// copyStrip, when set (pack_amd64.go), sets dst[k*w + c] = src[k*ld + c]
// for k < kcb, c < w, w a multiple of four.
var copyStrip func(dst []float32, w int, src []float32, ld, kcb int)

// maxStrip bounds the kernels' mr and nr; zeroRow pads strips.
const maxStrip = 32

var zeroRow [kcBlock]float32

// interleave writes dst[k*w + c] = rows[c][k] for c < w, k < kcb: w
// contiguous rows into one k-major strip, read and written sequentially,
// four rows at a time.
func interleave[T float](dst []T, rows *[maxStrip][]float32, w, kcb int) {
	dst = dst[:w*kcb]
	c := 0
	for ; c+4 <= w; c += 4 {
		r0, r1, r2, r3 := rows[c][:kcb], rows[c+1][:kcb], rows[c+2][:kcb], rows[c+3][:kcb]
		k := 0
		if d32, ok := any(dst).([]float32); ok && interleave4F32 != nil {
			k = interleave4F32(d32[c:], w, r0, r1, r2, r3)
		}
		for ; k < kcb; k++ {
			d := dst[k*w+c : k*w+c+4 : k*w+c+4]
			d[0], d[1], d[2], d[3] = T(r0[k]), T(r1[k]), T(r2[k]), T(r3[k])
		}
	}
	for ; c < w; c++ {
		for k, v := range rows[c][:kcb] {
			dst[k*w+c] = T(v)
		}
	}
}

// packB copies columns j0..j0+ncb, rows k0..k0+kcb of B into nr-column
// strips: bp[s*nr*kcb + k*nr + c] = B(k0+k, j0+s*nr+c), zero padded.
func packB[T float](bp []T, b *matB, j0, ncb, k0, kcb, nr int) {
	if b.trans && b.scale == nil {
		// Each column of B is a contiguous row of the weight.
		var rows [maxStrip][]float32
		for s := 0; s*nr < ncb; s++ {
			for c := 0; c < nr; c++ {
				if j := s*nr + c; j < ncb {
					n := lineOf(b.rows, j0+j)
					rows[c] = b.f[n*b.ld+k0 : n*b.ld+k0+kcb]
				} else {
					rows[c] = zeroRow[:kcb]
				}
			}
			interleave(bp[s*nr*kcb:(s+1)*nr*kcb], &rows, nr, kcb)
		}
		return
	}
	if !b.trans {
		packPieces(bp, b.f, b.ld, b.rows, j0, ncb, k0, kcb, nr)
		return
	}
	for s := 0; s*nr < ncb; s++ {
		strip := bp[s*nr*kcb : (s+1)*nr*kcb]
		for c := 0; c < nr; c++ {
			j := s*nr + c
			if j >= ncb {
				for k := 0; k < kcb; k++ {
					strip[k*nr+c] = 0
				}
				continue
			}
			n := j0 + j // block-quantized weight
			row := b.f[n*b.ld+k0 : n*b.ld+k0+kcb]
			srow := b.scale[(n/b.b0)*b.sld:]
			for k, v := range row {
				strip[k*nr+c] = T(runtime.RoundTo(b.deq, v*srow[(k0+k)/b.b1]))
			}
		}
	}
}

// packPieces packs an operand whose strip direction is contiguous in
// memory (element (k, c) at f[k·ld + c], or at f[rows[k]·ld + c]: B
// untransposed, A transposed): columns c0..c0+cw, rows k0..k0+kcb into
// w-wide strips, copying w-wide pieces of each row, zero padded.
func packPieces[T float](dst []T, f []float32, ld int, rows []int, c0, cw, k0, kcb, w int) {
	if d32, ok := any(dst).([]float32); ok { // f32 accumulation: plain copies
		for s := 0; s*w < cw; s++ {
			strip := d32[s*w*kcb : (s+1)*w*kcb]
			n := min(w, cw-s*w)
			if n == w && w%4 == 0 && rows == nil && copyStrip != nil {
				copyStrip(strip, w, f[k0*ld+c0+s*w:], ld, kcb)
				continue
			}
			for k := 0; k < kcb; k++ {
				d := strip[k*w : (k+1)*w]
				copy(d, f[lineOf(rows, k0+k)*ld+c0+s*w:][:n])
				clear(d[n:])
			}
		}
		return
	}
	for s := 0; s*w < cw; s++ {
		strip := dst[s*w*kcb : (s+1)*w*kcb]
		n := min(w, cw-s*w)
		for k := 0; k < kcb; k++ {
			row := f[lineOf(rows, k0+k)*ld+c0+s*w:][:n]
			d := strip[k*w : (k+1)*w]
			for c, v := range row {
				d[c] = T(v)
			}
			clear(d[n:])
		}
	}
}

// micro4x4 is the portable 4x4 micro-kernel.
func micro4x4[T float](kc int, a, b, c []T, ldc int) {
	var c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33 T
	a = a[:kc*4]
	b = b[:kc*4]
	for len(a) >= 4 && len(b) >= 4 {
		a0, a1, a2, a3 := a[0], a[1], a[2], a[3]
		b0, b1, b2, b3 := b[0], b[1], b[2], b[3]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		c20 += a2 * b0
		c21 += a2 * b1
		c22 += a2 * b2
		c23 += a2 * b3
		c30 += a3 * b0
		c31 += a3 * b1
		c32 += a3 * b2
		c33 += a3 * b3
		a = a[4:]
		b = b[4:]
	}
	r := c[0:4]
	r[0] += c00
	r[1] += c01
	r[2] += c02
	r[3] += c03
	r = c[ldc : ldc+4]
	r[0] += c10
	r[1] += c11
	r[2] += c12
	r[3] += c13
	r = c[2*ldc : 2*ldc+4]
	r[0] += c20
	r[1] += c21
	r[2] += c22
	r[3] += c23
	r = c[3*ldc : 3*ldc+4]
	r[0] += c30
	r[1] += c31
	r[2] += c32
	r[3] += c33
}
