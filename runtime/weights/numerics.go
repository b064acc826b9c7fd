package weights

import (
	"math"

	"github.com/deepc-dev/deepc/runtime"
)

// Conversions between float32 and the storage formats a checkpoint holds.
// Rounding of values (roundBF16, roundF16, roundE4M3) is runtime's (one
// definition for every package). The encoders and decoders here are
// bit-level and table-driven because they run over every byte of a
// checkpoint; numerics_test.go checks them against runtime's on every code
// and on a sweep of float32 inputs.

// bf16Bits rounds f to bfloat16 (round to nearest, ties to even) and returns
// the 16 bits. NaN stays NaN (quiet); overflow rounds to ±inf like IEEE.
func bf16Bits(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 { // NaN
		return uint16(b>>16) | 0x0040
	}
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}

func bf16Value(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

func roundBF16(f float32) float32 { return runtime.RoundBF16(f) }

// f16Value decodes IEEE binary16 bits.
func f16Value(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	man := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // inf or NaN
		if man == 0 {
			return math.Float32frombits(sign | 0x7f800000)
		}
		return math.Float32frombits(sign | 0x7fc00000 | man<<13)
	case exp == 0: // zero or subnormal: man * 2^-24, exact in float32
		v := float32(man) * (1.0 / (1 << 24))
		if sign != 0 {
			v = -v
		}
		return v
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | man<<13)
}

// f16Bits rounds f to IEEE binary16 (ties to even; overflow to ±inf).
func f16Bits(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	a := b & 0x7fffffff
	switch {
	case a > 0x7f800000: // NaN
		return sign | 0x7e00 | uint16((a>>13)&0x3ff)
	case a == 0x7f800000:
		return sign | 0x7c00
	}
	x := float64(math.Float32frombits(a))
	if x < 0x1p-14 { // subnormal range: multiples of 2^-24
		q := math.RoundToEven(x * 0x1p24) // 0..1024; 1024 is the smallest normal
		return sign | uint16(q)
	}
	frac, e := math.Frexp(x) // x = frac * 2^e, frac in [0.5, 1)
	e--                      // x = (2*frac) * 2^e, 2*frac in [1, 2)
	m := math.RoundToEven((2*frac - 1) * 1024)
	if m == 1024 {
		m = 0
		e++
	}
	if e > 15 {
		return sign | 0x7c00
	}
	return sign | uint16(e+15)<<10 | uint16(m)
}

func roundF16(f float32) float32 { return runtime.RoundF16(f) }

// E4M3 (float8_e4m3fn): 1 sign, 4 exponent (bias 7), 3 mantissa bits; no
// infinities; S.1111.111 is NaN; the largest finite magnitude is 448.
var e4m3Table = func() (t [256]float32) {
	for i := range t {
		sign := float32(1)
		if i&0x80 != 0 {
			sign = -1
		}
		exp := (i >> 3) & 0xf
		man := i & 7
		switch {
		case exp == 0xf && man == 7:
			t[i] = float32(math.NaN())
		case exp == 0:
			t[i] = sign * float32(man) * (1.0 / 512) // man * 2^-9
		default:
			t[i] = sign * float32(math.Ldexp(1+float64(man)/8, exp-7))
		}
	}
	return t
}()

const e4m3Max = runtime.E4M3Max

func e4m3Value(b uint8) float32 { return e4m3Table[b] }

// e4m3Bits rounds f to float8_e4m3fn: ties to even, saturating at ±448
// (docs/design.md §6: to-e4m3 saturates); NaN becomes NaN, ±inf saturates.
func e4m3Bits(f float32) uint8 {
	b := math.Float32bits(f)
	sign := uint8(b>>24) & 0x80
	a := b & 0x7fffffff
	switch {
	case a > 0x7f800000: // NaN
		return sign | 0x7f
	case a >= 0x43e00000: // >= 448, inf included
		return sign | 0x7e
	case a < 0x3c800000: // below 2^-6: subnormal, multiples of 2^-9
		// 8 rounds up to the smallest normal, code 0x08.
		return sign | uint8(math.RoundToEven(float64(math.Float32frombits(a))*512))
	}
	// Normal: keep 3 of float32's 23 mantissa bits, ties to even; a carry
	// moves into the exponent. Rebias the exponent from 127 to 7.
	r := (a + 0x7ffff + (a>>20)&1) >> 20
	return sign | uint8(min(r-(127-7)<<3, 0x7e))
}

func roundE4M3(f float32) float32 { return runtime.RoundE4M3(f) }
