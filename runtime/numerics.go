package runtime

import (
	"math"

	"github.com/deepc-dev/deepc/ir"
)

// Conversions from f32 to the narrow float dtypes (docs/design.md §6). Every
// conversion rounds to nearest, ties to even, and handles subnormals of the
// target format. Overflow: bf16, f16 and f8e5m2 round to ±inf (IEEE);
// f8e4m3 (float8_e4m3fn, which has no inf) saturates to ±448, an infinite
// input included. NaN stays NaN.
//
// The Round* functions return the rounded value as an f32 (how a Tensor
// stores narrow floats); the *Bits functions give the encodings and the
// *BitsToF32 functions decode them.

// E4M3Max is the largest finite float8_e4m3fn value.
const E4M3Max = 448

// E5M2Max is the largest finite float8_e5m2 value.
const E5M2Max = 57344

// F32ToBF16Bits rounds f to bf16 (RNE) and returns its encoding. A NaN
// becomes a quiet NaN with the same sign.
func F32ToBF16Bits(f float32) uint16 {
	b := math.Float32bits(f)
	if f != f {
		return uint16(b>>16) | 0x0040
	}
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}

// BF16BitsToF32 decodes a bf16 encoding.
func BF16BitsToF32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// RoundBF16 rounds f to the nearest bf16 value (ties to even).
func RoundBF16(f float32) float32 {
	b := math.Float32bits(f)
	if f != f {
		return f
	}
	b += 0x7fff + (b>>16)&1
	return math.Float32frombits(b &^ 0xffff)
}

// format describes a small binary float format with an implicit leading bit.
type format struct {
	mant   int     // stored mantissa bits
	emin   int     // exponent of the smallest normal (2^emin)
	bias   int     // exponent bias of the encoding
	max    float64 // largest finite value
	sat    bool    // overflow saturates to ±max (else it gives ±inf)
	bits   int     // total encoding width
	nan    uint32  // encoding of a positive NaN
	hasInf bool    // whether the format has an inf encoding (exponent all ones, mantissa 0)
	// minNorm = 2^emin and quantum = 2^(emin-mant), the subnormals' step
	// (set by newFormat: computed once, not per element).
	minNorm, quantum float64
}

func newFormat(f format) format {
	f.minNorm, f.quantum = math.Ldexp(1, f.emin), math.Ldexp(1, f.emin-f.mant)
	return f
}

var (
	fmtF16  = newFormat(format{mant: 10, emin: -14, bias: 15, max: 65504, bits: 16, nan: 0x7e00, hasInf: true})
	fmtE4M3 = newFormat(format{mant: 3, emin: -6, bias: 7, max: E4M3Max, sat: true, bits: 8, nan: 0x7f})
	fmtE5M2 = newFormat(format{mant: 2, emin: -14, bias: 15, max: E5M2Max, bits: 8, nan: 0x7f, hasInf: true})
)

// round rounds f to the format's value set; the result is exact in f32.
func (ft *format) round(f float32) float32 {
	if f != f {
		return f
	}
	a := float32(math.Abs(float64(f)))
	var r float32
	switch {
	case a > float32(ft.max): // also +inf; rounding cannot bring it back below max+ulp/2 except just above max
		r = ft.roundNormal(a)
	case a < float32(ft.minNorm):
		// Subnormal in the target: a fixed quantum 2^(emin-mant); a/q is exact in f64.
		q := ft.quantum
		r = float32(math.RoundToEven(float64(a)/q) * q)
	default:
		r = ft.roundNormal(a)
	}
	if float64(r) > ft.max || math.IsInf(float64(a), 1) {
		if ft.sat {
			r = float32(ft.max)
		} else {
			r = float32(math.Inf(1))
		}
	}
	if math.Signbit(float64(f)) {
		r = -r
	}
	return r
}

// roundNormal rounds a positive finite-or-inf f32 to ft.mant mantissa bits
// (RNE) by integer arithmetic on the f32 encoding; a carry moves into the
// exponent, so the result may exceed max (the caller handles overflow).
func (ft *format) roundNormal(a float32) float32 {
	if math.IsInf(float64(a), 0) {
		return a
	}
	shift := uint32(23 - ft.mant)
	b := math.Float32bits(a)
	b += (1<<(shift-1) - 1) + (b>>shift)&1
	b &^= 1<<shift - 1
	return math.Float32frombits(b)
}

// encode returns the encoding of f after rounding.
func (ft *format) encode(f float32) uint32 {
	sign := uint32(0)
	if math.Signbit(float64(f)) {
		sign = 1 << (ft.bits - 1)
	}
	if f != f {
		return sign | ft.nan
	}
	r := math.Abs(float64(ft.round(f)))
	switch {
	case r == 0:
		return sign
	case math.IsInf(r, 1):
		return sign | uint32(2*ft.bias+1)<<ft.mant
	case r < ft.minNorm:
		return sign | uint32(r/ft.quantum)
	}
	frac, exp := math.Frexp(r) // r = frac · 2^exp, frac in [0.5, 1)
	e := exp - 1
	m := uint32((frac*2 - 1) * float64(uint32(1)<<ft.mant))
	return sign | uint32(e+ft.bias)<<ft.mant | m
}

// decode returns the value of an encoding.
func (ft *format) decode(h uint32) float32 {
	sign := h >> (ft.bits - 1) & 1
	e := int(h>>ft.mant) & (1<<(ft.bits-1-ft.mant) - 1)
	m := h & (1<<ft.mant - 1)
	emax := 1<<(ft.bits-1-ft.mant) - 1
	var v float64
	switch {
	case ft.hasInf && e == emax && m == 0:
		v = math.Inf(1)
	case ft.hasInf && e == emax:
		v = math.NaN()
	case !ft.hasInf && e == emax && m == 1<<ft.mant-1:
		v = math.NaN()
	case e == 0:
		v = float64(m) * ft.quantum
	default:
		v = math.Ldexp(float64(m)+float64(uint32(1)<<ft.mant), e-ft.bias-ft.mant)
	}
	if sign != 0 {
		v = -v
	}
	return float32(v)
}

// RoundF16 rounds f to the nearest IEEE binary16 value.
func RoundF16(f float32) float32 { return fmtF16.round(f) }

// F32ToF16Bits rounds f to binary16 and returns its encoding.
func F32ToF16Bits(f float32) uint16 { return uint16(fmtF16.encode(f)) }

// F16BitsToF32 decodes a binary16 encoding.
func F16BitsToF32(h uint16) float32 { return fmtF16.decode(uint32(h)) }

// RoundE4M3 rounds f to the nearest float8_e4m3fn value, saturating to ±448.
func RoundE4M3(f float32) float32 { return fmtE4M3.round(f) }

// F32ToE4M3Bits rounds f to float8_e4m3fn (saturating) and returns its
// encoding; NaN gives 0x7f (0xff when its sign bit is set).
func F32ToE4M3Bits(f float32) uint8 { return uint8(fmtE4M3.encode(f)) }

// E4M3BitsToF32 decodes a float8_e4m3fn encoding (0x7f and 0xff are NaN).
func E4M3BitsToF32(h uint8) float32 { return fmtE4M3.decode(uint32(h)) }

// RoundE5M2 rounds f to the nearest float8_e5m2 value (overflow gives ±inf).
func RoundE5M2(f float32) float32 { return fmtE5M2.round(f) }

// F32ToE5M2Bits rounds f to float8_e5m2 and returns its encoding.
func F32ToE5M2Bits(f float32) uint8 { return uint8(fmtE5M2.encode(f)) }

// E5M2BitsToF32 decodes a float8_e5m2 encoding.
func E5M2BitsToF32(h uint8) float32 { return fmtE5M2.decode(uint32(h)) }

// RoundTo rounds f to dtype dt's value set (the identity for f32 and for
// non-float dtypes).
func RoundTo(dt ir.DType, f float32) float32 {
	switch dt {
	case ir.BF16:
		return RoundBF16(f)
	case ir.F16:
		return fmtF16.round(f)
	case ir.F8E4M3:
		return fmtE4M3.round(f)
	case ir.F8E5M2:
		return fmtE5M2.round(f)
	}
	return f
}

// RoundSlice rounds every element of xs to dt in place.
func RoundSlice(dt ir.DType, xs []float32) {
	switch dt {
	case ir.BF16:
		for i, f := range xs {
			xs[i] = RoundBF16(f)
		}
	case ir.F16, ir.F8E4M3, ir.F8E5M2:
		ft := &fmtF16
		if dt == ir.F8E4M3 {
			ft = &fmtE4M3
		} else if dt == ir.F8E5M2 {
			ft = &fmtE5M2
		}
		for i, f := range xs {
			xs[i] = ft.round(f)
		}
	}
}
