package cpu

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/runtime"
)

func TestParseMode(t *testing.T) {
	for _, m := range []Mode{FP32, BF16, FP8} {
		got, err := ParseMode(m.String())
		if err != nil || got != m {
			t.Errorf("ParseMode(%q) = %v, %v", m.String(), got, err)
		}
	}
	if m, err := ParseMode("BF16"); err != nil || m != BF16 {
		t.Errorf("ParseMode is not case-insensitive: %v %v", m, err)
	}
	if _, err := ParseMode("fp16"); err == nil || !contains(err.Error(), "fp32, bf16 or fp8") {
		t.Errorf("ParseMode(fp16): %v", err)
	}
	if s := Mode(7).String(); s != "mode(7)" {
		t.Errorf("Mode(7).String() = %q", s)
	}
}

// chain builds f(x: [T, 4] f32, ids: [T] i32) = ((x*2 + x) ... ) n times,
// with a param read and a location per op.
func chain(n int) (*ir.Module, *ir.Func) {
	m := &ir.Module{Name: "chain", Params: []*ir.Param{{Name: "scale", Type: ir.T(ir.F32, ir.C(4))}}}
	b := m.NewFunc("f")
	x := b.Arg("x", ir.T(ir.F32, ir.S("T"), ir.C(4)))
	b.Arg("ids", ir.T(ir.I32, ir.S("T")))
	h := x
	for i := 0; i < n; i++ {
		b.Loc = ir.Loc{File: "chain.deep", Line: 10 + i, Col: 2}
		s := b.Param(m.Params[0])
		p, _ := b.Emit1("mul", []*ir.Value{h, s}, nil)
		h, _ = b.Emit1("add", []*ir.Value{p, x}, nil)
	}
	b.Return(h)
	return m, b.F
}

func TestRunErrors(t *testing.T) {
	m, f := chain(3)
	if err := ir.Verify(m); err != nil {
		t.Fatal(err)
	}
	scale := runtime.NewTensor(ir.F32, 4)
	params := map[string]*runtime.Tensor{"scale": scale}
	x := runtime.NewTensor(ir.F32, 3, 4)
	ids := runtime.NewTensor(ir.I32, 3)
	cases := []struct {
		name   string
		params map[string]*runtime.Tensor
		args   []*runtime.Tensor
		want   []string
	}{
		{"arity", params, []*runtime.Tensor{x}, []string{"func @f", "takes 2 arguments, got 1"}},
		{"symbol", params, []*runtime.Tensor{x, runtime.NewTensor(ir.I32, 5)}, []string{"argument %ids", "dim 0 (T) is 5", "T = 3 from argument %x"}},
		{"const dim", params, []*runtime.Tensor{runtime.NewTensor(ir.F32, 3, 5), ids}, []string{"argument %x", "dim 1 is 5, want 4"}},
		{"rank", params, []*runtime.Tensor{runtime.NewTensor(ir.F32, 12), ids}, []string{"argument %x", "want rank 2"}},
		{"arg dtype", params, []*runtime.Tensor{runtime.NewTensor(ir.I32, 3, 4), ids}, []string{"argument %x", "dtype i32, want f32"}},
		{"nil arg", params, []*runtime.Tensor{nil, ids}, []string{"argument %x is nil"}},
		{"bad storage", params, []*runtime.Tensor{{DType: ir.F32, Shape: []int{3, 4}}, ids}, []string{"argument %x", "holds 0 floats"}},
		{"missing param", map[string]*runtime.Tensor{}, []*runtime.Tensor{x, ids}, []string{"op 0 (param at chain.deep:10:2)", "param @scale is missing"}},
		{"param shape", map[string]*runtime.Tensor{"scale": runtime.NewTensor(ir.F32, 5)}, []*runtime.Tensor{x, ids}, []string{"op 0 (param at chain.deep:10:2)", "param @scale has shape [5], want [4]"}},
		{"param dtype", map[string]*runtime.Tensor{"scale": runtime.NewTensor(ir.I64, 4)}, []*runtime.Tensor{x, ids}, []string{"param @scale", "dtype i64, want f32"}},
	}
	for _, c := range cases {
		_, err := Run(f, c.params, c.args, Options{})
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		for _, w := range c.want {
			if !contains(err.Error(), w) {
				t.Errorf("%s: error %q does not mention %q", c.name, err, w)
			}
		}
	}
	if _, err := Run(f, params, []*runtime.Tensor{x, ids}, Options{Mode: Mode(9)}); err == nil {
		t.Error("an invalid mode ran")
	}
}

func TestRunFreesIntermediates(t *testing.T) {
	const n = 60
	_, f := chain(n)
	rng := newRNG(t)
	x := randF(rng, ir.F32, 1, 5, 4)
	scale := randRange(rng, 0.5, 0.9, 4)
	peak := 0
	stepHook = func(_, live int) { peak = max(peak, live) }
	defer func() { stepHook = nil }()
	outs, err := Run(f, map[string]*runtime.Tensor{"scale": scale}, []*runtime.Tensor{x, runtime.NewTensor(ir.I32, 5)}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// x and at most the current h, its product and a param read are live.
	if peak > 4 {
		t.Errorf("peak live values %d over a chain of %d ops: intermediates are not freed", peak, 3*n)
	}
	want := f64s(x)
	for i := 0; i < n; i++ {
		for j := range want {
			want[j] = float64(float32(float32(want[j])*scale.F[j%4]) + x.F[j])
		}
	}
	checkClose(t, "chain", outs[0], want, 1e-6)
}

func TestKernelPanicBecomesError(t *testing.T) {
	saved := kernels[ir.OpExp]
	kernels[ir.OpExp] = func(c *Context, op *ir.Op, args []*runtime.Tensor) ([]*runtime.Tensor, error) {
		c.parallel(100, 1, func(lo, hi int) { _ = args[5] })
		return nil, nil
	}
	defer func() { kernels[ir.OpExp] = saved }()
	_, err := tryOp(FP32, "exp", nil, runtime.NewTensor(ir.F32, 2))
	if err == nil || !contains(err.Error(), "op 0 (exp at test.deep:7:3)") || !contains(err.Error(), "kernel panic") {
		t.Errorf("panicking kernel: %v", err)
	}
	kernels[ir.OpExp] = func(c *Context, op *ir.Op, args []*runtime.Tensor) ([]*runtime.Tensor, error) {
		return one(runtime.NewTensor(ir.F32, 3)), nil
	}
	_, err = tryOp(FP32, "exp", nil, runtime.NewTensor(ir.F32, 2))
	if err == nil || !contains(err.Error(), "shape [3], want [2]") {
		t.Errorf("kernel with a wrong result shape: %v", err)
	}
}

func TestArgsAndParamsConversion(t *testing.T) {
	rng := newRNG(t)
	// A bf16 function given f32 data: BF16 mode rounds it, FP32 mode keeps it.
	m := &ir.Module{Name: "conv", Params: []*ir.Param{{Name: "w", Type: ir.T(ir.BF16, ir.C(3))}}}
	b := m.NewFunc("f")
	x := b.Arg("x", ir.T(ir.BF16, ir.S("T"), ir.C(3)))
	p := b.Param(m.Params[0])
	y, _ := b.Emit1("add", []*ir.Value{x, p}, nil)
	b.Return(y, p, x)
	xs := randF(rng, ir.F32, 1, 2, 3)
	ws := randF(rng, ir.F32, 1, 3)
	params := map[string]*runtime.Tensor{"w": ws}
	outs, err := Run(b.F, params, []*runtime.Tensor{xs}, Options{Mode: BF16})
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range outs[0].F {
		want := runtime.RoundBF16(runtime.RoundBF16(xs.F[i]) + runtime.RoundBF16(ws.F[i%3]))
		if v != want {
			t.Fatalf("bf16 add of f32 inputs: %v, want %v", v, want)
		}
	}
	if outs[0].DType != ir.BF16 || outs[1].DType != ir.BF16 || outs[2].DType != ir.BF16 {
		t.Errorf("bf16 mode result dtypes %s %s %s", outs[0].DType, outs[1].DType, outs[2].DType)
	}
	if xs.F[0] != float32(f64s(xs)[0]) || outs[1] == ws {
		t.Error("a converted param must be a copy")
	}
	outs, err = Run(b.F, params, []*runtime.Tensor{xs}, Options{Mode: FP32})
	if err != nil {
		t.Fatal(err)
	}
	if outs[0].DType != ir.F32 || outs[1] != ws || outs[2] != xs || outs[0].F[0] != xs.F[0]+ws.F[0] {
		t.Errorf("fp32 mode: dtype %s, param/arg not passed through, or rounded values", outs[0].DType)
	}
	// i64 tokens for an i32 argument.
	f, _, _, err := buildOp("neg", nil, symArg{runtime.NewTensor(ir.I32, 3)})
	if err != nil {
		t.Fatal(err)
	}
	big := ints(ir.I64, 1, 2, 1<<40)
	if _, err := Run(f, nil, []*runtime.Tensor{big}, Options{}); err == nil || !contains(err.Error(), "does not fit i32") {
		t.Errorf("i64 out of i32 range: %v", err)
	}
	outs, err = Run(f, nil, []*runtime.Tensor{ints(ir.I64, 1, -2, 3)}, Options{})
	if err != nil || outs[0].DType != ir.I32 || !slices.Equal(outs[0].I, []int64{-1, 2, -3}) {
		t.Errorf("i64 tokens for i32: %v %v", outs, err)
	}
}

func TestKVWriteDonate(t *testing.T) {
	rng := newRNG(t)
	cache := randF(rng, ir.F32, 1, 6, 4)
	x := randF(rng, ir.F32, 1, 2, 4)
	f, _, _, err := buildOp("kv_write", nil, cache, symArg{x}, symArg{ints(ir.I32, 0, 5)})
	if err != nil {
		t.Fatal(err)
	}
	orig := slices.Clone(cache.F)
	outs, err := Run(f, nil, []*runtime.Tensor{cache, x, ints(ir.I32, 0, 5)}, Options{})
	if err != nil || outs[0] == cache || !slices.Equal(cache.F, orig) {
		t.Fatalf("kv_write without Donate wrote its argument (%v)", err)
	}
	outs, err = Run(f, nil, []*runtime.Tensor{cache, x, ints(ir.I32, 0, 5)}, Options{Donate: true})
	if err != nil || outs[0] != cache || cache.F[0] != x.F[0] || cache.F[23] != x.F[7] || cache.F[4] != orig[4] {
		t.Fatalf("kv_write with Donate did not update in place (%v)", err)
	}
}

func TestDequantize(t *testing.T) {
	rng := newRNG(t)
	w := randF(rng, ir.F32, 0.1, 2, 130, 200)
	q := quantizeWeight(w, 128, 128)
	d, err := Dequantize(q)
	if err != nil {
		t.Fatal(err)
	}
	checkClose(t, "dequantize", d, dequant64(q), 0)
	checkClose(t, "dequantize ≈ original", d, f64s(w), 0.04)
	if same, _ := Dequantize(w); same != w {
		t.Error("Dequantize of an unquantized tensor must return it")
	}
	q.Scale = runtime.NewTensor(ir.F32, 2, 2, 1)
	if _, err := Dequantize(q); err == nil || !contains(err.Error(), "want f32 [2 2 2]") {
		t.Errorf("bad scale grid: %v", err)
	}
}

// TestAllOpsModule runs the IR test module that uses every op (the one the
// ir package round-trips) in each mode.
func TestAllOpsModule(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "..", "ir", "testdata", "all_ops.ir"))
	if err != nil {
		t.Skip("ir/testdata/all_ops.ir not found:", err)
	}
	m, err := ir.Parse("all_ops.ir", string(src))
	if err != nil {
		t.Fatal(err)
	}
	rng := newRNG(t)
	f := m.Funcs[0]
	T := 6
	fill := func(ty ir.Type) *runtime.Tensor {
		shape := make([]int, len(ty.Shape))
		for i, d := range ty.Shape {
			shape[i] = int(d.N)
			if d.IsSym() {
				shape[i] = T
			}
		}
		switch {
		case ty.DType.IsFloat():
			return randF(rng, ty.DType, 1, shape...)
		case ty.DType == ir.Bool:
			return randI(rng, ty.DType, 0, 2, shape...)
		}
		return randI(rng, ty.DType, 0, 2, shape...) // valid as ids, indices, positions and slots
	}
	params := map[string]*runtime.Tensor{}
	for _, p := range m.Params {
		params[p.Name] = fill(p.Type)
	}
	params["cache.seq"].I[3] = -1
	var args []*runtime.Tensor
	for _, a := range f.Args {
		args = append(args, fill(a.Type))
	}
	covered := map[string]bool{}
	for _, op := range f.Body {
		covered[op.Name] = true
	}
	for _, d := range ir.Ops() {
		if !covered[d.Name] {
			t.Logf("all_ops.ir does not use op %s", d.Name)
		}
	}
	for _, mode := range []Mode{FP32, BF16, FP8} {
		outs, err := run(f, params, args, Options{Mode: mode}, true)
		if err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		for i, o := range outs {
			for j, v := range o.F {
				if math.IsNaN(float64(v)) && !math.IsNaN(float64(o.F[j])) {
					t.Errorf("%s: result %d has NaN", mode, i)
				}
			}
			for _, v := range o.I {
				if v == intPoison {
					t.Errorf("%s: result %d (%s) has an unwritten element", mode, i, fmt.Sprint(f.Results[i].Type))
					break
				}
			}
		}
	}
}

func TestPrepareParams(t *testing.T) {
	rng := newRNG(t)
	m := &ir.Module{Name: "p", Params: []*ir.Param{
		{Name: "w", Type: ir.T(ir.BF16, ir.C(4), ir.C(3))},
		{Name: "q", Type: ir.T(ir.F8E4M3, ir.C(4), ir.C(3))},
		{Name: "ids", Type: ir.T(ir.I32, ir.C(2))},
	}}
	w := randF(rng, ir.F32, 1, 4, 3)
	q := randF(rng, ir.F32, 1, 4, 3)
	ids := ints(ir.I32, 1, 2)
	extra := randF(rng, ir.F32, 1, 2)
	in := map[string]*runtime.Tensor{"w": w, "q": q, "ids": ids, "extra": extra}
	got, err := PrepareParams(m, in, BF16)
	if err != nil {
		t.Fatal(err)
	}
	if got["w"].DType != ir.BF16 || got["q"].DType != ir.BF16 || got["ids"] != ids || got["extra"] != extra {
		t.Errorf("prepared dtypes %s %s, ids/extra passed through: %v %v", got["w"].DType, got["q"].DType, got["ids"] == ids, got["extra"] == extra)
	}
	for i, v := range w.F {
		if got["w"].F[i] != runtime.RoundBF16(v) {
			t.Fatalf("w[%d] = %v, want %v", i, got["w"].F[i], runtime.RoundBF16(v))
		}
	}
	// Prepared params need no further conversion: Run returns them as they are.
	b := m.NewFunc("f")
	b.Return(b.Param(m.Params[0]))
	outs, err := Run(b.F, got, nil, Options{Mode: BF16})
	if err != nil || outs[0] != got["w"] {
		t.Errorf("a prepared param was converted again (%v)", err)
	}
	if fp32, _ := PrepareParams(m, in, FP32); fp32["w"] != w {
		t.Error("FP32 mode must not convert params")
	}
	in["w"] = randF(rng, ir.F32, 1, 3, 4)
	if _, err := PrepareParams(m, in, BF16); err == nil || !contains(err.Error(), "param @w has shape [3 4], want [4 3]") {
		t.Errorf("shape mismatch: %v", err)
	}
}

// A block-quantized weight is dequantised once by DequantizeParams (not
// in FP8 mode, whose GEMMs read it quantized), and a linear over it gives
// the bits it gives when the kernel dequantises on the fly, with few rows
// (the gemv kernels) and many (the blocked GEMM).
func TestDequantizeParams(t *testing.T) {
	for _, rows := range []int{3, 20} {
		testDequantizeParams(t, rows)
	}
}

func testDequantizeParams(t *testing.T, rows int) {
	rng := newRNG(t)
	const N, K = 162, 200 // partial 128x128 blocks on both axes, N not a multiple of 4
	w := quantizeWeight(randF(rng, ir.F32, 0.05, N, K), 128, 128)
	x := randF(rng, ir.BF16, 1, rows, K)
	m := &ir.Module{Name: "p", Params: []*ir.Param{{Name: "w", Type: ir.T(ir.F8E4M3, ir.C(N), ir.C(K))}}}
	b := m.NewFunc("f")
	xv := b.Arg("x", tensorType(x, true))
	y, err := b.Emit1("linear", []*ir.Value{xv, b.Param(m.Params[0])}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b.Return(y)
	for _, mode := range []Mode{FP32, BF16, FP8} {
		params := map[string]*runtime.Tensor{"w": w}
		prepared, err := PrepareParams(m, params, mode)
		if err != nil {
			t.Fatal(err)
		}
		prepared = DequantizeParams(prepared, mode)
		if quantized := prepared["w"].Scale != nil; quantized != (mode == FP8) {
			t.Errorf("%v: prepared weight quantized = %v", mode, quantized)
		}
		want, err := Run(b.F, params, []*runtime.Tensor{x}, Options{Mode: mode})
		if err != nil {
			t.Fatal(err)
		}
		got, err := Run(b.F, prepared, []*runtime.Tensor{x}, Options{Mode: mode})
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range want[0].F {
			if math.Float32bits(got[0].F[i]) != math.Float32bits(v) {
				t.Fatalf("%v, %d rows: y[%d] = %v prepared, %v not", mode, rows, i, got[0].F[i], v)
			}
		}
	}
}
