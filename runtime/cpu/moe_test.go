package cpu

import (
	"math"
	"testing"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/runtime"
)

// refDispatch is moe_dispatch written out: each expert's slots in order,
// padded with -1 to a multiple of block, then -1 to R rows.
func refDispatch(idx []int64, E, block, R int) (slot, count []int64) {
	count = make([]int64, E)
	for e := 0; e < E; e++ {
		n := 0
		for s, x := range idx {
			if int(x) == e {
				slot = append(slot, int64(s))
				n++
			}
		}
		count[e] = int64(n)
		for n%block != 0 {
			slot = append(slot, -1)
			n++
		}
	}
	for len(slot) < R {
		slot = append(slot, -1)
	}
	return slot, count
}

func TestMoEDispatch(t *testing.T) {
	rng := newRNG(t)
	T, k, E := 11, 3, 5
	idx := randI(rng, ir.I32, 0, int64(E-1), T, k) // expert E-1 gets nothing
	for _, block := range []int{1, 4, 128} {
		out := runOp(t, FP32, "moe_dispatch", ir.Attrs{"experts": int64(E), "block": int64(block)}, symArg{idx})
		R := k*T + E*(block-1)
		if len(out[0].I) != R {
			t.Fatalf("block %d: %d rows, want %d", block, len(out[0].I), R)
		}
		slot, count := refDispatch(idx.I, E, block, R)
		checkInts(t, "slots", out[0], slot)
		checkInts(t, "counts", out[1], count)
	}
	idx.I[4] = int64(E)
	if _, err := tryOp(FP32, "moe_dispatch", ir.Attrs{"experts": int64(E), "block": int64(2)}, symArg{idx}); err == nil || !contains(err.Error(), "out of range") {
		t.Errorf("bad expert index: %v", err)
	}
}

// dispatchRows runs moe_dispatch and moe_gather: the rows of x by expert.
func dispatchRows(t *testing.T, mode Mode, x, idx *runtime.Tensor, E, block int) (rows, slot, count *runtime.Tensor) {
	t.Helper()
	d := runOp(t, mode, "moe_dispatch", ir.Attrs{"experts": int64(E), "block": int64(block)}, symArg{idx})
	k := idx.Shape[1]
	if len(x.Shape) == 3 { // one row per slot
		x = &runtime.Tensor{DType: x.DType, Shape: []int{x.Shape[0] * k, x.Shape[2]}, F: x.F}
		k = 1
	}
	rows = runOp(t, mode, "moe_gather", ir.Attrs{"k": int64(k)}, x, d[0])[0]
	return rows, d[0], d[1]
}

// The grouped GEMM over dispatched rows gives each slot exactly the row
// grouped_linear gives it, and zeros in the padding, in FP32 and FP8 modes.
func TestGroupedGEMMMatchesGroupedLinear(t *testing.T) {
	rng := newRNG(t)
	T, k, E, N, K := 9, 3, 5, 136, 200
	w := randF(rng, ir.F32, 0.05, E, N, K)
	wq := quantizeWeight(w, 128, 128)
	wty := ir.T(ir.F8E4M3, ir.C(int64(E)), ir.C(int64(N)), ir.C(int64(K)))
	idx := randI(rng, ir.I32, 0, int64(E-1), T, k)
	for _, c := range []struct {
		mode Mode
		w    paramArg
	}{{FP32, paramArg{name: "experts", t: w}}, {FP8, paramArg{name: "experts", t: wq, ty: &wty}}} {
		for _, perSlot := range []bool{false, true} {
			x := randF(rng, ir.F32, 1, T, K)
			if perSlot {
				x = randF(rng, ir.F32, 1, T, k, K)
			}
			want := runOp(t, c.mode, "grouped_linear", nil, symArg{x}, c.w, symArg{idx})[0]
			for _, block := range []int{1, 8} {
				rows, slot, count := dispatchRows(t, c.mode, x, idx, E, block)
				got := runOp(t, c.mode, "grouped_gemm", ir.Attrs{"block": int64(block)}, rows, c.w, count)[0]
				for r, s := range slot.I {
					g := got.F[r*N : (r+1)*N]
					for n, v := range g {
						wv := float32(0)
						if s >= 0 {
							wv = want.F[int(s)*N+n]
						}
						if math.Float32bits(v) != math.Float32bits(wv) {
							t.Fatalf("mode %v perSlot %v block %d: row %d (slot %d) col %d = %v, want %v", c.mode, perSlot, block, r, s, n, v, wv)
						}
					}
				}
			}
		}
	}
	// Counts that need more rows than x has are an error.
	x := randF(rng, ir.F32, 1, 4, K)
	if _, err := tryOp(FP32, "grouped_gemm", ir.Attrs{"block": int64(2)}, x, paramArg{name: "experts", t: w}, ints(ir.I32, 1, 1, 1, 0, 0)); err == nil || !contains(err.Error(), "need 6 rows") {
		t.Errorf("counts beyond the rows: %v", err)
	}
}

func TestMoECombine(t *testing.T) {
	rng := newRNG(t)
	T, k, E, D := 7, 2, 4, 33
	idx := randI(rng, ir.I32, 0, int64(E), T, k)
	x := randF(rng, ir.F32, 1, T, k, D) // a value per slot
	wts := randF(rng, ir.F32, 1, T, k)
	rows, slot, _ := dispatchRows(t, FP32, x, idx, E, 3)
	got := runOp(t, FP32, "moe_combine", nil, rows, slot, symArg{wts})[0]
	want := make([]float64, T*D)
	for tt := 0; tt < T; tt++ {
		for j := 0; j < k; j++ {
			for i := 0; i < D; i++ {
				want[tt*D+i] += float64(wts.F[tt*k+j]) * float64(x.F[(tt*k+j)*D+i])
			}
		}
	}
	checkClose(t, "moe_combine", got, want, tolF32)
	// A slot without a row is an error, not a silent zero.
	for r, s := range slot.I {
		if s >= 0 {
			slot.I[r] = -1
			break
		}
	}
	if _, err := tryOp(FP32, "moe_combine", nil, rows, slot, symArg{wts}); err == nil || !contains(err.Error(), "has no row") {
		t.Errorf("missing slot: %v", err)
	}
}

// grouped_linear_wgrad {fp8} in FP8 mode: both operands quantized per 128
// slots (close to the exact product, and not equal to the unquantized one).
func TestFP8GroupedLinearWGrad(t *testing.T) {
	rng := newRNG(t)
	T, k, E, N, K := 70, 2, 3, 40, 136
	x := randF(rng, ir.F32, 1, T, K)
	g := randF(rng, ir.F32, 1, T, k, N)
	idx := randI(rng, ir.I32, 0, int64(E), T, k)
	want := make([]float64, E*N*K)
	for s, e := range idx.I {
		row := s / k
		for o := 0; o < N; o++ {
			for i := 0; i < K; i++ {
				want[(int(e)*N+o)*K+i] += float64(g.F[s*N+o]) * float64(x.F[row*K+i])
			}
		}
	}
	attrs := ir.Attrs{"experts": int64(E), "fp8": true}
	got := runOp(t, FP8, "grouped_linear_wgrad", attrs, symArg{x}, symArg{g}, symArg{idx})[0]
	// Both operands are e4m3 here (a Linear's forward quantizes one
	// activation and a weight whose 128×128 blocks average errors out less):
	// √2 times the one-sided error.
	checkClose(t, "fp8 grouped_linear_wgrad", got, want, 0.05)
	plain := runOp(t, FP8, "grouped_linear_wgrad", ir.Attrs{"experts": int64(E)}, symArg{x}, symArg{g}, symArg{idx})[0]
	checkClose(t, "grouped_linear_wgrad", plain, want, tolBF16)
	same := true
	for i := range got.F {
		same = same && got.F[i] == plain.F[i]
	}
	if same {
		t.Error("the fp8 attribute changed nothing in FP8 mode")
	}
}
