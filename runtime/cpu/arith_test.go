package cpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/runtime"
)

// The vector loops give the scalar loops' bits for every op, length and
// offset, on values that include NaN, ±Inf, ±0, denormals and overflow.
func TestArithVecMatchesScalar(t *testing.T) {
	if arithVec == nil {
		t.Skip("no AVX on this CPU: the scalar loops are the only ones")
	}
	rng := rand.New(rand.NewPCG(3, 4))
	special := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 0, float32(math.Copysign(0, -1)), 1e-45, -3e-39, 3e38, -3e38, 1}
	val := func() float32 {
		if rng.IntN(4) == 0 {
			return special[rng.IntN(len(special))]
		}
		return float32(rng.NormFloat64() * math.Pow(10, float64(rng.IntN(20)-10)))
	}
	for _, op := range []byte{'+', '-', '*', '/'} {
		for n := 0; n < 41; n++ {
			x, y := make([]float32, n+3), make([]float32, n+3)
			for i := range x {
				x[i], y[i] = val(), val()
			}
			for _, sy := range []int{1, 0} {
				got, want := make([]float32, n), make([]float32, n)
				arithF32(op, got, x, y, 1, 2, 1, sy)
				saved, savedS := arithVec, arithVecScalar
				arithVec, arithVecScalar = nil, nil
				arithF32(op, want, x, y, 1, 2, 1, sy)
				arithVec, arithVecScalar = saved, savedS
				for i := range want {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("op %c n=%d sy=%d: element %d is %v, scalar %v", op, n, sy, i, got[i], want[i])
					}
				}
			}
		}
	}
}

// The vector bf16 rounding gives runtime.RoundBF16's bits: NaNs (with
// payloads and signs) kept, ties to even, overflow to inf, denormals.
func TestRoundBF16VecMatchesScalar(t *testing.T) {
	if roundBF16Vec == nil {
		t.Skip("no AVX2 on this CPU: the scalar loop is the only one")
	}
	rng := rand.New(rand.NewPCG(5, 6))
	special := []uint32{0x7fc00000, 0xffc00001, 0x7f800001, 0x7f800000, 0xff800000, 0, 0x80000000, 1, 0x807fffff,
		0x7f7fffff, 0xff7fffff, 0x3f808000, 0x3f818000, 0x3f80ffff, 0x3f807fff, 0x00008000, 0x00018000}
	for n := 0; n < 200; n++ {
		xs := make([]float32, n)
		for i := range xs {
			if rng.IntN(3) == 0 {
				xs[i] = math.Float32frombits(special[rng.IntN(len(special))])
			} else {
				xs[i] = math.Float32frombits(rng.Uint32())
			}
		}
		got := append([]float32(nil), xs...)
		roundSlice(ir.BF16, got)
		for i, x := range xs {
			if want := runtime.RoundBF16(x); math.Float32bits(got[i]) != math.Float32bits(want) {
				t.Fatalf("n=%d: %#08x rounds to %#08x, RoundBF16 gives %#08x", n, math.Float32bits(x), math.Float32bits(got[i]), math.Float32bits(want))
			}
		}
	}
}

// BenchmarkArithF32 compares the vector loops with the scalar ones on a
// [512, 256] add (the size of the tiny model's activations in training).
func BenchmarkArithF32(b *testing.B) {
	x, y, d := make([]float32, 512*256), make([]float32, 512*256), make([]float32, 512*256)
	for i := range x {
		x[i], y[i] = float32(i), float32(2*i)
	}
	b.Run("vector", func(b *testing.B) {
		for range b.N {
			arithF32('+', d, x, y, 0, 0, 1, 1)
		}
	})
	b.Run("scalar", func(b *testing.B) {
		saved := arithVec
		arithVec = nil
		defer func() { arithVec = saved }()
		for range b.N {
			arithF32('+', d, x, y, 0, 0, 1, 1)
		}
	})
}

// The AdamW vector loop gives the scalar loop's bits.
func TestAdamWVecMatchesScalar(t *testing.T) {
	if adamwVec == nil {
		t.Skip("no AVX on this CPU: the scalar loop is the only one")
	}
	rng := rand.New(rand.NewPCG(5, 6))
	const n = 1000
	mk := func(scale float64, pos bool) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(rng.NormFloat64() * scale)
			if pos {
				x[i] = float32(math.Abs(float64(x[i])))
			}
		}
		return x
	}
	p, g, m, v := mk(0.05, false), mk(1e-3, false), mk(1e-4, false), mk(1e-7, true)
	c := [10]float32{0.5, 0.9, 0.1, 0.95, 0.05, 1 / 0.0975, 1e-8, 1 / 0.19, 0.1, 3e-3}
	got := [3][]float32{make([]float32, n), make([]float32, n), make([]float32, n)}
	k := adamwVec(p, g, m, v, got[0], got[1], got[2], &c)
	gs, b1, c1, b2, c2, ibc2, eps, ibc1, decay, lr := c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9]
	for i := 0; i < k; i++ {
		gi := g[i] * gs
		mi := b1*m[i] + c1*gi
		vi := b2*v[i] + c2*gi*gi
		den := float32(math.Sqrt(float64(vi*ibc2))) + eps
		np := p[i] - lr*(mi*ibc1/den+decay*p[i])
		if math.Float32bits(np) != math.Float32bits(got[0][i]) || mi != got[1][i] || vi != got[2][i] {
			t.Fatalf("element %d: %v %v %v, scalar %v %v %v", i, got[0][i], got[1][i], got[2][i], np, mi, vi)
		}
	}
	if k != n&^7 {
		t.Fatalf("vector loop did %d of %d", k, n)
	}
}
