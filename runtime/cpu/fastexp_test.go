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

// The vector loops (where the CPU has them) give the scalar loops' results:
// the same f64 computation up to its last bits, so the f32 results agree
// but for a rare 1-ulp difference; |x| > 700, infinities and NaN go
// through the scalar code.
func TestSigmoidVector(t *testing.T) {
	if siluVec == nil {
		t.Log("no vector loops on this CPU: the scalar ones are all there is")
		return
	}
	rng := rand.New(rand.NewPCG(5, 6))
	src := make([]float32, 100_003)
	for i := range src {
		switch i % 3 {
		case 0:
			src[i] = float32(rng.NormFloat64() * 4)
		case 1:
			src[i] = float32((rng.Float64()*2 - 1) * 800)
		default:
			src[i] = float32(rng.NormFloat64() * 1e-3)
		}
	}
	edges := []float32{0, float32(math.Copysign(0, -1)), 1e-40, -1e-40, 700, -700, 700.1, -700.1, 88, -88, 104, -104,
		float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), math.MaxFloat32, -math.MaxFloat32}
	copy(src, edges)
	for name, c := range map[string]struct {
		vec    func(dst, src []float32)
		scalar func(x float64) float64
	}{
		"sigmoid": {sigmoidF32, sigmoidFast},
		"silu":    {siluF32, func(x float64) float64 { return x * sigmoidFast(x) }},
	} {
		dst := make([]float32, len(src))
		c.vec(dst, src)
		diff := 0
		for i, v := range src {
			want := float32(c.scalar(float64(v)))
			got := dst[i]
			switch {
			case math.IsNaN(float64(want)) || math.IsNaN(float64(got)):
				if math.IsNaN(float64(want)) != math.IsNaN(float64(got)) {
					t.Errorf("%s(%g) = %g, want %g", name, v, got, want)
				}
			case got != want:
				d := int64(math.Float32bits(got)) - int64(math.Float32bits(want))
				if d < -1 || d > 1 {
					t.Errorf("%s(%g) = %g, want %g (%d ulps)", name, v, got, want, d)
				}
				diff++
			}
		}
		t.Logf("%s: %d of %d results differ by 1 ulp", name, diff, len(src))
		if diff > len(src)/1000 {
			t.Errorf("%s: %d results differ", name, diff)
		}
	}
}
