package emu

import "math"

// Number formats, written from the PTX ISA's descriptions of the types
// (docs/ptx-isa-notes.md) and IEEE 754, independently of the CPU
// backend's numerics: the emulator is a second opinion, not a copy.

func f32bits(f float32) uint32     { return math.Float32bits(f) }
func f32frombits(b uint32) float32 { return math.Float32frombits(b) }
func f64bits(f float64) uint64     { return math.Float64bits(f) }
func f64frombits(b uint64) float64 { return math.Float64frombits(b) }

// canonNaN32 is the NaN an NVIDIA GPU produces for f32 results.
const canonNaN32 = 0x7fffffff

// canonNaN64 is the f64 canonical NaN.
const canonNaN64 = 0x7fffffffffffffff

// ftz32 flushes an f32 subnormal to a zero of the same sign (.ftz).
func ftz32(f float32) float32 {
	b := f32bits(f)
	if b&0x7f800000 == 0 {
		return f32frombits(b & 0x80000000)
	}
	return f
}

// res32 is an f32 result as register bits: NaNs canonical.
func res32(f float32) uint64 {
	if f != f {
		return canonNaN32
	}
	return uint64(f32bits(f))
}

func res64(f float64) uint64 {
	if f != f {
		return canonNaN64
	}
	return f64bits(f)
}

// smallFloat describes a binary floating-point format narrower than f32.
type smallFloat struct {
	exp, man int  // exponent and mantissa bits
	bias     int  // exponent bias
	inf      bool // the all-ones exponent holds infinities and NaNs (IEEE-like)
	// maxFinite is the largest finite magnitude (maxBits its encoding);
	// nanBits the canonical NaN (without sign).
	maxFinite float64
	maxBits   uint32
	nanBits   uint32
}

var (
	// fmtE4M3 is float8 e4m3 (FN): no infinities, S.1111.111 is NaN, 448 max.
	fmtE4M3 = smallFloat{exp: 4, man: 3, bias: 7, maxFinite: 448, maxBits: 0x7e, nanBits: 0x7f}
	// fmtE5M2 is float8 e5m2: IEEE-like, 57344 max.
	fmtE5M2 = smallFloat{exp: 5, man: 2, bias: 15, inf: true, maxFinite: 57344, maxBits: 0x7b, nanBits: 0x7f}
	fmtF16  = smallFloat{exp: 5, man: 10, bias: 15, inf: true, maxFinite: 65504, maxBits: 0x7bff, nanBits: 0x7fff}
	fmtBF16 = smallFloat{exp: 8, man: 7, bias: 127, inf: true, maxFinite: 0x1.fep127, maxBits: 0x7f7f, nanBits: 0x7fff}
)

// encode rounds x to the format, to nearest even; satfinite clamps
// overflow and infinities to the largest finite magnitude (NaN stays
// NaN). Without satfinite an overflow is an infinity, or NaN in a format
// without infinities.
func (f smallFloat) encode(x float64, satfinite bool) uint32 {
	sign := uint32(0)
	if math.Signbit(x) {
		sign = 1 << (f.exp + f.man)
	}
	if x != x {
		return f.nanBits
	}
	a := math.Abs(x)
	infBits := uint32((1<<f.exp)-1) << f.man
	if math.IsInf(a, 0) {
		switch {
		case satfinite:
			return sign | f.encodeFinite(f.maxFinite)
		case f.inf:
			return sign | infBits
		}
		return sign | f.nanBits
	}
	if a == 0 {
		return sign
	}
	minExp := 1 - f.bias // exponent of the smallest normal
	_, e := math.Frexp(a)
	e-- // a = m·2^e with 1 <= m < 2
	if e < minExp {
		e = minExp
	}
	quantum := math.Ldexp(1, e-f.man)
	r := math.RoundToEven(a/quantum) * quantum
	if r > f.maxFinite {
		switch {
		case satfinite:
			r = f.maxFinite
		case f.inf:
			return sign | infBits
		default:
			return sign | f.nanBits
		}
	}
	return sign | f.encodeFinite(r)
}

// encodeFinite encodes a non-negative value exactly representable in f.
func (f smallFloat) encodeFinite(r float64) uint32 {
	if r == 0 {
		return 0
	}
	minExp := 1 - f.bias
	if r < math.Ldexp(1, minExp) { // subnormal
		return uint32(r / math.Ldexp(1, minExp-f.man))
	}
	_, e := math.Frexp(r)
	e--
	m := uint32((r/math.Ldexp(1, e) - 1) * float64(uint32(1)<<f.man))
	return uint32(e+f.bias)<<f.man | m
}

// decode gives the value of bits in f.
func (f smallFloat) decode(b uint32) float64 {
	sign := 1.0
	if b>>(f.exp+f.man)&1 != 0 {
		sign = -1
	}
	e := int(b>>f.man) & (1<<f.exp - 1)
	m := float64(b & (1<<f.man - 1))
	switch {
	case e == 1<<f.exp-1 && f.inf:
		if m == 0 {
			return sign * math.Inf(1)
		}
		return math.NaN()
	case e == 1<<f.exp-1 && !f.inf && int(m) == 1<<f.man-1:
		return math.NaN()
	case e == 0:
		return sign * math.Ldexp(m, 1-f.bias-f.man)
	}
	return sign * math.Ldexp(1+m/float64(uint32(1)<<f.man), e-f.bias)
}

// fromF32 is encode for an f32 input, in integer arithmetic on its bits
// (the hot path of cvt; encode, in f64 arithmetic, is its reference and a
// test holds the two equal): the significand is shifted to the target's
// quantum and rounded to nearest even; an overflow saturates, or becomes
// an infinity (NaN without infinities).
func (f smallFloat) fromF32(b uint32, satfinite bool) uint32 {
	sign := b >> 31 << (f.exp + f.man)
	a := b & 0x7fffffff
	switch {
	case a > 0x7f800000:
		return f.nanBits
	case a == 0x7f800000:
		if satfinite {
			return sign | f.maxBits
		}
		if f.inf {
			return sign | uint32((1<<f.exp)-1)<<f.man
		}
		return sign | f.nanBits
	}
	e := int(a>>23) - 127
	mant := a & 0x7fffff
	if a>>23 == 0 {
		e = -126
	} else {
		mant |= 1 << 23
	}
	minExp := 1 - f.bias
	shift := 23 - f.man
	sub := e < minExp
	if sub {
		shift += minExp - e
	}
	if shift > 25 {
		return sign // below half the smallest subnormal
	}
	r := mant >> shift
	rem := mant & (1<<shift - 1)
	half := uint32(1) << (shift - 1)
	if rem > half || rem == half && r&1 == 1 {
		r++
	}
	bits := r
	if !sub {
		bits = uint32(e+f.bias)<<f.man + r - 1<<f.man
	}
	if bits > f.maxBits {
		switch {
		case satfinite:
			return sign | f.maxBits
		case f.inf:
			return sign | uint32((1<<f.exp)-1)<<f.man
		}
		return sign | f.nanBits
	}
	return sign | bits
}

// Decoding tables of the 8- and 16-bit formats.
var (
	e4m3Values, e5m2Values [256]float64
	f16Values              [1 << 16]float32
)

func init() {
	for i := range 256 {
		e4m3Values[i] = fmtE4M3.decode(uint32(i))
		e5m2Values[i] = fmtE5M2.decode(uint32(i))
	}
	for i := range 1 << 16 {
		f16Values[i] = float32(fmtF16.decode(uint32(i)))
	}
}
