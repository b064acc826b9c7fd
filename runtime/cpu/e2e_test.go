package cpu

import (
	"math"
	"testing"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/runtime"
)

// A small model built with ir.Builder, run end to end and compared with a
// float64 implementation:
//
//	e = gather(embed, tokens)          [T, D]
//	n = rms_norm(e, norm)
//	h = silu(linear(n, w1)) + e        w1 [D, D]
//	y = linear(h, w2)                  w2 [V, D]
func buildTiny(t *testing.T, act, wdt ir.DType, V, D int) *ir.Func {
	t.Helper()
	m := &ir.Module{Name: "tiny"}
	p := func(name string, ty ir.Type) *ir.Param {
		pp := &ir.Param{Name: name, Type: ty}
		m.Params = append(m.Params, pp)
		return pp
	}
	emb := p("embed", ir.T(act, ir.C(int64(V)), ir.C(int64(D))))
	norm := p("norm", ir.T(act, ir.C(int64(D))))
	w1 := p("w1", ir.T(wdt, ir.C(int64(D)), ir.C(int64(D))))
	w2 := p("w2", ir.T(act, ir.C(int64(V)), ir.C(int64(D))))
	b := m.NewFunc("forward")
	b.Loc = ir.Loc{File: "tiny.deep", Line: 1, Col: 1}
	tokens := b.Arg("tokens", ir.T(ir.I32, ir.S("T")))
	must := func(v *ir.Value, err error) *ir.Value {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	e := must(b.Emit1("gather", []*ir.Value{b.Param(emb), tokens}, ir.Attrs{"axis": int64(0)}))
	n := must(b.Emit1("rms_norm", []*ir.Value{e, b.Param(norm)}, ir.Attrs{"eps": 1e-6}))
	u := must(b.Emit1("linear", []*ir.Value{n, b.Param(w1)}, nil))
	s := must(b.Emit1("silu", []*ir.Value{u}, nil))
	h := must(b.Emit1("add", []*ir.Value{s, e}, nil))
	y := must(b.Emit1("linear", []*ir.Value{h, b.Param(w2)}, nil))
	b.Return(y)
	if err := ir.Verify(m); err != nil {
		t.Fatal(err)
	}
	return b.F
}

func refTiny(tokens []int64, embed, norm, w1, w2 []float64, V, D int) []float64 {
	T := len(tokens)
	e := make([]float64, T*D)
	for t, tok := range tokens {
		copy(e[t*D:(t+1)*D], embed[int(tok)*D:(int(tok)+1)*D])
	}
	n := refRMSNorm(e, norm, D, 1e-6)
	u := refLinear(n, w1, T, D, D)
	for i, v := range u {
		u[i] = v/(1+math.Exp(-v)) + e[i]
	}
	return refLinear(u, w2, T, V, D)
}

func TestEndToEnd(t *testing.T) {
	rng := newRNG(t)
	V, D, T := 300, 256, 37
	tokens := randI(rng, ir.I32, 0, int64(V), T)
	for _, c := range []struct {
		mode  Mode
		quant bool
		tol   float64
	}{{FP32, false, 1e-6}, {FP32, true, 1e-6}, {BF16, false, tolBF16}, {BF16, true, tolBF16}, {FP8, true, tolFP8}} {
		act, wdt := ir.F32, ir.F32
		if c.mode != FP32 {
			act, wdt = ir.BF16, ir.BF16
		}
		if c.quant {
			wdt = ir.F8E4M3
		}
		embed := randF(rng, act, 1, V, D)
		norm := randF(rng, act, 1, D)
		w1 := randF(rng, ir.F32, 0.1, D, D)
		w2 := randF(rng, act, 0.1, V, D)
		params := map[string]*runtime.Tensor{"embed": embed, "norm": norm, "w1": w1, "w2": w2}
		w1ref := f64s(w1)
		if c.quant {
			params["w1"] = quantizeWeight(w1, 128, 128)
			w1ref = dequant64(params["w1"])
		}
		f := buildTiny(t, act, wdt, V, D)
		outs, err := run(f, params, []*runtime.Tensor{tokens}, Options{Mode: c.mode}, true)
		if err != nil {
			t.Fatalf("%s: %v", c.mode, err)
		}
		want := refTiny(tokens.I, f64s(embed), f64s(norm), w1ref, f64s(w2), V, D)
		checkClose(t, c.mode.String()+" end to end", outs[0], want, c.tol)
		t.Logf("%s (quantized w1: %v): relative error %.3g", c.mode, c.quant, relErr(outs[0].F, want))
		if c.mode == FP32 {
			// f64 accumulation: closer to the float64 reference.
			outs, err := run(f, params, []*runtime.Tensor{tokens}, Options{Mode: c.mode, Wide: true}, true)
			if err != nil {
				t.Fatal(err)
			}
			checkClose(t, "fp32 wide end to end", outs[0], want, c.tol/4)
			t.Logf("fp32 wide (quantized w1: %v): relative error %.3g", c.quant, relErr(outs[0].F, want))
		}
	}
}
