package cpu

import (
	"fmt"
	"math"
	"testing"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/runtime"
)

// BF16 and FP8 modes.

const (
	tolBF16 = 1e-2
	tolFP8  = 3e-2
)

// checkRepresentable fails unless every value of t is exact in dt.
func checkRepresentable(t *testing.T, what string, x *runtime.Tensor, dt ir.DType) {
	t.Helper()
	if x.DType != dt {
		t.Errorf("%s: dtype %s, want %s", what, x.DType, dt)
	}
	for i, v := range x.F {
		if runtime.RoundTo(dt, v) != v {
			t.Fatalf("%s: element %d = %v is not a %s value", what, i, v, dt)
		}
	}
}

func TestBF16Mode(t *testing.T) {
	rng := newRNG(t)
	M, N, K := 33, 70, 300
	x := randF(rng, ir.BF16, 1, M, K)
	w := randF(rng, ir.BF16, 1, N, K)
	got := runOp(t, BF16, "linear", nil, symArg{x}, paramArg{name: "w", t: w})[0]
	checkRepresentable(t, "linear", got, ir.BF16)
	checkClose(t, "linear bf16", got, refLinear(f64s(x), f64s(w), M, N, K), tolBF16)

	g := randF(rng, ir.BF16, 1, K)
	got = runOp(t, BF16, "rms_norm", ir.Attrs{"eps": 1e-6}, symArg{x}, paramArg{name: "g", t: g})[0]
	checkRepresentable(t, "rms_norm", got, ir.BF16)
	checkClose(t, "rms_norm bf16", got, refRMSNorm(f64s(x), f64s(g), K, 1e-6), tolBF16)

	got = runOp(t, BF16, "silu", nil, symArg{x})[0]
	checkRepresentable(t, "silu", got, ir.BF16)
	want := f64s(x)
	for i, v := range want {
		want[i] = v / (1 + math.Exp(-v))
	}
	checkClose(t, "silu bf16", got, want, tolBF16)

	y := randF(rng, ir.BF16, 1, M, K)
	got = runOp(t, BF16, "mul", nil, x, y)[0]
	checkRepresentable(t, "mul", got, ir.BF16)
	for i := range want {
		want[i] = float64(x.F[i]) * float64(y.F[i])
	}
	checkClose(t, "mul bf16", got, want, tolBF16)

	seq := ints(ir.I32, 0, 0, 0, 1, 1, 1, 1)
	pos := ints(ir.I32, 0, 1, 2, 0, 1, 2, 3)
	q, k, v := randF(rng, ir.BF16, 1, 7, 2, 16), randF(rng, ir.BF16, 1, 7, 2, 16), randF(rng, ir.BF16, 1, 7, 2, 8)
	got = runOp(t, BF16, "attention", ir.Attrs{"scale": 0.25}, symArg{q}, symArg{k}, symArg{v}, symArg{pos}, symArg{seq})[0]
	checkRepresentable(t, "attention", got, ir.BF16)
	checkClose(t, "attention bf16", got, refAttention(f64s(q), f64s(k), f64s(v), pos.I, seq.I, pos.I, seq.I, 2, 2, 16, 8, 0.25, true), tolBF16)

	// An f32 op stays f32 in bf16 mode: the matmul accumulates in f32.
	xf, wf := randF(rng, ir.F32, 1, M, K), randF(rng, ir.F32, 1, N, K)
	got = runOp(t, BF16, "linear", nil, xf, wf)[0]
	checkRepresentable(t, "f32 linear", got, ir.F32)
	checkClose(t, "f32 linear in bf16 mode", got, refLinear(f64s(xf), f64s(wf), M, N, K), 1e-5)
}

func TestBF16ModeQuantizedWeight(t *testing.T) {
	rng := newRNG(t)
	M, N, K := 5, 130, 260
	x := randF(rng, ir.BF16, 1, M, K)
	wq := quantizeWeight(randF(rng, ir.F32, 0.02, N, K), 128, 128)
	wty := ir.T(ir.F8E4M3, ir.C(int64(N)), ir.C(int64(K)))
	got := runOp(t, BF16, "linear", nil, symArg{x}, paramArg{name: "w", t: wq, ty: &wty})[0]
	checkRepresentable(t, "linear", got, ir.BF16)
	// The weight dequantised to bf16 (as the reference inference does), f32 accumulation.
	wd := dequant64(wq)
	for i, v := range wd {
		wd[i] = float64(runtime.RoundBF16(float32(v)))
	}
	want := refLinear(f64s(x), wd, M, N, K)
	checkClose(t, "linear bf16 with fp8 weight", got, want, tolBF16)
	for i := range want {
		want[i] = float64(runtime.RoundBF16(float32(want[i])))
	}
	// Against the rounded reference only a few elements differ (by one bf16
	// ulp, where f32 accumulation lands on the other side of a rounding tie).
	checkClose(t, "linear bf16 with fp8 weight (rounded reference)", got, want, 1e-3)
}

// emulFP8Linear is the FP8 GEMM recipe written out as scalar loops (the
// specification in fp8.go), for the bit-exact test.
func emulFP8Linear(x []float32, M, K int, w *runtime.Tensor, off, soff int) []float32 {
	N := w.Shape[len(w.Shape)-2]
	b0, b1 := w.Block[0], w.Block[1]
	sc := (K + b1 - 1) / b1
	chunk := gcdTest(128, b1) // both scales are constant on a chunk
	out := make([]float32, M*N)
	for m := 0; m < M; m++ {
		row := x[m*K : (m+1)*K]
		qx := make([]float32, K)
		sx := make([]float32, (K+127)/128)
		for t := range sx {
			var amax float32
			for k := t * 128; k < min((t+1)*128, K); k++ {
				amax = float32(math.Max(float64(amax), math.Abs(float64(row[k]))))
			}
			s := amax / 448
			if amax == 0 {
				s = 1
			}
			sx[t] = s
			for k := t * 128; k < min((t+1)*128, K); k++ {
				qx[k] = runtime.RoundE4M3(row[k] / s)
			}
		}
		for n := 0; n < N; n++ {
			var acc float32
			for k0 := 0; k0 < K; k0 += chunk {
				var p float32
				for k := k0; k < min(k0+chunk, K); k++ {
					p += qx[k] * w.F[off+n*K+k]
				}
				s := float32(sx[k0/128] * w.Scale.F[soff+(n/b0)*sc+k0/b1])
				acc = acc + float32(p*s)
			}
			out[m*N+n] = acc
		}
	}
	return out
}

func gcdTest(a, b int) int {
	for b > 0 {
		a, b = b, a%b
	}
	return a
}

func TestFP8Linear(t *testing.T) {
	rng := newRNG(t)
	for _, c := range []struct{ M, N, K, b0, b1 int }{
		{7, 200, 300, 128, 128},  // partial blocks both ways
		{70, 256, 512, 128, 128}, // whole blocks, several K blocks of the GEMM
		{33, 33, 129, 128, 128},  // one element past a tile
		{29, 100, 200, 64, 96},   // other block shapes: chunks of gcd(128, 96) = 32
		{40, 17, 40, 16, 256},
	} {
		x := randF(rng, ir.F32, 1, c.M, c.K)
		x.F[0] = 0 // an element of zero, and a whole zero tile when K allows
		w := randF(rng, ir.F32, 0.05, c.N, c.K)
		wq := quantizeWeight(w, c.b0, c.b1)
		wty := ir.T(ir.F8E4M3, ir.C(int64(c.N)), ir.C(int64(c.K)))
		got := runOp(t, FP8, "linear", nil, symArg{x}, paramArg{name: "w", t: wq, ty: &wty})[0]
		want := emulFP8Linear(x.F, c.M, c.K, wq, 0, 0)
		for i, v := range got.F {
			if v != want[i] {
				t.Fatalf("%+v: element %d = %v, emulation gives %v (not bit-exact)", c, i, v, want[i])
			}
		}
		checkClose(t, fmt.Sprintf("fp8 linear %+v", c), got, refLinear(f64s(x), dequant64(wq), c.M, c.N, c.K), tolFP8)
	}
}

func TestFP8LinearBF16Activations(t *testing.T) {
	rng := newRNG(t)
	M, N, K := 11, 150, 384
	x := randF(rng, ir.BF16, 2, 2, M, K) // rank 3
	wq := quantizeWeight(randF(rng, ir.F32, 0.05, N, K), 128, 128)
	wty := ir.T(ir.F8E4M3, ir.C(int64(N)), ir.C(int64(K)))
	got := runOp(t, FP8, "linear", nil, x, paramArg{name: "w", t: wq, ty: &wty})[0]
	checkRepresentable(t, "fp8 linear", got, ir.BF16)
	want := emulFP8Linear(x.F, 2*M, K, wq, 0, 0)
	for i, v := range got.F {
		if w := runtime.RoundBF16(want[i]); v != w {
			t.Fatalf("element %d = %v, emulation gives %v", i, v, w)
		}
	}
	checkClose(t, "fp8 linear (bf16 x)", got, refLinear(f64s(x), dequant64(wq), 2*M, N, K), tolFP8)
	// Without scales the weight takes the bf16 path even in FP8 mode.
	w := randF(rng, ir.BF16, 0.05, N, K)
	got = runOp(t, FP8, "linear", nil, x, paramArg{name: "w", t: w})[0]
	ref := refLinear(f64s(x), f64s(w), 2*M, N, K)
	for i := range ref {
		ref[i] = float64(runtime.RoundBF16(float32(ref[i])))
	}
	checkClose(t, "unquantized linear in fp8 mode", got, ref, 1e-3) // not the ~2% of the fp8 path
}

func TestFP8GroupedLinear(t *testing.T) {
	rng := newRNG(t)
	T, k, E, N, K := 9, 3, 5, 136, 200
	w := randF(rng, ir.F32, 0.05, E, N, K)
	wq := quantizeWeight(w, 128, 128)
	wty := ir.T(ir.F8E4M3, ir.C(int64(E)), ir.C(int64(N)), ir.C(int64(K)))
	idx := randI(rng, ir.I32, 0, int64(E), T, k)
	sper := ceilDiv(N, 128) * ceilDiv(K, 128)
	for _, perSlot := range []bool{false, true} {
		x := randF(rng, ir.F32, 1, T, K)
		if perSlot {
			x = randF(rng, ir.F32, 1, T, k, K)
		}
		got := runOp(t, FP8, "grouped_linear", nil, symArg{x}, paramArg{name: "experts", t: wq, ty: &wty}, symArg{idx})[0]
		for tt := 0; tt < T; tt++ {
			for j := 0; j < k; j++ {
				row := x.F[tt*K : (tt+1)*K]
				if perSlot {
					row = x.F[(tt*k+j)*K : (tt*k+j+1)*K]
				}
				e := int(idx.I[tt*k+j])
				want := emulFP8Linear(row, 1, K, wq, e*N*K, e*sper)
				for n, v := range want {
					if g := got.F[(tt*k+j)*N+n]; g != v {
						t.Fatalf("perSlot %v: y[%d, %d, %d] = %v, emulation gives %v", perSlot, tt, j, n, g, v)
					}
				}
			}
		}
		checkClose(t, "fp8 grouped_linear", got, refGrouped(f64s(x), perSlot, dequant64(wq), idx.I, T, k, N, K), tolFP8)
		// FP32 mode dequantises the experts.
		got = runOp(t, FP32, "grouped_linear", nil, symArg{x}, paramArg{name: "experts", t: wq, ty: &wty}, symArg{idx})[0]
		checkClose(t, "grouped_linear fp8 weights in fp32 mode", got, refGrouped(f64s(x), perSlot, dequant64(wq), idx.I, T, k, N, K), tolF32)
	}
}
