package autodiff

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"

	"github.com/deepc-dev/deepc/internal/eval64"
	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/runtime"
	"github.com/deepc-dev/deepc/runtime/cpu"
)

// in is one input of a gradient case: a float tensor (differentiated) or
// integer values.
type in struct {
	shape []int
	ints  []int64 // integer input
	dt    ir.DType
	pos   bool // positive values (log, sqrt, pow's base)
}

func f32(shape ...int) in             { return in{shape: shape, dt: ir.F32} }
func pos32(shape ...int) in           { return in{shape: shape, dt: ir.F32, pos: true} }
func i32(vs []int64, shape ...int) in { return in{shape: shape, ints: vs, dt: ir.I32} }

type gradCase struct {
	op    string
	attrs ir.Attrs
	ins   []in
}

func seqIDs(ids ...int64) []int64 { return ids }

// A composite is differentiated through its decomposition.
func init() {
	m, err := ir.Parse("composite.ir", `module @m {

  composite @swiglu_grad_test(%g: [T, F] f32, %u: [T, F] f32) -> ([T, F] f32) {
    %0 = silu %g : [T, F] f32
    %1 = mul %0, %u : [T, F] f32
    return %1
  }
}
`)
	if err != nil || m == nil {
		panic(err)
	}
}

// gradCases covers every op with a gradient rule, and a composite.
var gradCases = []gradCase{
	{op: "swiglu_grad_test", ins: []in{f32(3, 5), f32(3, 5)}},
	{op: "exp", ins: []in{f32(3, 5)}},
	{op: "log", ins: []in{pos32(3, 5)}},
	{op: "sqrt", ins: []in{pos32(3, 5)}},
	{op: "rsqrt", ins: []in{pos32(3, 5)}},
	{op: "sigmoid", ins: []in{f32(3, 5)}},
	{op: "silu", ins: []in{f32(3, 5)}},
	{op: "tanh", ins: []in{f32(3, 5)}},
	{op: "erf", ins: []in{f32(3, 5)}},
	{op: "neg", ins: []in{f32(3, 5)}},
	{op: "abs", ins: []in{f32(3, 5)}},
	{op: "add", ins: []in{f32(3, 5), f32(5)}},
	{op: "sub", ins: []in{f32(3, 1), f32(3, 5)}},
	{op: "mul", ins: []in{f32(2, 3, 5), f32(3, 5)}},
	{op: "div", ins: []in{f32(3, 5), pos32(3, 1)}},
	{op: "maximum", ins: []in{f32(3, 5), f32(3, 5)}},
	{op: "minimum", ins: []in{f32(3, 5), f32(5)}},
	{op: "pow", ins: []in{pos32(3, 5), f32(3, 5)}},
	{op: "cast", attrs: ir.Attrs{"dtype": ir.F32}, ins: []in{f32(4)}},
	{op: "sum", attrs: ir.Attrs{"axis": int64(1)}, ins: []in{f32(3, 5, 2)}},
	{op: "mean", attrs: ir.Attrs{"axis": int64(-1), "keepdim": true}, ins: []in{f32(3, 5)}},
	{op: "mean", attrs: ir.Attrs{"axis": int64(0)}, ins: []in{f32(4, 2)}},
	{op: "reduce_max", attrs: ir.Attrs{"axis": int64(0)}, ins: []in{f32(4, 5)}},
	{op: "softmax", attrs: ir.Attrs{"axis": int64(-1)}, ins: []in{f32(3, 7)}},
	{op: "rms_norm", attrs: ir.Attrs{"eps": 1e-6}, ins: []in{f32(4, 8), f32(8)}},
	{op: "linear", ins: []in{f32(2, 3, 8), f32(5, 8)}},
	{op: "matmul", ins: []in{f32(2, 3, 4), f32(2, 4, 5)}},
	{op: "grouped_linear", ins: []in{f32(4, 6), f32(3, 5, 6), i32([]int64{0, 2, 1, 1, 2, 0, 0, 1}, 4, 2)}},
	{op: "grouped_linear", ins: []in{f32(4, 2, 6), f32(3, 5, 6), i32([]int64{0, 2, 1, 1, 2, 0, 0, 1}, 4, 2)}},
	{op: "reshape", attrs: ir.Attrs{"shape": []int64{6, 2}}, ins: []in{f32(3, 4)}},
	{op: "expand", attrs: ir.Attrs{"shape": []int64{3, 4, 5}}, ins: []in{f32(4, 1)}},
	{op: "transpose", attrs: ir.Attrs{"perm": []int64{2, 0, 1}}, ins: []in{f32(2, 3, 4)}},
	{op: "concat", attrs: ir.Attrs{"axis": int64(1)}, ins: []in{f32(3, 2), f32(3, 4)}},
	{op: "split", attrs: ir.Attrs{"axis": int64(-1), "sizes": []int64{2, 3}}, ins: []in{f32(3, 5)}},
	{op: "slice", attrs: ir.Attrs{"axis": int64(1), "start": int64(1), "end": int64(4)}, ins: []in{f32(3, 6)}},
	{op: "gather", attrs: ir.Attrs{"axis": int64(0)}, ins: []in{f32(6, 4), i32([]int64{5, 0, 5, 2}, 4)}},
	{op: "take_along", attrs: ir.Attrs{"axis": int64(1)}, ins: []in{f32(3, 6), i32([]int64{0, 5, 1, 1, 3, 2}, 3, 2)}},
	{op: "shift", attrs: ir.Attrs{"offset": int64(1)}, ins: []in{f32(5, 3), i32(seqIDs(0, 0, 0, 1, 1), 5)}},
	{op: "topk", attrs: ir.Attrs{"k": int64(2)}, ins: []in{f32(3, 6)}},
	{op: "rope", attrs: ir.Attrs{"theta": 10000.0, "scaling": ir.Attrs{"type": "yarn", "factor": 40.0, "original_max_position_embeddings": int64(4096), "beta_fast": 32.0, "beta_slow": 1.0}}, ins: []in{f32(3, 2, 8), i32([]int64{0, 7, 4000}, 3)}},
	{op: "rope", attrs: ir.Attrs{"theta": 500.0, "layout": "half"}, ins: []in{f32(3, 2, 8), i32([]int64{0, 7, 40}, 3)}},
	{op: "rope", attrs: ir.Attrs{"theta": 500.0, "layout": "half", "scaling": ir.Attrs{"type": "llama3", "factor": 8.0, "original_max_position_embeddings": int64(64)}}, ins: []in{f32(3, 2, 8), i32([]int64{0, 7, 40}, 3)}},
	{op: "attention", attrs: ir.Attrs{"scale": 0.3}, ins: []in{f32(5, 2, 4), f32(5, 2, 4), f32(5, 2, 3), i32([]int64{0, 1, 2, 0, 1}, 5), i32(seqIDs(0, 0, 0, 1, 1), 5)}},
	{op: "attention", attrs: ir.Attrs{"scale": 0.3, "causal": false}, ins: []in{f32(4, 1, 4), f32(4, 1, 4), f32(4, 1, 4), i32([]int64{0, 1, 2, 3}, 4), i32(seqIDs(0, 0, 0, 0), 4)}},
	{op: "where", ins: []in{{shape: []int{3, 4}, dt: ir.Bool}, f32(3, 4), f32(4)}},
}

// TestGradientsMatchFiniteDifferences checks every rule: for
// loss = Σ op(x)·r with random r, the gradient the autodiff function
// computes (runtime/cpu, f32 tensors, f64 accumulation) against central
// differences of the loss in float64 (internal/eval64, step 1e-6), on a
// sample of coordinates of each input.
func TestGradientsMatchFiniteDifferences(t *testing.T) {
	covered := map[string]bool{}
	for i, c := range gradCases {
		covered[c.op] = true
		t.Run(fmt.Sprintf("%s/%d", c.op, i), func(t *testing.T) { checkGrad(t, c, uint64(i)) })
	}
	var missing []string
	for d := range rules {
		if !covered[d.Name] && !straightThrough[d.Name] {
			missing = append(missing, d.Name)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("rules without a finite-difference case: %v", missing)
	}
}

// straightThrough rules pass the gradient on unchanged by design (the
// straight-through estimator of quantization): finite differences of a
// step function say nothing about them. TestStraightThrough checks them.
var straightThrough = map[string]bool{"quantize_blocks": true}

func TestStraightThrough(t *testing.T) {
	m := &ir.Module{Name: "q"}
	p := &ir.Param{Name: "w", Type: ir.T(ir.F32, ir.C(4), ir.C(8))}
	m.Params = append(m.Params, p)
	b := m.NewFunc("f")
	q, err := b.Emit1("quantize_blocks", []*ir.Value{b.Param(p)}, ir.Attrs{"block": []int64{2, 4}})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := b.Emit1("cast", []*ir.Value{q}, ir.Attrs{"dtype": ir.F32})
	s, _ := b.Emit1("sum", []*ir.Value{c}, ir.Attrs{"axis": int64(0)})
	s, _ = b.Emit1("sum", []*ir.Value{s}, ir.Attrs{"axis": int64(0)})
	b.Return(s)
	g, err := Grad(m, b.F, 0, []string{"w"}, "grad")
	if err != nil {
		t.Fatal(err)
	}
	w := runtime.NewTensor(ir.F32, 4, 8)
	for i := range w.F {
		w.F[i] = float32(i) / 7
	}
	out, err := cpu.Run(g, map[string]*runtime.Tensor{"w": w}, nil, cpu.Options{Mode: cpu.FP32})
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range out[1].F {
		if v != 1 {
			t.Fatalf("gradient element %d = %v, want 1 (straight through)", i, v)
		}
	}
}

// An fp8 weight's gradient is kept in f32, not rounded to fp8: in BF16
// mode a gradient of 3e-4 (below e4m3's smallest subnormal, 2^-9) comes
// out as 3e-4, not 0.
func TestFP8WeightGradientStaysWide(t *testing.T) {
	m := &ir.Module{Name: "w8"}
	w := &ir.Param{Name: "w", Type: ir.T(ir.F8E4M3, ir.C(2), ir.C(4))}
	x := &ir.Param{Name: "x", Type: ir.T(ir.BF16, ir.C(3), ir.C(4))}
	m.Params = append(m.Params, w, x)
	b := m.NewFunc("f")
	y, err := b.Emit1("linear", []*ir.Value{b.Param(x), b.Param(w)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	yf, _ := b.Emit1("cast", []*ir.Value{y}, ir.Attrs{"dtype": ir.F32})
	s, _ := b.Emit1("sum", []*ir.Value{yf}, ir.Attrs{"axis": int64(0)})
	s, _ = b.Emit1("sum", []*ir.Value{s}, ir.Attrs{"axis": int64(0)})
	k, _ := b.Emit1("const", nil, ir.Attrs{"dtype": ir.F32, "value": 1e-4})
	l, _ := b.Emit1("mul", []*ir.Value{s, k}, nil)
	b.Return(l)
	g, err := Grad(m, b.F, 0, []string{"w"}, "grad")
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range g.Body {
		if dt, _ := op.Attrs["dtype"].(ir.DType); op.Name == "cast" && dt == ir.F8E4M3 {
			t.Errorf("the gradient program rounds to fp8 (%s at %s)", op.Name, op.Loc)
		}
	}
	wt, xt := runtime.NewTensor(ir.F32, 2, 4), runtime.NewTensor(ir.F32, 3, 4)
	for i := range wt.F {
		wt.F[i] = 0.5
	}
	for i := range xt.F {
		xt.F[i] = 1
	}
	out, err := cpu.Run(g, map[string]*runtime.Tensor{"w": wt, "x": xt}, nil, cpu.Options{Mode: cpu.BF16})
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range out[1].F { // dL/dw[n, k] = 1e-4 · Σ_t x[t, k] = 3e-4
		if math.Abs(float64(v)-3e-4) > 3e-4*1e-2 {
			t.Fatalf("gradient element %d = %v, want 3e-4 (to bf16 precision)", i, v)
		}
	}
}

func checkGrad(t *testing.T, c gradCase, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 77))
	m := &ir.Module{Name: "g"}
	b := m.NewFunc("f")
	params := map[string]*runtime.Tensor{}
	var vals []*ir.Value
	var wrt []string
	for i, x := range c.ins {
		name := fmt.Sprintf("x%d", i)
		dims := make([]ir.Dim, len(x.shape))
		for j, d := range x.shape {
			dims[j] = ir.C(int64(d))
		}
		p := &ir.Param{Name: name, Type: ir.T(x.dt, dims...)}
		m.Params = append(m.Params, p)
		t := runtime.NewTensor(x.dt, x.shape...)
		switch {
		case x.ints != nil:
			copy(t.I, x.ints)
		case x.dt == ir.Bool:
			for j := range t.I {
				t.I[j] = int64(rng.IntN(2))
			}
		default:
			for j := range t.F {
				v := rng.NormFloat64()
				if x.pos {
					v = 0.5 + math.Abs(v)
				}
				t.F[j] = float32(v)
			}
			wrt = append(wrt, name)
		}
		params[name] = t
		vals = append(vals, b.Param(p))
	}
	res, err := b.Emit(c.op, vals, c.attrs)
	if err != nil {
		t.Fatal(err)
	}
	// loss = Σ_i Σ res_i · r_i over the float results.
	var loss *ir.Value
	for i, r := range res {
		if !r.Type.DType.IsFloat() {
			continue
		}
		rp := &ir.Param{Name: fmt.Sprintf("r%d", i), Type: r.Type}
		m.Params = append(m.Params, rp)
		rt := runtime.NewTensor(ir.F32, shapeOf(r.Type.Shape)...)
		for j := range rt.F {
			rt.F[j] = float32(rng.NormFloat64())
		}
		params[rp.Name] = rt
		prod, err := b.Emit1("mul", []*ir.Value{r, b.Param(rp)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		s := prod
		for len(s.Type.Shape) > 0 {
			if s, err = b.Emit1("sum", []*ir.Value{s}, ir.Attrs{"axis": int64(0)}); err != nil {
				t.Fatal(err)
			}
		}
		if loss == nil {
			loss = s
		} else if loss, err = b.Emit1("add", []*ir.Value{loss, s}, nil); err != nil {
			t.Fatal(err)
		}
	}
	b.Return(loss)
	g, err := Grad(m, b.F, 0, wrt, "grad")
	if err != nil {
		t.Fatal(err)
	}
	opts := cpu.Options{Mode: cpu.FP32, Wide: true, Workers: 2}
	out, err := cpu.Run(g, params, nil, opts)
	if err != nil {
		t.Fatalf("running the gradient: %v\n%s", err, ir.Print(m))
	}
	// The loss in float64 (internal/eval64, written from op-semantics.md):
	// finite differences there are exact to ~1e-10 with a step of 1e-6.
	p64 := map[string]*eval64.Tensor{}
	for name, t := range params {
		e := &eval64.Tensor{Shape: t.Shape}
		if t.DType.IsFloat() {
			e.F = make([]float64, len(t.F))
			for i, v := range t.F {
				e.F[i] = float64(v)
			}
		} else {
			e.I = append([]int64(nil), t.I...)
		}
		p64[name] = e
	}
	lossAt := func() float64 {
		o, err := eval64.Run(b.F, p64, nil)
		if err != nil {
			t.Fatal(err)
		}
		return o[0].F[0]
	}
	if l := lossAt(); math.Abs(l-float64(out[0].F[0])) > 1e-5*math.Max(math.Abs(l), 1) {
		t.Errorf("the gradient function's loss %v differs from the float64 evaluation %v", out[0].F[0], l)
	}
	const h = 1e-6
	var num, den float64
	for i, name := range wrt {
		x := p64[name]
		grad := out[1+i]
		if !slices.Equal(grad.Shape, x.Shape) {
			t.Fatalf("gradient of %s has shape %v, want %v", name, grad.Shape, x.Shape)
		}
		idx := rng.Perm(len(x.F))
		for _, j := range idx[:min(len(idx), 12)] {
			v := x.F[j]
			x.F[j] = v + h
			lp := lossAt()
			x.F[j] = v - h
			lm := lossAt()
			x.F[j] = v
			fd := (lp - lm) / (2 * h)
			d := float64(grad.F[j]) - fd
			num += d * d
			den += fd * fd
		}
	}
	if e := math.Sqrt(num / math.Max(den, 1e-30)); e > 1e-5 || math.IsNaN(e) {
		t.Errorf("relative error %.3g between the gradient and float64 finite differences\n%s", e, ir.Print(m))
	} else {
		t.Logf("relative error %.3g", e)
	}
}

func shapeOf(s ir.Shape) []int {
	out := make([]int, len(s))
	for i, d := range s {
		out[i] = int(d.N)
	}
	return out
}
