package cpu

import (
	"math"
	"math/rand/v2"
	"testing"
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
