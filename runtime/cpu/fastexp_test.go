package cpu

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestExpFast(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	worst := 0.0
	check := func(x float64) {
		want, got := math.Exp(x), expFast(x)
		if e := math.Abs(got-want) / want; e > worst {
			worst = e
		}
	}
	for i := 0; i < 1_000_000; i++ {
		check((rng.Float64()*2 - 1) * expMaxArg)
		check(rng.NormFloat64() * 4)
	}
	for _, x := range []float64{0, -0, 1e-300, -1e-20, math.Ln2, -math.Ln2 / 64, expMaxArg, -expMaxArg, math.Ln2 * 500.5} {
		check(x)
	}
	t.Logf("worst relative error %.3g", worst)
	if worst > 1e-14 {
		t.Errorf("expFast: worst relative error %g vs math.Exp", worst)
	}
}

func TestSigmoidFast(t *testing.T) {
	for _, x := range []float64{math.Inf(1), math.Inf(-1), 800, -800, 701, -701, 0, -0.5, 3} {
		want, got := sigmoid(x), sigmoidFast(x)
		if math.Abs(got-want) > 1e-15*want {
			t.Errorf("sigmoidFast(%g) = %g, want %g", x, got, want)
		}
	}
	if !math.IsNaN(sigmoidFast(math.NaN())) {
		t.Error("sigmoidFast(NaN) is not NaN")
	}
	src := []float32{-3, -1, 0, 1, 3, 90, -90}
	dst := make([]float32, len(src))
	siluF32(dst, src)
	for i, v := range src {
		if want := float32(float64(v) * sigmoid(float64(v))); math.Abs(float64(dst[i]-want)) > 1e-6*math.Abs(float64(want)) {
			t.Errorf("silu(%g) = %g, want %g", v, dst[i], want)
		}
	}
}

func BenchmarkSigmoid(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	src := make([]float32, 1<<16)
	for i := range src {
		src[i] = float32(rng.NormFloat64() * 3)
	}
	dst := make([]float32, len(src))
	b.Run("math.Exp", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			for j, v := range src {
				x := float64(v)
				dst[j] = float32(x * sigmoid(x))
			}
		}
	})
	b.Run("fast", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			siluF32(dst, src)
		}
	})
}

func TestExpAny(t *testing.T) {
	for _, x := range []float64{math.Inf(1), math.Inf(-1), 800, -800, -750, 709, -1, 0} {
		if got, want := expAny(x), math.Exp(x); got != want && math.Abs(got-want) > 1e-15*want {
			t.Errorf("expAny(%g) = %g, want %g", x, got, want)
		}
	}
	if !math.IsNaN(expAny(math.NaN())) {
		t.Error("expAny(NaN) is not NaN")
	}
}
