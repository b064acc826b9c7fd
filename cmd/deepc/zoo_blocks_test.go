package main

import (
	"math"
	"testing"

	"github.com/deepc-dev/deepc/dsl"
	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/runtime"
	"github.com/deepc-dev/deepc/runtime/cpu"
)

// zooBlocks are the building blocks other architectures need, written as
// composite blocks over deepc's ops, as docs/op-semantics.md
// ("Composites for other architectures") gives them.
const zooBlocks = `model zoo_blocks
config { d = 8, ln_eps = 1e-5 }

composite block gelu(x: [T, D] f32) -> [T, D] f32 {
  return x * 0.5 * (erf(x * 0.7071067811865476) + 1.0)
}

composite block gelu_tanh(x: [T, D] f32) -> [T, D] f32 {
  return x * 0.5 * (tanh((x + x * x * x * 0.044715) * 0.7978845608028654) + 1.0)
}

composite block layer_norm(x: [T, D] f32, w: [D] f32, b: [D] f32) -> [T, D] f32 {
  c = x - mean(x, axis = -1, keepdim = true)
  return c * rsqrt(mean(c * c, axis = -1, keepdim = true) + ln_eps) * w + b
}

export block forward(x: [T, d] f32) -> ([T, d] f32, [T, d] f32, [T, d] f32) {
  param w: [d] f32 {init = ones(), ckpt = "w"}
  param b: [d] f32 {init = zeros(), ckpt = "b"}
  return gelu(x), gelu_tanh(x), layer_norm(x, w, b)
}
`

// TestZooBlocks: GELU (exact and tanh forms) and LayerNorm, as composites
// over erf, tanh, mean and rsqrt, compute Hugging Face's definitions
// (float64 here) to f32 accuracy on the CPU backend.
func TestZooBlocks(t *testing.T) {
	m, err := dsl.CompileSource("zoo.deep", zooBlocks, dsl.Options{})
	if err != nil {
		t.Fatal(err)
	}
	const T, d = 5, 8
	x := runtime.NewTensor(ir.F32, T, d)
	for i := range x.F {
		x.F[i] = float32(math.Sin(float64(i)*1.7) * 3)
	}
	w, b := runtime.NewTensor(ir.F32, d), runtime.NewTensor(ir.F32, d)
	for i := range d {
		w.F[i], b.F[i] = 1+0.1*float32(i), 0.05*float32(i)-0.2
	}
	out, err := cpu.Run(m.Func("forward"), map[string]*runtime.Tensor{"w": w, "b": b}, []*runtime.Tensor{x}, cpu.Options{Mode: cpu.FP32})
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, got []float32, want func(i int) float64) {
		t.Helper()
		worst := 0.0
		for i, g := range got {
			worst = max(worst, math.Abs(float64(g)-want(i))/max(math.Abs(want(i)), 1))
		}
		if worst > 2e-6 {
			t.Errorf("%s: max relative error %.3g, want <= 2e-6", name, worst)
		}
	}
	xv := func(i int) float64 { return float64(x.F[i]) }
	check("gelu", out[0].F, func(i int) float64 { return xv(i) * 0.5 * (1 + math.Erf(xv(i)/math.Sqrt2)) })
	check("gelu_tanh", out[1].F, func(i int) float64 {
		v := xv(i)
		return 0.5 * v * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(v+0.044715*v*v*v)))
	})
	check("layer_norm", out[2].F, func(i int) float64 {
		row := i / d
		var mean, sq float64
		for j := range d {
			mean += xv(row*d + j)
		}
		mean /= d
		for j := range d {
			sq += (xv(row*d+j) - mean) * (xv(row*d+j) - mean)
		}
		return (xv(i)-mean)/math.Sqrt(sq/d+1e-5)*float64(w.F[i%d]) + float64(b.F[i%d])
	})
}
