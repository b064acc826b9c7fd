package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/deepc-dev/deepc/internal/testseed"
	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/runtime"
)

// Test helpers: random tensors (fresh each run, replayable with
// DEEPC_TEST_SEED), one-op functions built with ir.Builder, float64
// comparisons.

func newRNG(t testing.TB) *rand.Rand {
	seed := testseed.Seed(t)
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// randF returns a float tensor of normal values (scaled by std), rounded to
// dt so the values are exact in it; never zero.
func randF(rng *rand.Rand, dt ir.DType, std float64, shape ...int) *runtime.Tensor {
	t := runtime.NewTensor(dt, shape...)
	for i := range t.F {
		v := float32(0)
		for v == 0 {
			v = runtime.RoundTo(dt, float32(rng.NormFloat64()*std))
		}
		t.F[i] = v
	}
	return t
}

// randPos returns a float tensor of values in [lo, hi).
func randRange(rng *rand.Rand, lo, hi float64, shape ...int) *runtime.Tensor {
	t := runtime.NewTensor(ir.F32, shape...)
	for i := range t.F {
		t.F[i] = float32(lo + (hi-lo)*rng.Float64())
		if t.F[i] == 0 {
			t.F[i] = float32(lo+hi) / 2
		}
	}
	return t
}

// randI returns an integer tensor with values in [lo, hi).
func randI(rng *rand.Rand, dt ir.DType, lo, hi int64, shape ...int) *runtime.Tensor {
	t := runtime.NewTensor(dt, shape...)
	for i := range t.I {
		t.I[i] = lo + rng.Int64N(hi-lo)
	}
	return t
}

func ints(dt ir.DType, vs ...int64) *runtime.Tensor {
	t := runtime.NewTensor(dt, len(vs))
	copy(t.I, vs)
	return t
}

// tensorType is the IR type of a tensor; dim 0 becomes the symbol T when sym is set.
func tensorType(t *runtime.Tensor, sym bool) ir.Type {
	ty := t.Type()
	if sym && len(ty.Shape) > 0 {
		ty.Shape[0] = ir.S("T")
	}
	return ty
}

// runOp applies op name to args (*runtime.Tensor: a function argument;
// symArg: an argument whose dim 0 is T; paramArg: a module param) in a
// one-op function run with poisoned outputs, and returns the results.
func runOp(t testing.TB, mode Mode, name string, attrs ir.Attrs, args ...any) []*runtime.Tensor {
	t.Helper()
	outs, err := tryOp(mode, name, attrs, args...)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return outs
}

// paramArg marks a tensor to be passed as a module param.
type paramArg struct {
	name string
	t    *runtime.Tensor
	ty   *ir.Type // declared type (default: the tensor's)
}

// symArg marks a tensor argument whose dim 0 is the symbol T.
type symArg struct{ t *runtime.Tensor }

func tryOp(mode Mode, name string, attrs ir.Attrs, args ...any) ([]*runtime.Tensor, error) {
	f, params, inputs, err := buildOp(name, attrs, args...)
	if err != nil {
		return nil, err
	}
	return run(f, params, inputs, Options{Mode: mode, Workers: 3}, true)
}

func buildOp(name string, attrs ir.Attrs, args ...any) (*ir.Func, map[string]*runtime.Tensor, []*runtime.Tensor, error) {
	m := &ir.Module{Name: "test"}
	b := m.NewFunc("f")
	b.Loc = ir.Loc{File: "test.deep", Line: 7, Col: 3}
	params := map[string]*runtime.Tensor{}
	var vals []*ir.Value
	var inputs []*runtime.Tensor
	for i, a := range args {
		switch a := a.(type) {
		case *runtime.Tensor:
			vals = append(vals, b.Arg(fmt.Sprintf("a%d", i), tensorType(a, false)))
			inputs = append(inputs, a)
		case symArg:
			vals = append(vals, b.Arg(fmt.Sprintf("a%d", i), tensorType(a.t, true)))
			inputs = append(inputs, a.t)
		case paramArg:
			ty := a.t.Type()
			if a.ty != nil {
				ty = *a.ty
			}
			p := &ir.Param{Name: a.name, Type: ty}
			m.Params = append(m.Params, p)
			params[a.name] = a.t
			vals = append(vals, b.Param(p))
		default:
			return nil, nil, nil, fmt.Errorf("bad test argument %T", a)
		}
	}
	res, err := b.Emit(name, vals, attrs)
	if err != nil {
		return nil, nil, nil, err
	}
	b.Return(res...)
	if err := ir.Verify(m); err != nil {
		return nil, nil, nil, err
	}
	return b.F, params, inputs, nil
}

// relErr is the relative Frobenius error of got against want.
func relErr(got []float32, want []float64) float64 {
	var num, den float64
	for i, w := range want {
		d := float64(got[i]) - w
		num += d * d
		den += w * w
	}
	if den == 0 {
		return math.Sqrt(num)
	}
	return math.Sqrt(num / den)
}

// checkClose fails unless got matches want within tol (relative Frobenius)
// and got has no NaN (every element was written).
func checkClose(t testing.TB, what string, got *runtime.Tensor, want []float64, tol float64) {
	t.Helper()
	if len(got.F) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got.F), len(want))
	}
	for i, v := range got.F {
		if v != v && !math.IsNaN(want[i]) {
			t.Fatalf("%s: element %d is NaN (not written?)", what, i)
		}
	}
	if e := relErr(got.F, want); e > tol || e != e {
		t.Errorf("%s: relative error %.3g > %.3g", what, e, tol)
	}
}

// checkInts fails unless got equals want exactly.
func checkInts(t testing.TB, what string, got *runtime.Tensor, want []int64) {
	t.Helper()
	if !slices.Equal(got.I, want) {
		t.Errorf("%s: got %v, want %v", what, got.I, want)
	}
}

func f64s(t *runtime.Tensor) []float64 {
	out := make([]float64, len(t.F))
	for i, v := range t.F {
		out[i] = float64(v)
	}
	return out
}

// strides of a row-major shape.
func strides(shape []int) []int {
	st := make([]int, len(shape))
	acc := 1
	for i := len(shape) - 1; i >= 0; i-- {
		st[i] = acc
		acc *= shape[i]
	}
	return st
}

// unravel returns the multi-index of flat index i.
func unravel(i int, shape []int) []int {
	idx := make([]int, len(shape))
	for d := len(shape) - 1; d >= 0; d-- {
		idx[d] = i % shape[d]
		i /= shape[d]
	}
	return idx
}

// bcastIndex maps an output multi-index to the flat index of an operand of
// shape s under numpy broadcasting.
func bcastIndex(idx []int, s []int) int {
	off, st := 0, strides(s)
	for d := range s {
		o := len(idx) - len(s) + d
		if s[d] != 1 {
			off += idx[o] * st[d]
		}
	}
	return off
}

// dequant64 is the float64 value of every element of a (maybe quantized) tensor.
func dequant64(t *runtime.Tensor) []float64 {
	out := f64s(t)
	if t.Scale == nil {
		return out
	}
	r := len(t.Shape)
	rows, cols := t.Shape[r-2], t.Shape[r-1]
	sr, sc := ceilDiv(rows, t.Block[0]), ceilDiv(cols, t.Block[1])
	for i := range out {
		m, rc := i/(rows*cols), i%(rows*cols)
		row, col := rc/cols, rc%cols
		s := t.Scale.F[(m*sr+row/t.Block[0])*sc+col/t.Block[1]]
		out[i] = float64(float32(t.F[i] * s)) // the f32 product, as dequantisation computes it
	}
	return out
}

// quantizeWeight block-quantizes a float weight (last two axes) like a
// DeepSeek FP8 checkpoint: per block scale = amax/448, fp8 = e4m3(w/scale).
func quantizeWeight(w *runtime.Tensor, b0, b1 int) *runtime.Tensor {
	r := len(w.Shape)
	rows, cols := w.Shape[r-2], w.Shape[r-1]
	sr, sc := ceilDiv(rows, b0), ceilDiv(cols, b1)
	mats := w.Numel() / (rows * cols)
	sshape := slices.Clone(w.Shape)
	sshape[r-2], sshape[r-1] = sr, sc
	q := &runtime.Tensor{DType: ir.F8E4M3, Shape: slices.Clone(w.Shape), F: make([]float32, len(w.F)),
		Scale: runtime.NewTensor(ir.F32, sshape...), Block: [2]int{b0, b1}}
	for m := 0; m < mats; m++ {
		for bi := 0; bi < sr; bi++ {
			for bj := 0; bj < sc; bj++ {
				var amax float32
				for i := bi * b0; i < min((bi+1)*b0, rows); i++ {
					for j := bj * b1; j < min((bj+1)*b1, cols); j++ {
						amax = max(amax, float32(math.Abs(float64(w.F[(m*rows+i)*cols+j]))))
					}
				}
				s := amax / 448
				if s == 0 {
					s = 1
				}
				q.Scale.F[(m*sr+bi)*sc+bj] = s
				for i := bi * b0; i < min((bi+1)*b0, rows); i++ {
					for j := bj * b1; j < min((bj+1)*b1, cols); j++ {
						k := (m*rows+i)*cols + j
						q.F[k] = runtime.RoundE4M3(w.F[k] / s)
					}
				}
			}
		}
	}
	return q
}
