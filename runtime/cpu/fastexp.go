package cpu

import "math"

// A table-driven exp for the sigmoid and SiLU kernels: x = (32k + j)·ln2/32
// + r with |r| <= ln2/64, exp(x) = 2^k · 2^(j/32) · p(r), p the degree-6
// Taylor polynomial of exp (truncation error < 3e-16 relative). The result
// is within a few f64 ulps of math.Exp, far below the f32 rounding that
// follows.

var exp2Tab [32]uint64 // bits of 2^(j/32)

func init() {
	for j := range exp2Tab {
		exp2Tab[j] = math.Float64bits(math.Exp2(float64(j) / 32))
	}
}

const (
	expMaxArg  = 700 // |x| above which expFast is not used
	expShifter = 0x1.8p52
	invLn2x32  = 32 / math.Ln2
	ln2Hi32    = 6.93147180369123816490e-01 / 32 // ln2 high part (trailing zero bits) / 32
	ln2Lo32    = 1.90821492927058770002e-10 / 32
)

// expFast returns exp(x) for |x| <= expMaxArg.
func expFast(x float64) float64 {
	t := x*invLn2x32 + expShifter
	n := int64(int32(uint32(math.Float64bits(t)))) // round(x·32/ln2)
	kf := t - expShifter
	r := (x - kf*ln2Hi32) - kf*ln2Lo32
	r2 := r * r // Estrin's scheme: a shorter dependency chain than Horner's
	p := (1 + r) + r2*(1.0/2+r*(1.0/6)) + (r2*r2)*((1.0/24+r*(1.0/120))+r2*(1.0/720))
	return math.Float64frombits(exp2Tab[n&31]+uint64(n>>5)<<52) * p
}

// expAny is math.Exp through expFast where that applies.
func expAny(x float64) float64 {
	if math.Abs(x) <= expMaxArg {
		return expFast(x)
	}
	return math.Exp(x) // huge, infinite or NaN
}

// sigmoidVec and siluVec, when set (sigmoid_amd64.go), compute a prefix
// of dst from src with vector instructions, the same way as the scalar
// loops below, and return its length. Elements with |x| > expMaxArg or
// NaN are left to the scalar code.
var sigmoidVec, siluVec func(dst, src []float32) int

// sigmoidF32 writes sigmoid(src) to dst, computed in f64 and rounded.
func sigmoidF32(dst, src []float32) {
	dst = dst[:len(src)]
	done := 0
	if sigmoidVec != nil {
		done = sigmoidVec(dst, src)
	}
	for i, v := range src {
		if i >= done || !(math.Abs(float64(v)) <= expMaxArg) {
			dst[i] = float32(sigmoidFast(float64(v)))
		}
	}
}

// siluF32 writes x·sigmoid(x) to dst, computed in f64 and rounded.
func siluF32(dst, src []float32) {
	dst = dst[:len(src)]
	done := 0
	if siluVec != nil {
		done = siluVec(dst, src)
	}
	for i, v := range src {
		if i >= done || !(math.Abs(float64(v)) <= expMaxArg) {
			x := float64(v)
			dst[i] = float32(x * sigmoidFast(x))
		}
	}
}

func sigmoidFast(x float64) float64 {
	ax := math.Abs(x)
	if !(ax <= expMaxArg) {
		return sigmoid(x) // huge, infinite or NaN
	}
	z := expFast(-ax)
	// 1/(1+z) for x >= 0, z/(1+z) for x < 0, without a branch on the
	// sign: the numerator's bits are picked with a mask.
	neg := -(math.Float64bits(x) >> 63)
	num := math.Float64frombits(math.Float64bits(1)&^neg | math.Float64bits(z)&neg)
	return num / (1 + z)
}
