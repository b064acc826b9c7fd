package cpu

import (
	"github.com/deepc-dev/deepc/runtime"
)

// The FP8 GEMM (docs/model.md §5), emulated exactly as follows for
// out[i, j] = Σ_k x[i, k] · w[j, k] with w block-quantized (fp8 values
// wq, scales sw per b0 x b1 block):
//
//  1. Each row of x is cut into tiles of 128 along K (the last one
//     partial). Per tile: amax = max |x|, sx = amax / 448 in f32 (sx = 1
//     when amax = 0), and xq = e4m3(x / sx) with the division in f32 and
//     round-to-nearest-even saturating to ±448.
//  2. K is cut into chunks of c = gcd(128, b1) elements, so that both
//     scales are constant on a chunk. Per chunk: p = Σ xq·wq in f32, adding
//     the (exact) products in k order from 0.
//  3. The chunk is promoted: acc = acc + float32(p · float32(sx · sw)), where
//     sx is the activation tile's scale and sw the weight block's, each
//     product rounded to f32 (no fused multiply-add); acc starts at 0.
//  4. The result is acc, which the executor rounds to the result dtype.

const fp8Tile = 128

// quantRows holds activations quantized per 1 x 128 tile.
type quantRows struct {
	q      []float32 // e4m3 values, [rows, K]
	s      []float32 // scales, [rows, tiles]
	K      int
	tiles  int
	stride int // row stride of q (K)
}

// quantizeRows quantizes rows rows of x (row stride K) per 1 x 128 tile.
func quantizeRows(workers int, x []float32, rows, K int) *quantRows {
	tiles := ceilDiv(K, fp8Tile)
	qr := &quantRows{q: make([]float32, rows*K), s: make([]float32, rows*tiles), K: K, tiles: tiles, stride: K}
	parallelFor(workers, rows, max(1, 4096/max(K, 1)), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			for t := 0; t < tiles; t++ {
				k0, k1 := t*fp8Tile, min((t+1)*fp8Tile, K)
				src := x[r*K+k0 : r*K+k1]
				dst := qr.q[r*K+k0 : r*K+k1]
				qr.s[r*tiles+t] = quantizeTile(src, dst)
			}
		}
	})
	return qr
}

// quantizeTile quantizes one tile to e4m3 and returns its scale.
func quantizeTile(src, dst []float32) float32 {
	var amax float32
	for _, v := range src {
		if v < 0 {
			v = -v
		}
		if v > amax || v != v {
			amax = v
		}
	}
	s := amax / runtime.E4M3Max
	if amax == 0 {
		s = 1
	}
	for i, v := range src {
		dst[i] = runtime.RoundE4M3(v / s)
	}
	return s
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// gemmFP8 computes out[i*ldc + j] for rows rows of qa against the weight
// b (trans layout, raw fp8 values with scales) following the recipe above.
// rowIdx, when not nil, maps output row i to quantized row rowIdx[i].
func gemmFP8(workers, M, N int, qa *quantRows, b *matB, out []float32, ldc int) {
	K := qa.K
	if M <= 0 || N <= 0 {
		return
	}
	chunk := gcd(fp8Tile, b.b1)
	kc := kcBlock / chunk * chunk
	kern := kernelFor[float32]()
	mr, nr := kern.mr, kern.nr
	mc, nc := tiling(M, N, workers, mr, nr)
	mt, nt := ceilDiv(M, mc), ceilDiv(N, nc)
	raw := *b
	raw.scale = nil // pack the fp8 values as they are
	parallelFor(workers, mt*nt, 1, func(lo, hi int) {
		s := getScratch[float32]()
		defer putScratch(s)
		p := make([]float32, mr*nr)
		for tile := lo; tile < hi; tile++ {
			i0, j0 := tile/nt*mc, tile%nt*nc
			mcb, ncb := min(mc, M-i0), min(nc, N-j0)
			mp, np := roundUp(mcb, mr), roundUp(ncb, nr)
			acc := s.acc[:mp*np]
			clear(acc)
			for k0 := 0; k0 < K; k0 += kc {
				kcb := min(kc, K-k0)
				packA(s.ap, matA{f: qa.q, ld: qa.stride}, i0, mcb, k0, kcb, mr)
				packB(s.bp, &raw, j0, ncb, k0, kcb, nr)
				for js := 0; js < np; js += nr {
					bs := s.bp[js*kcb : (js+nr)*kcb]
					for is := 0; is < mp; is += mr {
						as := s.ap[is*kcb : (is+mr)*kcb]
						for c0 := 0; c0 < kcb; c0 += chunk {
							cl := min(chunk, kcb-c0)
							clear(p)
							kern.fn(cl, as[c0*mr:], bs[c0*nr:], p, nr)
							k := k0 + c0
							for r := 0; r < mr; r++ {
								i := i0 + is + r
								if i >= M {
									break
								}
								sx := qa.s[i*qa.tiles+k/fp8Tile]
								row := acc[(is+r)*np+js : (is+r)*np+js+nr]
								for cc := 0; cc < nr; cc++ {
									j := j0 + js + cc
									if j >= N {
										break
									}
									sw := b.scale[(j/b.b0)*b.sld+k/b.b1]
									sc := float32(sx * sw)
									row[cc] = row[cc] + float32(p[r*nr+cc]*sc)
								}
							}
						}
					}
				}
			}
			for i := 0; i < mcb; i++ {
				copy(out[(i0+i)*ldc+j0:(i0+i)*ldc+j0+ncb], acc[i*np:i*np+ncb])
			}
		}
	})
}
