package cpu

import (
	"slices"
	"testing"

	"github.com/deepc-dev/deepc/ir"
)

// The GEMM ops (linear, matmul, grouped_linear) against float64 references,
// as in ops_test.go.

// refLinear is y[m, n] = Σ_k x[m, k] w[n, k] in float64.
func refLinear(x, w []float64, M, N, K int) []float64 {
	y := make([]float64, M*N)
	for m := 0; m < M; m++ {
		for n := 0; n < N; n++ {
			var s float64
			for k := 0; k < K; k++ {
				s += x[m*K+k] * w[n*K+k]
			}
			y[m*N+n] = s
		}
	}
	return y
}

func TestLinear(t *testing.T) {
	rng := newRNG(t)
	// Sizes around the tile and block edges.
	for _, sz := range [][3]int{{1, 1, 1}, {3, 5, 7}, {37, 70, 300}, {64, 256, 256}, {130, 19, 513}} {
		M, N, K := sz[0], sz[1], sz[2]
		x := randF(rng, ir.F32, 1, 1, M, K) // rank 3
		w := randF(rng, ir.F32, 1, N, K)
		got := runOp(t, FP32, "linear", nil, x, paramArg{name: "w", t: w})[0]
		checkClose(t, "linear", got, refLinear(f64s(x), f64s(w), M, N, K), tolF32)
		if !slices.Equal(got.Shape, []int{1, M, N}) {
			t.Errorf("linear shape %v", got.Shape)
		}
	}
}

func TestLinearQuantizedFP32(t *testing.T) {
	rng := newRNG(t)
	M, N, K := 9, 200, 300 // partial 128x128 blocks both ways
	x := randF(rng, ir.BF16, 1, M, K)
	wq := quantizeWeight(randF(rng, ir.F32, 0.05, N, K), 128, 128)
	got := runOp(t, FP32, "linear", nil, x, paramArg{name: "w", t: wq})[0]
	checkClose(t, "linear fp8 weight in fp32 mode", got, refLinear(f64s(x), dequant64(wq), M, N, K), tolF32)
	if got.DType != ir.F32 {
		t.Errorf("fp32 mode result dtype %s", got.DType)
	}
}

func TestMatmul(t *testing.T) {
	rng := newRNG(t)
	for _, sz := range [][5]int{{2, 3, 5, 7, 11}, {1, 1, 33, 70, 65}, {8, 1, 4, 3, 2}} {
		B0, B1, M, K, N := sz[0], sz[1], sz[2], sz[3], sz[4]
		a := randF(rng, ir.F32, 1, B0, B1, M, K)
		b := randF(rng, ir.F32, 1, B0, B1, K, N)
		want := make([]float64, B0*B1*M*N)
		for bt := 0; bt < B0*B1; bt++ {
			for m := 0; m < M; m++ {
				for n := 0; n < N; n++ {
					var s float64
					for k := 0; k < K; k++ {
						s += float64(a.F[(bt*M+m)*K+k]) * float64(b.F[(bt*K+k)*N+n])
					}
					want[(bt*M+m)*N+n] = s
				}
			}
		}
		checkClose(t, "matmul", runOp(t, FP32, "matmul", nil, a, b)[0], want, tolF32)
	}
}

// refGrouped is grouped_linear in float64; x is [T, K] or [T, k, K].
func refGrouped(x []float64, perSlot bool, w []float64, idx []int64, T, k, N, K int) []float64 {
	y := make([]float64, T*k*N)
	for t := 0; t < T; t++ {
		for j := 0; j < k; j++ {
			row := x[t*K : (t+1)*K]
			if perSlot {
				row = x[(t*k+j)*K : (t*k+j+1)*K]
			}
			e := int(idx[t*k+j])
			for n := 0; n < N; n++ {
				var s float64
				for i := 0; i < K; i++ {
					s += row[i] * w[(e*N+n)*K+i]
				}
				y[(t*k+j)*N+n] = s
			}
		}
	}
	return y
}

func TestGroupedLinear(t *testing.T) {
	rng := newRNG(t)
	T, k, E, N, K := 13, 3, 6, 40, 70
	w := randF(rng, ir.F32, 1, E, N, K)
	idx := randI(rng, ir.I32, 0, int64(E-1), T, k) // expert E-1 unused
	idx.I[0], idx.I[1] = 2, 2                      // one token twice on an expert
	for _, perSlot := range []bool{false, true} {
		x := randF(rng, ir.F32, 1, T, K)
		if perSlot {
			x = randF(rng, ir.F32, 1, T, k, K)
		}
		got := runOp(t, FP32, "grouped_linear", nil, symArg{x}, paramArg{name: "experts", t: w}, symArg{idx})[0]
		checkClose(t, "grouped_linear", got, refGrouped(f64s(x), perSlot, f64s(w), idx.I, T, k, N, K), tolF32)
	}
	// Many tokens, few experts: the large-GEMM path.
	T = 300
	idx = randI(rng, ir.I32, 0, int64(E), T, k)
	x := randF(rng, ir.F32, 1, T, K)
	got := runOp(t, FP32, "grouped_linear", nil, symArg{x}, paramArg{name: "experts", t: w}, symArg{idx})[0]
	checkClose(t, "grouped_linear (large)", got, refGrouped(f64s(x), false, f64s(w), idx.I, T, k, N, K), tolF32)
	// An out-of-range expert index is an error.
	idx.I[5] = int64(E)
	if _, err := tryOp(FP32, "grouped_linear", nil, symArg{x}, paramArg{name: "experts", t: w}, symArg{idx}); err == nil || !contains(err.Error(), "out of range") {
		t.Errorf("bad expert index: %v", err)
	}
}
