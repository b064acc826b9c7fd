package emu_test

// Small float formats (f16, bf16, e4m3, e5m2), written from their definitions (docs/ptx-isa-notes.md §5.2.3): the conversion tests' oracle.

import (
	"math"
	"testing"
)

// ---- Small float formats, written from their definitions (§5.2.3) -----------

// miniFmt is a binary floating-point format with ebits exponent bits, mbits
// mantissa bits and the given bias.
type miniFmt struct {
	name         string
	ebits, mbits int
	bias         int
}

var (
	fmtF16  = miniFmt{"f16", 5, 10, 15}
	fmtBF16 = miniFmt{"bf16", 8, 7, 127}
	fmtE4M3 = miniFmt{"e4m3", 4, 3, 7}
	fmtE5M2 = miniFmt{"e5m2", 5, 2, 15}
)

// rneMag rounds |x| (finite, > 0) to the format with round-to-nearest-even,
// with gradual underflow, and returns the magnitude code (exponent<<mbits |
// mantissa). Codes past the largest exponent are returned unclamped; callers
// apply the format's overflow rule.
func (f miniFmt) rneMag(x float64) uint64 {
	x = math.Abs(x)
	_, exp := math.Frexp(x) // x = fr * 2^exp, fr in [0.5, 1)
	e := exp - 1
	if e < 1-f.bias {
		e = 1 - f.bias // subnormal range: fixed quantum
	}
	q := math.Ldexp(1, e-f.mbits)
	r := math.RoundToEven(x / q)
	return uint64(e+f.bias-1)<<uint(f.mbits) + uint64(r)
}

// decode returns the value of a code in the IEEE-like interpretation (the
// top exponent is Inf/NaN) — used for f16, bf16 and e5m2.
func (f miniFmt) decodeIEEE(code uint64) float64 {
	sign := code >> uint(f.ebits+f.mbits) & 1
	e := int(code>>uint(f.mbits)) & (1<<uint(f.ebits) - 1)
	m := code & (1<<uint(f.mbits) - 1)
	var v float64
	switch {
	case e == 1<<uint(f.ebits)-1:
		if m == 0 {
			v = math.Inf(1)
		} else {
			v = math.NaN()
		}
	case e == 0:
		v = math.Ldexp(float64(m), 1-f.bias-f.mbits)
	default:
		v = math.Ldexp(float64(m|1<<uint(f.mbits)), e-f.bias-f.mbits)
	}
	if sign != 0 {
		v = -v
	}
	return v
}

// decodeE4M3: no infinities; 0x7F/0xFF are NaN; everything else is finite.
func decodeE4M3(b uint8) float64 {
	if b&0x7F == 0x7F {
		return math.NaN()
	}
	e := int(b>>3) & 0xF
	m := uint64(b & 7)
	var v float64
	if e == 0 {
		v = math.Ldexp(float64(m), -9)
	} else {
		v = math.Ldexp(float64(m|8), e-7-3)
	}
	if b&0x80 != 0 {
		v = -v
	}
	return v
}

func signBit(x float64, width int) uint64 {
	if math.Signbit(x) {
		return 1 << uint(width-1)
	}
	return 0
}

// encF16 / encBF16: RNE, overflow to ±Inf, NaN -> a NaN (canonical positive quiet).
func encIEEE16(f miniFmt, x float64) uint64 {
	if math.IsNaN(x) {
		return 0x7FFF // any NaN; compare with isNaN16
	}
	s := signBit(x, 16)
	if math.IsInf(x, 0) || x == 0 {
		if x == 0 {
			return s
		}
		return s | uint64(1<<uint(f.ebits)-1)<<uint(f.mbits)
	}
	mag := f.rneMag(x)
	inf := uint64(1<<uint(f.ebits)-1) << uint(f.mbits)
	if mag >= inf {
		mag = inf
	}
	return s | mag
}

func encF16(x float64) uint64  { return encIEEE16(fmtF16, x) }
func encBF16(x float64) uint64 { return encIEEE16(fmtBF16, x) }

func isNaN16(f miniFmt, c uint64) bool {
	e := (c >> uint(f.mbits)) & (1<<uint(f.ebits) - 1)
	return e == 1<<uint(f.ebits)-1 && c&(1<<uint(f.mbits)-1) != 0
}

// encE4M3Sat: cvt.rn.satfinite to e4m3 (§7.5): NaN -> NaN, |x| > 448 -> ±448,
// otherwise RNE with subnormals. Returns 0xFFFF for "some NaN".
func encE4M3Sat(x float64) uint64 {
	if math.IsNaN(x) {
		return 0xFFFF
	}
	s := signBit(x, 8)
	if math.Abs(x) > 448 {
		return s | 0x7E
	}
	if x == 0 {
		return s
	}
	return s | fmtE4M3.rneMag(x)
}

// encE5M2Sat: NaN -> NaN, |x| > 57344 (incl. Inf) -> ±57344 (0x7B), else RNE.
func encE5M2Sat(x float64) uint64 {
	if math.IsNaN(x) {
		return 0xFFFF
	}
	s := signBit(x, 8)
	if math.Abs(x) > 57344 {
		return s | 0x7B
	}
	if x == 0 {
		return s
	}
	return s | fmtE5M2.rneMag(x)
}

func isNaNE4M3(b uint64) bool { return b&0x7F == 0x7F }
func isNaNE5M2(b uint64) bool { return b&0x7F > 0x7C }

// Self-check of the encoders against the notes' vectors (independent of the emulator).
func TestISACvtEncodersSelfCheck(t *testing.T) {
	for _, c := range []struct {
		got, want uint64
		what      string
	}{
		{encE4M3Sat(1.0), 0x38, "e4m3(1.0)"},
		{encE4M3Sat(0.5), 0x30, "e4m3(0.5)"},
		{encE4M3Sat(1.0625), 0x38, "e4m3(1.0625) tie to even"},
		{encE4M3Sat(1.1875), 0x3A, "e4m3(1.1875)"},
		{encE4M3Sat(math.Ldexp(1, -10)), 0x00, "e4m3(2^-10) tie to even"},
		{encE4M3Sat(math.Ldexp(1, -9)), 0x01, "e4m3 smallest subnormal"},
		{encE4M3Sat(math.Ldexp(1, -6)), 0x08, "e4m3 smallest normal"},
		{encE4M3Sat(1000), 0x7E, "e4m3 sat"},
		{encE4M3Sat(math.Inf(-1)), 0xFE, "e4m3 sat -Inf"},
		{encE5M2Sat(1.0), 0x3C, "e5m2(1)"},
		{encE5M2Sat(math.Inf(1)), 0x7B, "e5m2 sat Inf"},
		{encBF16(1.0), 0x3F80, "bf16(1)"},
		{encBF16(2.0), 0x4000, "bf16(2)"},
		{encF16(1.0), 0x3C00, "f16(1)"},
		{encF16(0.5), 0x3800, "f16(0.5)"},
		{encF16(65520), 0x7C00, "f16(65520) rounds to Inf"},
	} {
		if c.got != c.want {
			t.Errorf("test encoder self-check %s: want %#x got %#x", c.what, c.want, c.got)
		}
	}
	for b := 0; b < 256; b++ {
		v := decodeE4M3(uint8(b))
		if !math.IsNaN(v) && encE4M3Sat(v) != uint64(b) {
			t.Errorf("e4m3 encoder does not round-trip byte %#x", b)
		}
		w := fmtE5M2.decodeIEEE(uint64(b))
		if !math.IsNaN(w) && !math.IsInf(w, 0) && encE5M2Sat(w) != uint64(b) {
			t.Errorf("e5m2 encoder does not round-trip byte %#x", b)
		}
	}
}
