package cpu

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/runtime"
)

// Every op against a plain float64 implementation written here, in FP32
// mode at relative Frobenius error 1e-6 (integer results exactly).

const tolF32 = 1e-6

func TestUnaryFloat(t *testing.T) {
	rng := newRNG(t)
	ref := map[string]func(float64) float64{
		"exp": math.Exp, "log": math.Log, "sqrt": math.Sqrt,
		"rsqrt":   func(x float64) float64 { return 1 / math.Sqrt(x) },
		"sigmoid": func(x float64) float64 { return 1 / (1 + math.Exp(-x)) },
		"silu":    func(x float64) float64 { return x / (1 + math.Exp(-x)) },
		"tanh":    math.Tanh, "neg": func(x float64) float64 { return -x }, "abs": math.Abs,
		"sign": func(x float64) float64 {
			if x > 0 {
				return 1
			}
			return -1
		},
	}
	for name, fn := range ref {
		x := randF(rng, ir.F32, 2, 5, 37)
		if name == "log" || name == "sqrt" || name == "rsqrt" {
			x = randRange(rng, 0.01, 10, 5, 37)
		}
		got := runOp(t, FP32, name, nil, symArg{x})[0]
		want := make([]float64, len(x.F))
		for i, v := range x.F {
			want[i] = fn(float64(v))
		}
		checkClose(t, name, got, want, tolF32)
	}
}

func TestUnaryInt(t *testing.T) {
	rng := newRNG(t)
	x := randI(rng, ir.I64, -50, 50, 4, 9)
	x.I[0] = 0
	for name, fn := range map[string]func(int64) int64{
		"neg": func(v int64) int64 { return -v },
		"abs": func(v int64) int64 { return max(v, -v) },
		"sign": func(v int64) int64 {
			return map[bool]int64{true: 1, false: 0}[v > 0] - map[bool]int64{true: 1, false: 0}[v < 0]
		},
	} {
		got := runOp(t, FP32, name, nil, x)[0]
		want := make([]int64, len(x.I))
		for i, v := range x.I {
			want[i] = fn(v)
		}
		checkInts(t, name, got, want)
	}
}

// Broadcasting shapes exercised by the binary ops: equal, trailing, middle
// size-1 dims, lower rank, scalar.
var bcastCases = [][2][]int{
	{{6, 33}, {6, 33}},
	{{6, 33}, {33}},
	{{3, 1, 5}, {4, 1}},
	{{2, 4, 1}, {1, 4, 7}},
	{{5, 8}, {}},
	{{1}, {7, 3}},
}

func bcastShape(a, b []int) []int {
	n := max(len(a), len(b))
	out := make([]int, n)
	for i := range out {
		x, y := 1, 1
		if j := len(a) - n + i; j >= 0 {
			x = a[j]
		}
		if j := len(b) - n + i; j >= 0 {
			y = b[j]
		}
		out[i] = max(x, y)
	}
	return out
}

func TestBinaryFloat(t *testing.T) {
	rng := newRNG(t)
	ref := map[string]func(a, b float64) float64{
		"add":     func(a, b float64) float64 { return a + b },
		"sub":     func(a, b float64) float64 { return a - b },
		"mul":     func(a, b float64) float64 { return a * b },
		"div":     func(a, b float64) float64 { return a / b },
		"maximum": math.Max, "minimum": math.Min, "pow": math.Pow,
	}
	for name, fn := range ref {
		for _, sh := range bcastCases {
			a, b := randF(rng, ir.F32, 1, sh[0]...), randF(rng, ir.F32, 1, sh[1]...)
			if name == "pow" {
				a = randRange(rng, 0.1, 3, sh[0]...)
			}
			got := runOp(t, FP32, name, nil, a, b)[0]
			out := bcastShape(sh[0], sh[1])
			want := make([]float64, numel(out))
			for i := range want {
				idx := unravel(i, out)
				want[i] = fn(float64(a.F[bcastIndex(idx, sh[0])]), float64(b.F[bcastIndex(idx, sh[1])]))
			}
			checkClose(t, name+" "+ir.Consts().String(), got, want, tolF32)
			if !slices.Equal(got.Shape, out) {
				t.Errorf("%s %v %v: shape %v, want %v", name, sh[0], sh[1], got.Shape, out)
			}
		}
	}
}

func TestBinaryInt(t *testing.T) {
	rng := newRNG(t)
	ref := map[string]func(a, b int64) int64{
		"add": func(a, b int64) int64 { return a + b }, "sub": func(a, b int64) int64 { return a - b },
		"mul": func(a, b int64) int64 { return a * b }, "div": func(a, b int64) int64 { return a / b },
		"maximum": func(a, b int64) int64 { return max(a, b) }, "minimum": func(a, b int64) int64 { return min(a, b) },
		"pow": func(a, b int64) int64 {
			r := int64(1)
			for i := int64(0); i < b; i++ {
				r *= a
			}
			return r
		},
	}
	for name, fn := range ref {
		for _, sh := range bcastCases {
			a, b := randI(rng, ir.I32, -20, 20, sh[0]...), randI(rng, ir.I32, 1, 6, sh[1]...)
			got := runOp(t, FP32, name, nil, a, b)[0]
			out := bcastShape(sh[0], sh[1])
			want := make([]int64, numel(out))
			for i := range want {
				idx := unravel(i, out)
				want[i] = int64(int32(fn(a.I[bcastIndex(idx, sh[0])], b.I[bcastIndex(idx, sh[1])])))
			}
			checkInts(t, name, got, want)
		}
	}
	// Integer division by zero is an error naming the op.
	_, err := tryOp(FP32, "div", nil, ints(ir.I32, 1, 2), ints(ir.I32, 1, 0))
	if err == nil || !contains(err.Error(), "division by zero") || !contains(err.Error(), "div at test.deep:7:3") {
		t.Errorf("integer division by zero: %v", err)
	}
}

func TestCompareAndWhere(t *testing.T) {
	rng := newRNG(t)
	ref := map[string]func(a, b float64) bool{
		"eq": func(a, b float64) bool { return a == b }, "ne": func(a, b float64) bool { return a != b },
		"lt": func(a, b float64) bool { return a < b }, "le": func(a, b float64) bool { return a <= b },
		"gt": func(a, b float64) bool { return a > b }, "ge": func(a, b float64) bool { return a >= b },
	}
	for name, fn := range ref {
		for _, sh := range bcastCases {
			// Few distinct values, so equal pairs occur.
			a, b := randI(rng, ir.I64, -3, 3, sh[0]...), randI(rng, ir.I64, -3, 3, sh[1]...)
			af, bf := runtime.NewTensor(ir.F32, sh[0]...), runtime.NewTensor(ir.F32, sh[1]...)
			for i, v := range a.I {
				af.F[i] = float32(v) / 2
			}
			for i, v := range b.I {
				bf.F[i] = float32(v) / 2
			}
			out := bcastShape(sh[0], sh[1])
			want := make([]int64, numel(out))
			for i := range want {
				idx := unravel(i, out)
				want[i] = b2i(fn(float64(a.I[bcastIndex(idx, sh[0])]), float64(b.I[bcastIndex(idx, sh[1])])))
			}
			checkInts(t, name+" f32", runOp(t, FP32, name, nil, af, bf)[0], want)
			checkInts(t, name+" i64", runOp(t, FP32, name, nil, a, b)[0], want)
		}
	}
	cond := randI(rng, ir.Bool, 0, 2, 3, 1, 5)
	a, b := randF(rng, ir.F32, 1, 4, 1), randF(rng, ir.F32, 1, 3, 4, 5)
	got := runOp(t, FP32, "where", nil, cond, a, b)[0]
	want := make([]float64, 60)
	for i := range want {
		idx := unravel(i, []int{3, 4, 5})
		if cond.I[bcastIndex(idx, cond.Shape)] != 0 {
			want[i] = float64(a.F[bcastIndex(idx, a.Shape)])
		} else {
			want[i] = float64(b.F[bcastIndex(idx, b.Shape)])
		}
	}
	checkClose(t, "where", got, want, 0)
}

func TestCastAndConst(t *testing.T) {
	rng := newRNG(t)
	x := randF(rng, ir.F32, 300, 8, 16)
	x.F[0], x.F[1], x.F[2] = 1000, -1000, 2.5 // saturate in f8e4m3; truncation
	// FP32 mode: floats stay f32.
	got := runOp(t, FP32, "cast", ir.Attrs{"dtype": ir.BF16}, x)[0]
	checkClose(t, "cast bf16 (fp32 mode)", got, f64s(x), 0)
	// BF16 mode rounds to the target dtype.
	for _, dt := range []ir.DType{ir.BF16, ir.F16, ir.F8E4M3, ir.F8E5M2} {
		got := runOp(t, BF16, "cast", ir.Attrs{"dtype": dt}, x)[0]
		if got.DType != dt {
			t.Errorf("cast to %s gave %s", dt, got.DType)
		}
		for i, v := range x.F {
			if w := runtime.RoundTo(dt, v); got.F[i] != w && !(w != w && got.F[i] != got.F[i]) {
				t.Fatalf("cast %v to %s = %v, want %v", v, dt, got.F[i], w)
			}
		}
		if dt == ir.F8E4M3 && (got.F[0] != 448 || got.F[1] != -448) {
			t.Errorf("cast to f8e4m3 does not saturate: %v %v", got.F[0], got.F[1])
		}
	}
	gi := runOp(t, FP32, "cast", ir.Attrs{"dtype": ir.I32}, x)[0]
	for i, v := range x.F {
		if gi.I[i] != int64(math.Trunc(float64(v))) {
			t.Fatalf("cast %v to i32 = %d", v, gi.I[i])
		}
	}
	ii := randI(rng, ir.I32, -1000, 1000, 17)
	gf := runOp(t, BF16, "cast", ir.Attrs{"dtype": ir.F32}, ii)[0]
	for i, v := range ii.I {
		if gf.F[i] != float32(v) {
			t.Fatalf("cast %d to f32 = %v", v, gf.F[i])
		}
	}
	gb := runOp(t, FP32, "cast", ir.Attrs{"dtype": ir.Bool}, ints(ir.I64, 0, 3, -1))[0]
	checkInts(t, "cast to bool", gb, []int64{0, 1, 1})
	c := runOp(t, BF16, "const", ir.Attrs{"value": 0.1, "dtype": ir.BF16})[0]
	if c.F[0] != runtime.RoundBF16(0.1) || len(c.Shape) != 0 {
		t.Errorf("const 0.1 bf16 = %v %v", c.F, c.Shape)
	}
	c = runOp(t, FP32, "const", ir.Attrs{"value": int64(-7), "dtype": ir.I32})[0]
	checkInts(t, "const i32", c, []int64{-7})
}

func TestReductions(t *testing.T) {
	rng := newRNG(t)
	shape := []int{3, 5, 7}
	x := randF(rng, ir.F32, 1, shape...)
	xi := randI(rng, ir.I32, -9, 9, shape...)
	for _, name := range []string{"sum", "mean", "reduce_max"} {
		for _, axis := range []int64{0, 1, 2, -1} {
			for _, keep := range []bool{false, true} {
				ax := int((axis + 3) % 3)
				outer, n, inner := split3(shape, ax)
				want := make([]float64, outer*inner)
				wanti := make([]int64, outer*inner)
				for o := 0; o < outer; o++ {
					for i := 0; i < inner; i++ {
						acc, acci := 0.0, int64(0)
						if name == "reduce_max" {
							acc, acci = math.Inf(-1), math.MinInt64
						}
						for j := 0; j < n; j++ {
							v, vi := float64(x.F[(o*n+j)*inner+i]), xi.I[(o*n+j)*inner+i]
							if name == "reduce_max" {
								acc, acci = math.Max(acc, v), max(acci, vi)
							} else {
								acc, acci = acc+v, acci+vi
							}
						}
						if name == "mean" {
							acc, acci = acc/float64(n), acci/int64(n)
						}
						want[o*inner+i], wanti[o*inner+i] = acc, acci
					}
				}
				attrs := ir.Attrs{"axis": axis, "keepdim": keep}
				got := runOp(t, FP32, name, attrs, x)[0]
				checkClose(t, name, got, want, tolF32)
				checkInts(t, name+" i32", runOp(t, FP32, name, attrs, xi)[0], wanti)
				if keep && got.Shape[ax] != 1 || !keep && len(got.Shape) != 2 {
					t.Errorf("%s axis %d keepdim %v: shape %v", name, axis, keep, got.Shape)
				}
			}
		}
	}
}

func TestSoftmax(t *testing.T) {
	rng := newRNG(t)
	shape := []int{4, 6, 9}
	x := randF(rng, ir.F32, 3, shape...)
	for _, axis := range []int64{0, 1, -1} {
		ax := int((axis + 3) % 3)
		outer, n, inner := split3(shape, ax)
		want := make([]float64, len(x.F))
		for o := 0; o < outer; o++ {
			for i := 0; i < inner; i++ {
				var sum float64
				for j := 0; j < n; j++ {
					sum += math.Exp(float64(x.F[(o*n+j)*inner+i]))
				}
				for j := 0; j < n; j++ {
					p := (o*n+j)*inner + i
					want[p] = math.Exp(float64(x.F[p])) / sum
				}
			}
		}
		checkClose(t, "softmax", runOp(t, FP32, "softmax", ir.Attrs{"axis": axis}, x)[0], want, tolF32)
	}
}

func refRMSNorm(x, w []float64, d int, eps float64) []float64 {
	out := make([]float64, len(x))
	for r := 0; r < len(x)/d; r++ {
		var ss float64
		for j := 0; j < d; j++ {
			ss += x[r*d+j] * x[r*d+j]
		}
		inv := 1 / math.Sqrt(ss/float64(d)+eps)
		for j := 0; j < d; j++ {
			out[r*d+j] = x[r*d+j] * inv * w[j]
		}
	}
	return out
}

func TestRMSNorm(t *testing.T) {
	rng := newRNG(t)
	x := randF(rng, ir.F32, 2, 2, 11, 96)
	w := randF(rng, ir.F32, 1, 96)
	got := runOp(t, FP32, "rms_norm", ir.Attrs{"eps": 1e-6}, x, paramArg{name: "norm.w", t: w})[0]
	checkClose(t, "rms_norm", got, refRMSNorm(f64s(x), f64s(w), 96, 1e-6), tolF32)
}

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

func TestMovement(t *testing.T) {
	rng := newRNG(t)
	x := randF(rng, ir.F32, 1, 4, 6, 5)
	// reshape
	got := runOp(t, FP32, "reshape", ir.Attrs{"shape": []int64{6, 20}}, x)[0]
	checkClose(t, "reshape", got, f64s(x), 0)
	// expand [6, 1] → [3, 6, 4]
	e := randF(rng, ir.F32, 1, 6, 1)
	got = runOp(t, FP32, "expand", ir.Attrs{"shape": []int64{3, 6, 4}}, e)[0]
	want := make([]float64, 72)
	for i := range want {
		want[i] = float64(e.F[unravel(i, []int{3, 6, 4})[1]])
	}
	checkClose(t, "expand", got, want, 0)
	// transpose [4, 6, 5] by [2, 0, 1] → [5, 4, 6]
	got = runOp(t, FP32, "transpose", ir.Attrs{"perm": []int64{2, 0, 1}}, x)[0]
	want = make([]float64, 120)
	for i := range want {
		o := unravel(i, []int{5, 4, 6})
		want[i] = float64(x.F[(o[1]*6+o[2])*5+o[0]])
	}
	checkClose(t, "transpose", got, want, 0)
	// concat along axis 1 of [4, 6, 5], [4, 2, 5], [4, 1, 5]
	y, z := randF(rng, ir.F32, 1, 4, 2, 5), randF(rng, ir.F32, 1, 4, 1, 5)
	got = runOp(t, FP32, "concat", ir.Attrs{"axis": int64(1)}, x, y, z)[0]
	want = make([]float64, 4*9*5)
	for i := range want {
		o := unravel(i, []int{4, 9, 5})
		switch {
		case o[1] < 6:
			want[i] = float64(x.F[(o[0]*6+o[1])*5+o[2]])
		case o[1] < 8:
			want[i] = float64(y.F[(o[0]*2+o[1]-6)*5+o[2]])
		default:
			want[i] = float64(z.F[o[0]*5+o[2]])
		}
	}
	checkClose(t, "concat", got, want, 0)
	// split axis -1 into 2, 3 and slice axis 1 from 1 to 4
	outs := runOp(t, FP32, "split", ir.Attrs{"axis": int64(-1), "sizes": []int64{2, 3}}, x)
	sl := runOp(t, FP32, "slice", ir.Attrs{"axis": int64(1), "start": int64(1), "end": int64(4)}, x)[0]
	for p, piece := range []struct {
		got        *runtime.Tensor
		shape      []int
		ax, offset int
	}{{outs[0], []int{4, 6, 2}, 2, 0}, {outs[1], []int{4, 6, 3}, 2, 2}, {sl, []int{4, 3, 5}, 1, 1}} {
		want := make([]float64, numel(piece.shape))
		for i := range want {
			o := unravel(i, piece.shape)
			o[piece.ax] += piece.offset
			want[i] = float64(x.F[(o[0]*6+o[1])*5+o[2]])
		}
		checkClose(t, []string{"split 0", "split 1", "slice"}[p], piece.got, want, 0)
	}
	// gather rows (axis 0, indices [2, 3]) and along axis 1
	table := randF(rng, ir.BF16, 1, 50, 8)
	ids := randI(rng, ir.I32, 0, 50, 2, 3)
	got = runOp(t, BF16, "gather", ir.Attrs{"axis": int64(0)}, paramArg{name: "emb", t: table}, ids)[0]
	want = make([]float64, 48)
	for i := range want {
		want[i] = float64(table.F[int(ids.I[i/8])*8+i%8])
	}
	checkClose(t, "gather axis 0", got, want, 0)
	if got.DType != ir.BF16 {
		t.Errorf("gather of a bf16 table in bf16 mode gave %s", got.DType)
	}
	ids1 := randI(rng, ir.I64, 0, 6, 7)
	got = runOp(t, FP32, "gather", ir.Attrs{"axis": int64(1)}, x, ids1)[0]
	want = make([]float64, 4*7*5)
	for i := range want {
		o := unravel(i, []int{4, 7, 5})
		want[i] = float64(x.F[(o[0]*6+int(ids1.I[o[1]]))*5+o[2]])
	}
	checkClose(t, "gather axis 1", got, want, 0)
	if _, err := tryOp(FP32, "gather", ir.Attrs{"axis": int64(0)}, table, ints(ir.I32, 50)); err == nil {
		t.Error("gather with an index out of range succeeded")
	}
	// take_along axis 1 and 0
	for _, ax := range []int{1, 0} {
		ishape := []int{4, 6, 5}
		ishape[ax] = 3
		idx := randI(rng, ir.I32, 0, int64(x.Shape[ax]), ishape...)
		got = runOp(t, FP32, "take_along", ir.Attrs{"axis": int64(ax)}, x, idx)[0]
		want = make([]float64, numel(ishape))
		for i := range want {
			o := unravel(i, ishape)
			o[ax] = int(idx.I[i])
			want[i] = float64(x.F[(o[0]*6+o[1])*5+o[2]])
		}
		checkClose(t, "take_along", got, want, 0)
	}
}

func TestShift(t *testing.T) {
	rng := newRNG(t)
	// Three packed sequences of lengths 3, 1, 4 (ids not sorted).
	seq := ints(ir.I32, 7, 7, 7, 2, 5, 5, 5, 5)
	x := randF(rng, ir.F32, 1, 8, 3)
	toks := randI(rng, ir.I32, 0, 100, 8)
	for _, off := range []int64{1, -1, 2, -3, 0, 8} {
		got := runOp(t, FP32, "shift", ir.Attrs{"offset": off}, symArg{x}, symArg{seq})[0]
		gi := runOp(t, FP32, "shift", ir.Attrs{"offset": off}, symArg{toks}, symArg{seq})[0]
		want := make([]float64, 24)
		wanti := make([]int64, 8)
		for t := 0; t < 8; t++ {
			s := t + int(off)
			if s >= 0 && s < 8 && seq.I[s] == seq.I[t] {
				for j := 0; j < 3; j++ {
					want[t*3+j] = float64(x.F[s*3+j])
				}
				wanti[t] = toks.I[s]
			}
		}
		checkClose(t, "shift", got, want, 0)
		checkInts(t, "shift tokens", gi, wanti)
	}
}

// refTopK is a stable sort by value, descending.
func refTopK(row []float32, k int) []int {
	idx := make([]int, len(row))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case row[a] > row[b]:
			return -1
		case row[a] < row[b]:
			return 1
		}
		return 0
	})
	return idx[:k]
}

func TestTopK(t *testing.T) {
	rng := newRNG(t)
	x := randI(rng, ir.I64, 0, 6, 5, 3, 12) // many ties
	xf := runtime.NewTensor(ir.F32, 5, 3, 12)
	for i, v := range x.I {
		xf.F[i] = float32(v) * 0.25
	}
	for _, k := range []int64{1, 4, 12} {
		outs := runOp(t, FP32, "topk", ir.Attrs{"k": k}, xf)
		for r := 0; r < 15; r++ {
			want := refTopK(xf.F[r*12:(r+1)*12], int(k))
			for j, i := range want {
				p := r*int(k) + j
				if outs[1].I[p] != int64(i) || outs[0].F[p] != xf.F[r*12+i] {
					t.Fatalf("topk k=%d row %d: got %v / %v, want indices %v", k, r, outs[0].F[r*int(k):(r+1)*int(k)], outs[1].I[r*int(k):(r+1)*int(k)], want)
				}
			}
		}
		if outs[1].DType != ir.I32 {
			t.Errorf("topk indices are %s", outs[1].DType)
		}
		oi := runOp(t, FP32, "topk", ir.Attrs{"k": k}, x)
		checkInts(t, "topk int indices", oi[1], outs[1].I)
	}
}

// refRoute is group-limited top-k from docs/op-semantics.md, with stable
// sorts for every tie rule and group sums in f32 added largest first.
func refRoute(s []float32, E, k, groups, kg, top int) []int64 {
	T := len(s) / E
	per := E / groups
	var out []int64
	for t := 0; t < T; t++ {
		row := s[t*E : (t+1)*E]
		gs := make([]float32, groups)
		for g := 0; g < groups; g++ {
			for _, i := range refTopK(row[g*per:(g+1)*per], top) {
				gs[g] += row[g*per+i]
			}
		}
		kept := refTopK(gs, kg)
		masked := make([]float32, E)
		for i := range masked {
			masked[i] = float32(math.Inf(-1))
		}
		for _, g := range kept {
			copy(masked[g*per:(g+1)*per], row[g*per:(g+1)*per])
		}
		for _, i := range refTopK(masked, k) {
			out = append(out, int64(i))
		}
	}
	return out
}

func TestRoute(t *testing.T) {
	rng := newRNG(t)
	T, E := 40, 32
	// Sigmoid scores plus a bias, as DeepSeek-V3 selects (group_top 2), and
	// coarse values so ties between experts and between groups occur.
	s := runtime.NewTensor(ir.F32, T, E)
	bias := runtime.NewTensor(ir.F32, E)
	for i := range bias.F {
		bias.F[i] = float32(rng.IntN(3)) * 0.125
	}
	for i := range s.F {
		s.F[i] = float32(1/(1+math.Exp(-rng.NormFloat64()))) + bias.F[i%E]
		if i%7 == 0 {
			s.F[i] = 0.5
		}
	}
	for _, c := range []struct{ k, groups, kg, top int }{{8, 8, 4, 2}, {4, 4, 2, 1}, {6, 1, 1, 1}, {3, 32, 3, 1}, {5, 4, 4, 8}} {
		attrs := ir.Attrs{"k": int64(c.k), "groups": int64(c.groups), "topk_groups": int64(c.kg)}
		if c.top != 1 {
			attrs["group_top"] = int64(c.top)
		}
		got := runOp(t, FP32, "route", attrs, symArg{s})[0]
		checkInts(t, "route", got, refRoute(s.F, E, c.k, c.groups, c.kg, c.top))
	}
	// All-equal scores: the lowest groups and indices win.
	eq := runtime.NewTensor(ir.F32, 1, 8)
	for i := range eq.F {
		eq.F[i] = 1
	}
	got := runOp(t, FP32, "route", ir.Attrs{"k": int64(3), "groups": int64(4), "topk_groups": int64(2)}, eq)[0]
	checkInts(t, "route ties", got, []int64{0, 1, 2})
}

// refRope implements rope from docs/op-semantics.md in float64.
func refRope(x []float64, pos []int64, T, per, d int, theta float64, yarn map[string]float64) []float64 {
	freq := make([]float64, d/2)
	for i := range freq {
		freq[i] = 1 / math.Pow(theta, float64(2*i)/float64(d))
	}
	if yarn != nil {
		dim := float64(d)
		low := math.Floor(dim * math.Log(yarn["orig"]/(yarn["beta_fast"]*2*math.Pi)) / (2 * math.Log(theta)))
		high := math.Ceil(dim * math.Log(yarn["orig"]/(yarn["beta_slow"]*2*math.Pi)) / (2 * math.Log(theta)))
		low, high = math.Min(math.Max(low, 0), dim-1), math.Min(math.Max(high, 0), dim-1)
		if low == high {
			high += 0.001
		}
		for i := range freq {
			ramp := math.Min(math.Max((float64(i)-low)/(high-low), 0), 1)
			freq[i] = freq[i]/yarn["factor"]*ramp + freq[i]*(1-ramp)
		}
	}
	out := make([]float64, len(x))
	for t := 0; t < T; t++ {
		for v := 0; v < per; v++ {
			for i := 0; i < d/2; i++ {
				a := float64(pos[t]) * freq[i]
				p := (t*per+v)*d + 2*i
				re, im := x[p], x[p+1]
				out[p] = re*math.Cos(a) - im*math.Sin(a)
				out[p+1] = re*math.Sin(a) + im*math.Cos(a)
			}
		}
	}
	return out
}

func TestRope(t *testing.T) {
	rng := newRNG(t)
	T, H, d := 9, 3, 64
	x := randF(rng, ir.F32, 1, T, H, d)
	pos := randI(rng, ir.I32, 0, 5000, T)
	pos.I[0] = 0
	for _, yarn := range []map[string]float64{
		nil,
		{"factor": 40, "orig": 4096, "beta_fast": 32, "beta_slow": 1},
		{"factor": 4, "orig": 256, "beta_fast": 32, "beta_slow": 1},
		{"factor": 8, "orig": 4, "beta_fast": 32, "beta_slow": 1}, // both clamp to 0: low == high
	} {
		attrs := ir.Attrs{"theta": 10000.0}
		if yarn != nil {
			attrs["scaling"] = ir.Attrs{"type": "yarn", "factor": yarn["factor"],
				"original_max_position_embeddings": int64(yarn["orig"]), "beta_fast": yarn["beta_fast"], "beta_slow": yarn["beta_slow"],
				"mscale": 1.0, "mscale_all_dim": 1.0}
		}
		got := runOp(t, FP32, "rope", attrs, symArg{x}, symArg{pos})[0]
		checkClose(t, "rope", got, refRope(f64s(x), pos.I, T, H, d, 10000, yarn), tolF32)
	}
	// [T, 1, d] (MLA's shared k_pe) with a small theta.
	x1 := randF(rng, ir.F32, 1, T, 1, 16)
	got := runOp(t, FP32, "rope", ir.Attrs{"theta": 500.0}, symArg{x1}, symArg{pos})[0]
	checkClose(t, "rope [T,1,16]", got, refRope(f64s(x1), pos.I, T, 1, 16, 500, nil), tolF32)
}

// refAttention is attention over packed sequences (docs/op-semantics.md).
func refAttention(q, k, v []float64, kpos, kseq, pos, seq []int64, H, Hk, dq, dv int, scale float64, causal bool) []float64 {
	T, C := len(pos), len(kpos)
	out := make([]float64, T*H*dv)
	for t := 0; t < T; t++ {
		for h := 0; h < H; h++ {
			hk := h
			if Hk == 1 {
				hk = 0
			}
			var ss []float64
			var vis []int
			for s := 0; s < C; s++ {
				if kseq[s] != seq[t] || kseq[s] == -1 || causal && kpos[s] > pos[t] {
					continue
				}
				var dot float64
				for i := 0; i < dq; i++ {
					dot += q[(t*H+h)*dq+i] * k[(s*Hk+hk)*dq+i]
				}
				ss = append(ss, dot*scale)
				vis = append(vis, s)
			}
			m := math.Inf(-1)
			for _, x := range ss {
				m = math.Max(m, x)
			}
			var sum float64
			for j := range ss {
				ss[j] = math.Exp(ss[j] - m)
				sum += ss[j]
			}
			for j, s := range vis {
				for i := 0; i < dv; i++ {
					out[(t*H+h)*dv+i] += ss[j] / sum * v[(s*Hk+hk)*dv+i]
				}
			}
		}
	}
	return out
}

func TestAttention(t *testing.T) {
	rng := newRNG(t)
	// Sequences of lengths 5, 1, 7 and 3, interleaved in the packing, with
	// positions not starting at 0 for one of them.
	seq := ints(ir.I32, 0, 0, 0, 0, 0, 1, 2, 2, 2, 3, 2, 2, 2, 2, 3, 3)
	pos := ints(ir.I32, 0, 1, 2, 3, 4, 0, 0, 1, 2, 10, 3, 4, 5, 6, 11, 12)
	T, H, dq, dv := 16, 3, 24, 16
	q, k, v := randF(rng, ir.F32, 1, T, H, dq), randF(rng, ir.F32, 1, T, H, dq), randF(rng, ir.F32, 1, T, H, dv)
	for _, causal := range []bool{true, false} {
		attrs := ir.Attrs{"scale": 0.2}
		if !causal {
			attrs["causal"] = false
		}
		got := runOp(t, FP32, "attention", attrs, symArg{q}, symArg{k}, symArg{v}, symArg{pos}, symArg{seq})[0]
		want := refAttention(f64s(q), f64s(k), f64s(v), pos.I, seq.I, pos.I, seq.I, H, H, dq, dv, 0.2, causal)
		checkClose(t, "attention", got, want, tolF32)
	}
}

func TestAttentionCacheAndKVWrite(t *testing.T) {
	rng := newRNG(t)
	C, T, H, dq, dv := 12, 5, 3, 16, 8
	kseq := ints(ir.I32, 0, 0, 1, -1, 1, 0, -1, 1, 0, -1, 2, 0)
	kpos := ints(ir.I32, 0, 1, 0, 0, 1, 2, 0, 2, 3, 0, 0, 4)
	seq := ints(ir.I32, 0, 1, 1, 3, -1) // sequence 3 has no slot, nor does -1 (free slots are not a sequence): output 0
	pos := ints(ir.I32, 3, 1, 2, 0, 5)
	q := randF(rng, ir.F32, 1, T, H, dq)
	for _, Hk := range []int{H, 1} {
		k, v := randF(rng, ir.F32, 1, C, Hk, dq), randF(rng, ir.F32, 1, C, Hk, dv)
		for _, causal := range []bool{true, false} {
			attrs := ir.Attrs{"scale": 0.3, "causal": causal}
			got := runOp(t, FP32, "attention_cache", attrs, symArg{q}, k, v, symArg{pos}, symArg{seq}, kpos, kseq)[0]
			want := refAttention(f64s(q), f64s(k), f64s(v), kpos.I, kseq.I, pos.I, seq.I, H, Hk, dq, dv, 0.3, causal)
			checkClose(t, "attention_cache", got, want, tolF32)
		}
	}
	cache := randF(rng, ir.F32, 1, C, 5)
	x := randF(rng, ir.F32, 1, T, 5)
	slot := ints(ir.I32, 3, 6, 0, 11, 2)
	got := runOp(t, FP32, "kv_write", nil, cache, symArg{x}, symArg{slot})[0]
	want := f64s(cache)
	for t, s := range slot.I {
		for j := 0; j < 5; j++ {
			want[int(s)*5+j] = float64(x.F[t*5+j])
		}
	}
	checkClose(t, "kv_write", got, want, 0)
	if got == cache || cache.F[15] != float32(want[15]) && cache.F[15] == x.F[0] {
		t.Error("kv_write overwrote a function argument without Donate")
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
