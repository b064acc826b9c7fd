package eval64

import (
	"math"
	"testing"

	"github.com/deepc-dev/deepc/ir"
)

// run parses a one-function module and evaluates it.
func run(t *testing.T, src string, args ...*Tensor) []*Tensor {
	t.Helper()
	m, err := ir.Parse("t.ir", src)
	if err != nil {
		t.Fatal(err)
	}
	out, err := Run(m.Funcs[0], nil, args)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func f64(shape []int, v ...float64) *Tensor { return &Tensor{Shape: shape, F: v} }
func i64(shape []int, v ...int64) *Tensor   { return &Tensor{Shape: shape, I: v} }

func near(t *testing.T, what string, got []float64, want ...float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-12*max(1, math.Abs(want[i])) {
			t.Fatalf("%s[%d] = %.15g, want %.15g", what, i, got[i], want[i])
		}
	}
}

// Values worked out by hand from docs/op-semantics.md.
func TestOpsByHand(t *testing.T) {
	// rms_norm over the last axis: [3, 4] has mean square 12.5.
	o := run(t, `module @m {
  func @f(%x: [1, 2] f32, %w: [2] f32) -> ([1, 2] f32) {
    %0 = rms_norm %x, %w {eps = 0.0} : [1, 2] f32
    return %0
  }
}`, f64([]int{1, 2}, 3, 4), f64([]int{2}, 1, 2))
	near(t, "rms_norm", o[0].F, 3/math.Sqrt(12.5), 2*4/math.Sqrt(12.5))

	// softmax of [0, ln 2, ln 3] is [1, 2, 3]/6.
	o = run(t, `module @m {
  func @f(%x: [3] f32) -> ([3] f32) {
    %0 = softmax %x {axis = 0} : [3] f32
    return %0
  }
}`, f64([]int{3}, 0, math.Ln2, math.Log(3)))
	near(t, "softmax", o[0].F, 1.0/6, 2.0/6, 3.0/6)

	// shift by one within each sequence, zero past its end.
	o = run(t, `module @m {
  func @f(%x: [4, 1] f32, %s: [4] i32) -> ([4, 1] f32) {
    %0 = shift %x, %s {offset = 1} : [4, 1] f32
    return %0
  }
}`, f64([]int{4, 1}, 1, 2, 3, 4), i64([]int{4}, 0, 0, 1, 1))
	near(t, "shift", o[0].F, 2, 0, 4, 0)

	// linear: y = x·wᵀ with w [out, in].
	o = run(t, `module @m {
  func @f(%x: [1, 2] f32, %w: [3, 2] f32) -> ([1, 3] f32) {
    %0 = linear %x, %w : [1, 3] f32
    return %0
  }
}`, f64([]int{1, 2}, 1, 2), f64([]int{3, 2}, 1, 0, 0, 1, 1, 1))
	near(t, "linear", o[0].F, 1, 2, 3)

	// Causal attention over one sequence of two tokens, one head: the
	// first token sees only itself; the second weighs the values by
	// softmax of its scores (q·k = 0 and 1, scale 1).
	o = run(t, `module @m {
  func @f(%q: [2, 1, 1] f32, %k: [2, 1, 1] f32, %v: [2, 1, 1] f32, %p: [2] i32, %s: [2] i32) -> ([2, 1, 1] f32) {
    %0 = attention %q, %k, %v, %p, %s {scale = 1.0} : [2, 1, 1] f32
    return %0
  }
}`, f64([]int{2, 1, 1}, 5, 1), f64([]int{2, 1, 1}, 0, 1), f64([]int{2, 1, 1}, 10, 20), i64([]int{2}, 0, 1), i64([]int{2}, 0, 0))
	w := math.E / (1 + math.E)
	near(t, "attention", o[0].F, 10, 10*(1-w)+20*w)

	// topk: the k largest in descending order, ties to the lower index.
	o = run(t, `module @m {
  func @f(%x: [1, 4] f32) -> ([1, 2] f32, [1, 2] i32) {
    %0, %1 = topk %x {k = 2} : [1, 2] f32, [1, 2] i32
    return %0, %1
  }
}`, f64([]int{1, 4}, 0.5, 0.9, 0.1, 0.9))
	near(t, "topk values", o[0].F, 0.9, 0.9)
	if o[1].I[0] != 1 || o[1].I[1] != 3 {
		t.Fatalf("topk indices %v, want [1 3]", o[1].I)
	}

	// rope without scaling at position 1 rotates the pair by freq 1
	// (theta^0) and the second pair by theta^(-2/4).
	o = run(t, `module @m {
  func @f(%x: [1, 1, 4] f32, %p: [1] i32) -> ([1, 1, 4] f32) {
    %0 = rope %x, %p {theta = 100.0} : [1, 1, 4] f32
    return %0
  }
}`, f64([]int{1, 1, 4}, 1, 0, 0, 1), i64([]int{1}, 1))
	a2 := math.Pow(100, -0.5)
	near(t, "rope", o[0].F, math.Cos(1), math.Sin(1), -math.Sin(a2), math.Cos(a2))

	// layout "half" pairs x[0] with x[2] and x[1] with x[3]; with linear
	// scaling (factor 2) the angles halve.
	o = run(t, `module @m {
  func @f(%x: [1, 1, 4] f32, %p: [1] i32) -> ([1, 1, 4] f32) {
    %0 = rope %x, %p {layout = "half", scaling = {factor = 2.0, type = "linear"}, theta = 100.0} : [1, 1, 4] f32
    return %0
  }
}`, f64([]int{1, 1, 4}, 1, 0, 0, 1), i64([]int{1}, 1))
	b1, b2 := 0.5, math.Pow(100, -0.5)/2
	// pair 0: (x0, x2) = (1, 0) → (cos b1, sin b1); pair 1: (x1, x3) = (0, 1) → (−sin b2, cos b2).
	near(t, "rope half linear", o[0].F, math.Cos(b1), -math.Sin(b2), math.Sin(b1), math.Cos(b2))

	// llama3 (factor 8, L = 4π·100/2π... here L = 200, lo 1, hi 4): d = 4,
	// theta 100: freqs 1 and 0.1, wavelengths 2π and 20π = 62.8; L/hi =
	// 50 < 62.8 < 200 = L/lo, so the second is mixed with s = (200/62.83
	// − 1)/3, the first (2π < 50) is kept. At position 1 from (0, 1, 0, 0):
	// only pair 1 (x1, x3) moves.
	o = run(t, `module @m {
  func @f(%x: [1, 1, 4] f32, %p: [1] i32) -> ([1, 1, 4] f32) {
    %0 = rope %x, %p {layout = "half", scaling = {factor = 8.0, high_freq_factor = 4.0, low_freq_factor = 1.0, original_max_position_embeddings = 200, type = "llama3"}, theta = 100.0} : [1, 1, 4] f32
    return %0
  }
}`, f64([]int{1, 1, 4}, 0, 1, 0, 0), i64([]int{1}, 1))
	sm := (200/(20*math.Pi) - 1) / 3
	f2 := (1-sm)*0.1/8 + sm*0.1
	near(t, "rope half llama3", o[0].F, 0, math.Cos(f2), 0, math.Sin(f2))
}
