package codegen

import (
	"math"

	"github.com/llir/llvm/ir/constant"
	"github.com/llir/llvm/ir/types"
	"github.com/llir/llvm/ir/value"
)

// PTX has f64 add, mul, div and rounding but no f64 log or exp; rope's
// dynamic scaling needs both at full precision (an angle pos·freq at
// position 10^5 must keep its radians to 1e-6), so they are built here
// from the IEEE layout and short series, in f64 throughout.

func cf64(v float64) *constant.Float { return constant.NewFloat(f64, v) }

// ln64 is log(g) for a positive normal g: g = m·2^e with m in [1, 2),
// log m = 2·atanh(z), z = (m−1)/(m+1) ≤ 1/3, whose odd series has converged
// to f64 after 20 terms ((1/9)^20 < 1e-19).
func (k *kernelBuilder) ln64(g value.Value) value.Value {
	bits := k.b.NewBitCast(g, types.I64)
	e := k.sub(k.b.NewAnd(k.b.NewLShr(bits, ci64(52)), ci64(0x7ff)), ci64(1023))
	mbits := k.b.NewOr(k.b.NewAnd(bits, ci64(1<<52-1)), ci64(1023<<52))
	m := k.b.NewBitCast(mbits, f64)
	z := k.b.NewFDiv(k.b.NewFSub(m, cf64(1)), k.b.NewFAdd(m, cf64(1)))
	z2 := k.b.NewFMul(z, z)
	var s value.Value = cf64(1.0 / 39)
	for j := 18; j >= 0; j-- {
		s = k.b.NewFAdd(k.b.NewFMul(s, z2), cf64(1/float64(2*j+1)))
	}
	lnM := k.b.NewFMul(k.b.NewFMul(cf64(2), z), s)
	return k.b.NewFAdd(k.b.NewFMul(k.b.NewSIToFP(e, f64), cf64(math.Ln2)), lnM)
}

// exp64 is e^y for |y| < 700: y = n·ln2 + r with |r| ≤ ln2/2 (ln2 split
// in two so that n·ln2 is exact), e^r by its Taylor series to r^20/20!
// (< 1e-25 at |r| = 0.35), times 2^n built in the exponent field.
func (k *kernelBuilder) exp64(y value.Value) value.Value {
	const ln2Hi, ln2Lo = 6.93147180369123816490e-01, 1.90821492927058770002e-10
	n := k.call("llvm.rint.f64", f64, k.b.NewFMul(y, cf64(1/math.Ln2)))
	r := k.b.NewFSub(k.b.NewFSub(y, k.b.NewFMul(n, cf64(ln2Hi))), k.b.NewFMul(n, cf64(ln2Lo)))
	fact := 1.0
	for j := 2; j <= 20; j++ {
		fact *= float64(j)
	}
	var p value.Value = cf64(1 / fact)
	for j := 19; j >= 0; j-- {
		fact /= float64(j + 1) // now j!
		p = k.b.NewFAdd(k.b.NewFMul(p, r), cf64(1/fact))
	}
	ni := k.b.NewFPToSI(n, types.I64)
	scale := k.b.NewBitCast(k.b.NewShl(k.add(ni, ci64(1023)), ci64(52)), f64)
	return k.b.NewFMul(p, scale)
}
