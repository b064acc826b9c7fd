package cpu

import (
	"fmt"
	"testing"
)

// TestDotRowsSameBits: the in-order kernels give every output exactly the
// bits the four-row kernel gives it (a decode step must not depend on
// which path a product took), for one to four rows of A, row lengths with
// and without a tail past the last multiple of 8, and a weight whose row
// stride is longer than its rows.
func TestDotRowsSameBits(t *testing.T) {
	if !hasAVX2FMA() {
		t.Skip("no AVX2/FMA: the kernels are not used")
	}
	for _, K := range []int{8, 13, 64, 264} {
		for M := 1; M <= 4; M++ {
			const N, pad = 12, 3
			ldw := K + pad
			w := make([]float32, N*ldw)
			for i := range w {
				w[i] = float32(i%97)*0.013 - 0.5
			}
			xs := make([]float32, M*K)
			for i := range xs {
				xs[i] = float32(i%31)*0.07 - 1
			}
			out := make([]float32, M*N)
			dotRows(xs, M, w, ldw, out)
			for m := range M {
				for n := 0; n < N; n += 4 {
					var o [4]float32
					gemvRows4(xs[m*K:(m+1)*K], w[n*ldw:], ldw, &o)
					for r := range 4 {
						if got := out[m*N+n+r]; got != o[r] {
							t.Fatalf("K=%d M=%d: row %d of A, weight row %d: %v in order, %v four rows at a time", K, M, m, n+r, got, o[r])
						}
					}
				}
			}
		}
	}
}

// BenchmarkDecodeGEMV streams a 24 MiB weight (larger than the caches, as
// a decode step's weights are) through the four-row kernel and the
// in-order one, for one and four rows of A: compare their MB/s.
func BenchmarkDecodeGEMV(b *testing.B) {
	if !hasAVX2FMA() {
		b.Skip("no AVX2/FMA")
	}
	const K, N = 256, 24 << 20 / 4 / 256
	w := make([]float32, N*K)
	for i := range w { // written, so that its pages are real memory
		w[i] = float32(i % 7)
	}
	for M := 1; M <= 4; M *= 4 {
		xs := make([]float32, M*K)
		b.Run(fmt.Sprintf("rows4/M=%d", M), func(b *testing.B) {
			b.SetBytes(int64(len(w) * 4))
			var o [4]float32
			for range b.N {
				for n := 0; n < N; n += 4 {
					for m := range M {
						gemvRows4(xs[m*K:(m+1)*K], w[n*K:], K, &o)
					}
				}
			}
		})
		b.Run(fmt.Sprintf("inorder/M=%d", M), func(b *testing.B) {
			b.SetBytes(int64(len(w) * 4))
			out := make([]float32, M*N)
			for range b.N {
				dotRows(xs, M, w, K, out)
			}
		})
	}
}
