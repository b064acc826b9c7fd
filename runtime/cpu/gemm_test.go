package cpu

import (
	"slices"
	"testing"

	"github.com/deepc-dev/deepc/ir"
)

// withGoKernels runs fn with the portable Go micro-kernels in place of the
// assembly ones.
func withGoKernels(fn func()) {
	s32, s64, g32, g64 := kernF32, kernF64, gemvF32, gemvF64
	kernF32, kernF64, gemvF32, gemvF64 = goF32, goF64, nil, nil
	defer func() { kernF32, kernF64, gemvF32, gemvF64 = s32, s64, g32, g64 }()
	fn()
}

// TestGEMMKernelsAgree runs the GEMM with the selected micro-kernels and
// with the portable ones on shapes around every tile edge: the results
// agree to rounding, and the FP8 path (exact products) bit for bit.
func TestGEMMKernelsAgree(t *testing.T) {
	t.Logf("micro-kernels in use: f32 %s, f64 %s; gemv kernels: %v", kernF32.name, kernF64.name, gemvF32 != nil)
	rng := newRNG(t)
	for _, sz := range [][3]int{{1, 1, 1}, {1, 9, 13}, {2, 70, 300}, {3, 4, 8}, {3, 131, 1031}, {5, 17, 3}, {6, 16, 256}, {12, 32, 64}, {13, 65, 129}, {7, 33, 257}, {97, 270, 300}, {200, 20, 1000}} {
		M, N, K := sz[0], sz[1], sz[2]
		x := randF(rng, ir.F32, 1, M, K)
		w := randF(rng, ir.F32, 1, N, K)
		ref := refLinear(f64s(x), f64s(w), M, N, K)
		for _, wide := range []bool{false, true} {
			for _, workers := range []int{1, 3} {
				mb := &matB{f: w.F, ld: K, trans: true}
				got := make([]float32, M*N)
				gemm(workers, M, N, K, x.F, K, mb, got, N, wide)
				var gold []float32
				withGoKernels(func() {
					gold = make([]float32, M*N)
					gemm(workers, M, N, K, x.F, K, mb, gold, N, wide)
				})
				tol := 1e-5
				if wide {
					tol = 1e-7
				}
				if e := relErr(got, ref); e > tol {
					t.Errorf("%v wide=%v workers=%d: selected kernel error %.3g", sz, wide, workers, e)
				}
				if e := relErr(gold, ref); e > tol {
					t.Errorf("%v wide=%v workers=%d: portable kernel error %.3g", sz, wide, workers, e)
				}
				// B in [K, N] layout (matmul's right operand).
				wt := make([]float32, K*N)
				for n := 0; n < N; n++ {
					for k := 0; k < K; k++ {
						wt[k*N+n] = w.F[n*K+k]
					}
				}
				gemm(workers, M, N, K, x.F, K, &matB{f: wt, ld: N}, got, N, wide)
				if e := relErr(got, ref); e > tol {
					t.Errorf("%v wide=%v workers=%d: [K, N] operand error %.3g", sz, wide, workers, e)
				}
			}
		}
		wq := quantizeWeight(w, 128, 128)
		qa := quantizeRows(2, x.F, M, K)
		got := make([]float32, M*N)
		gemmFP8(2, M, N, qa, weightB(wq, 0, 0, ir.BF16), got, N)
		want := emulFP8Linear(x.F, M, K, wq, 0, 0)
		var gold []float32
		withGoKernels(func() {
			gold = make([]float32, M*N)
			gemmFP8(3, M, N, qa, weightB(wq, 0, 0, ir.BF16), gold, N)
		})
		for i := range want {
			if got[i] != want[i] || gold[i] != want[i] {
				t.Fatalf("%v fp8: element %d: selected %v, portable %v, emulation %v", sz, i, got[i], gold[i], want[i])
			}
		}
	}
}

// A weight's packed panels, kept after the first product, give exactly the
// products of packing it on every call; one packed form per expert slice.
func TestPrepackedWeights(t *testing.T) {
	rng := newRNG(t)
	for _, sz := range [][3]int{{8, 9, 13}, {13, 65, 129}, {97, 270, 300}, {200, 40, 1000}} {
		M, N, K := sz[0], sz[1], sz[2]
		const E = 3
		x := randF(rng, ir.F32, 1, M, K)
		w := randF(rng, ir.F32, 1, E, N, K)
		for _, wide := range []bool{false, true} {
			for e := 0; e < E; e++ {
				plain := &matB{f: w.F[e*N*K:], ld: K, trans: true} // no src: packed per call
				want := make([]float32, M*N)
				gemm(3, M, N, K, x.F, K, plain, want, N, wide)
				for rep := 0; rep < 2; rep++ {
					got := make([]float32, M*N)
					gemm(3, M, N, K, x.F, K, weightB(w, e*N*K, 0, ir.F32), got, N, wide)
					for i := range want {
						if got[i] != want[i] {
							t.Fatalf("%v wide=%v expert %d call %d: element %d = %v, want %v", sz, wide, e, rep, i, got[i], want[i])
						}
					}
				}
			}
		}
		// (A few rows take the gemv path, which reads the weight as it is.)
		if ps, ok := w.Derived.(*weightPacks); M >= gemvMaxRows && (!ok || len(ps.m) != 2*E) {
			t.Errorf("%v: packed forms %v, want one per expert and accumulator type", sz, w.Derived)
		}
	}
}

// The assembly interleave (where the CPU has it) writes what the Go loop
// writes, for strip widths with and without a remainder of four and
// lengths with and without one.
func TestInterleaveAssembly(t *testing.T) {
	if interleave4F32 == nil {
		t.Skip("no assembly interleave on this CPU") // the Go loop is the only path then
	}
	rng := newRNG(t)
	for _, w := range []int{4, 6, 12, 32} {
		for _, kcb := range []int{1, 3, 4, 5, 8, 37, 256} {
			var rows [maxStrip][]float32
			for c := 0; c < w; c++ {
				rows[c] = randF(rng, ir.F32, 1, kcb).F
			}
			got := make([]float32, w*kcb)
			interleave(got, &rows, w, kcb)
			saved := interleave4F32
			interleave4F32 = nil
			want := make([]float32, w*kcb)
			interleave(want, &rows, w, kcb)
			interleave4F32 = saved
			if !slices.Equal(got, want) {
				t.Fatalf("w=%d kcb=%d: assembly and Go interleave differ", w, kcb)
			}
			for k := 0; k < kcb; k++ {
				for c := 0; c < w; c++ {
					if want[k*w+c] != rows[c][k] {
						t.Fatalf("w=%d kcb=%d: dst[%d] = %v, want rows[%d][%d] = %v", w, kcb, k*w+c, want[k*w+c], c, k, rows[c][k])
					}
				}
			}
		}
	}
}

// packPieces through the assembly strip copy (where the CPU has it)
// writes what the Go loop writes: whole and partial strips, gathered rows.
func TestPackPiecesAssembly(t *testing.T) {
	if copyStrip == nil {
		t.Skip("no assembly strip copy on this CPU") // the Go loop is the only path then
	}
	rng := newRNG(t)
	const ld, K = 80, 40
	f := randF(rng, ir.F32, 1, K, ld).F
	for _, w := range []int{4, 12, 32} {
		for _, cw := range []int{w, 2 * w, 2*w + 3, 75} {
			for _, rows := range [][]int{nil, {3, 0, 7, 7, 39, 12, 5, 8, 9, 1, 2, 4}} {
				kcb := 11
				got := make([]float32, ceilDiv(cw, w)*w*kcb)
				packPieces(got, f, ld, rows, 2, cw, 1, kcb, w)
				saved := copyStrip
				copyStrip = nil
				want := make([]float32, len(got))
				packPieces(want, f, ld, rows, 2, cw, 1, kcb, w)
				copyStrip = saved
				if !slices.Equal(got, want) {
					t.Fatalf("w=%d cw=%d rows=%v: assembly and Go packing differ", w, cw, rows != nil)
				}
				line := func(k int) int {
					if rows != nil {
						return rows[k]
					}
					return k
				}
				for s := 0; s*w < cw; s++ {
					for k := 0; k < kcb; k++ {
						for c := 0; c < w; c++ {
							v := float32(0)
							if s*w+c < cw {
								v = f[line(1+k)*ld+2+s*w+c]
							}
							if want[s*w*kcb+k*w+c] != v {
								t.Fatalf("w=%d cw=%d: strip %d [%d, %d] = %v, want %v", w, cw, s, k, c, want[s*w*kcb+k*w+c], v)
							}
						}
					}
				}
			}
		}
	}
}
