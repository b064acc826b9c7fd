package cpu

import (
	"math"
	"slices"
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
		"tanh":    math.Tanh, "erf": math.Erf, "neg": func(x float64) float64 { return -x }, "abs": math.Abs,
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
