package emu

import (
	"fmt"
	"math"
	"math/big"
)

// cvt (docs/ptx-isa-notes.md, "cvt"): integer resizing (truncation or
// extension by the source's signedness, .sat clamps), float widening
// (exact) and narrowing (rounding required), integer↔float, and the
// packed FP8/FP16 forms. Packed results hold the first source operand in
// the upper half.

func init() {
	builders["cvt"] = buildCvt
}

// smallFormat is the format of a type narrower than f32.
func smallFormat(t ptype) smallFloat {
	switch t {
	case tF16:
		return fmtF16
	case tBF16:
		return fmtBF16
	case tE4M3:
		return fmtE4M3
	}
	return fmtE5M2
}

// readFloat reads register bits of a float type as f64 (exact).
func readFloat(t ptype, v uint64) float64 {
	switch t {
	case tF32:
		return float64(f32frombits(uint32(v)))
	case tF64:
		return f64frombits(v)
	case tBF16:
		return float64(f32frombits(uint32(v) << 16))
	case tF16:
		return float64(f16Values[uint16(v)])
	case tE4M3:
		return e4m3Values[uint8(v)]
	}
	return e5m2Values[uint8(v)]
}

func buildCvt(d *decoder, in *inst, o *opc, args []string) error {
	if len(o.types) != 2 {
		return fmt.Errorf("want a destination and a source type")
	}
	dt, st := o.types[0], o.types[1]
	in.typ, in.typ2 = dt, st
	rnd := ""
	for _, m := range []string{"rn", "rz", "rm", "rp", "rni", "rzi", "rmi", "rpi"} {
		if o.has(m) {
			if rnd != "" {
				return fmt.Errorf("two rounding modifiers")
			}
			rnd = m
		}
	}
	if err := o.only("rn", "rz", "rm", "rp", "rni", "rzi", "rmi", "rpi", "ftz", "sat", "satfinite", "relu"); err != nil {
		return err
	}
	ftz, sat, satf, relu := o.has("ftz"), o.has("sat"), o.has("satfinite"), o.has("relu")
	switch {
	case (dt == tE4M3x2 || dt == tE5M2x2 || dt == tBF16x2 || dt == tF16x2) && st == tF32:
		// Two f32 sources packed: d = {cvt(a) high, cvt(b) low}.
		if st != tF32 || rnd != "rn" {
			return fmt.Errorf("packed conversion from .%s with %q is not implemented", st, rnd)
		}
		if (dt == tE4M3x2 || dt == tE5M2x2) && !satf {
			return fmt.Errorf("the FP8 conversions require .satfinite")
		}
		if err := d.simple(in, args, 2, tF32); err != nil {
			return err
		}
		f := map[ptype]smallFloat{tE4M3x2: fmtE4M3, tE5M2x2: fmtE5M2, tBF16x2: fmtBF16, tF16x2: fmtF16}[dt]
		half := uint(dt.bits() / 2)
		one := func(v uint64) uint64 {
			b := uint32(v)
			if relu && (b&0x7fffffff > 0x7f800000) {
				return uint64(f.nanBits)
			}
			if relu && b>>31 != 0 {
				b = 0
			}
			return uint64(f.fromF32(b, satf))
		}
		in.exec = binop(func(a, b uint64) uint64 { return one(a)<<half | one(b) })
		return nil
	case (dt == tE4M3x2 || dt == tE5M2x2) && st == tF16x2:
		// Two f16 halves, each to FP8: d = {cvt(a[31:16]), cvt(a[15:0])}.
		if rnd != "rn" || !satf {
			return fmt.Errorf("want .rn.satfinite")
		}
		if err := d.simple(in, args, 1, st); err != nil {
			return err
		}
		f := fmtE4M3
		if dt == tE5M2x2 {
			f = fmtE5M2
		}
		one := func(h uint64) uint64 {
			b := f32bits(f16Values[uint16(h)])
			if relu && b>>31 != 0 && b&0x7fffffff <= 0x7f800000 {
				b = 0
			}
			return uint64(f.fromF32(b, true))
		}
		in.exec = unary(func(a uint64) uint64 { return one(a>>16)<<8 | one(a&0xffff) })
		return nil
	case (st == tE4M3x2 || st == tE5M2x2) && dt == tF16x2:
		// Two FP8 values in a 16-bit source, each widened exactly to f16.
		if rnd != "rn" {
			return fmt.Errorf("want .rn")
		}
		if err := d.simple(in, args, 1, st); err != nil {
			return err
		}
		f := fmtE4M3
		if st == tE5M2x2 {
			f = fmtE5M2
		}
		// Exact: every FP8 value is an f16 value. A table of the 256.
		var tab [256]uint64
		for i := range tab {
			tab[i] = uint64(fmtF16.encode(f.decode(uint32(i)), false))
		}
		in.exec = unary(func(a uint64) uint64 { return tab[a>>8&0xff]<<16 | tab[a&0xff] })
		return nil
	}
	if err := d.simple(in, args, 1, st); err != nil {
		return err
	}
	switch {
	case dt.isInt() && st.isInt():
		if rnd != "" || ftz {
			return fmt.Errorf("integer conversions take no rounding")
		}
		sx, dx := st.sext, dt.sext
		lo, hi := intRange(dt)
		// The value is chopped to the destination type, then extended to
		// the register's width by the destination's signedness.
		in.exec = unary(func(a uint64) uint64 {
			v := sx(a)
			if sat {
				v = clampInt(v, st.signed(), lo, hi)
			}
			return dx(v)
		})
	case dt.isFloat() && st.isFloat():
		widen := dt.bits() > st.bits() || dt == st && rnd == ""
		switch {
		case dt == st && (rnd == "rni" || rnd == "rzi" || rnd == "rmi" || rnd == "rpi"):
			in.exec = unary(func(a uint64) uint64 { return writeFloat(dt, roundInt(readFloat(st, a), rnd), false, false) })
		case widen && rnd == "":
			if st == tBF16 && dt == tF16 {
				return fmt.Errorf("bf16 to f16 needs rounding")
			}
			in.exec = unary(func(a uint64) uint64 {
				x := readFloat(st, a)
				if ftz && st == tF32 {
					x = float64(ftz32(float32(x)))
				}
				return writeFloat(dt, x, ftz, false)
			})
		case !widen && rnd == "rn" && st == tF32 && (dt == tBF16 || dt == tF16):
			f := smallFormat(dt)
			in.exec = unary(func(a uint64) uint64 {
				b := uint32(a)
				if ftz && b&0x7f800000 == 0 {
					b &= 0x80000000
				}
				if relu && b>>31 != 0 && b&0x7fffffff <= 0x7f800000 {
					b = 0
				}
				return uint64(f.fromF32(b, satf))
			})
		case !widen && (rnd == "rn" || rnd == "rz" && dt == tF32):
			in.exec = unary(func(a uint64) uint64 {
				x := readFloat(st, a)
				if relu && x < 0 {
					x = 0
				}
				if rnd == "rz" {
					return writeFloatRZ(dt, x)
				}
				return writeFloat(dt, x, ftz, satf)
			})
		default:
			return fmt.Errorf("float conversion .%s.%s with rounding %q is not implemented", dt, st, rnd)
		}
	case dt.isFloat() && st.isInt() && (rnd == "rz" || rnd == "rm" || rnd == "rp") && (dt == tF32 || dt == tF64):
		// Directed rounding: rounded by math/big in the mode.
		mode := map[string]big.RoundingMode{"rz": big.ToZero, "rm": big.ToNegativeInf, "rp": big.ToPositiveInf}[rnd]
		prec := uint(24)
		if dt == tF64 {
			prec = 53
		}
		sx, signed := st.sext, st.signed()
		in.exec = unary(func(a uint64) uint64 {
			f := new(big.Float).SetPrec(prec).SetMode(mode)
			if signed {
				f.SetInt64(int64(sx(a)))
			} else {
				f.SetUint64(sx(a))
			}
			if dt == tF32 {
				x, _ := f.Float32()
				return uint64(f32bits(x))
			}
			x, _ := f.Float64()
			return f64bits(x)
		})
	case dt.isFloat() && st.isInt():
		if rnd != "rn" && rnd != "" {
			return fmt.Errorf("int to float with .%s is not implemented", rnd)
		}
		sx, signed := st.sext, st.signed()
		in.exec = unary(func(a uint64) uint64 {
			v := sx(a)
			switch dt {
			case tF32:
				if signed {
					return res32(float32(int64(v)))
				}
				return res32(float32(v))
			case tF64:
				if signed {
					return res64(float64(int64(v)))
				}
				return res64(float64(v))
			}
			// f16/bf16: exact in f64 for the 32-bit sources, then rounded.
			if signed {
				return writeFloat(dt, float64(int64(v)), false, false)
			}
			return writeFloat(dt, float64(v), false, false)
		})
	case dt.isInt() && st.isFloat():
		if rnd != "rni" && rnd != "rzi" && rnd != "rmi" && rnd != "rpi" {
			return fmt.Errorf("float to int needs an integer rounding (.rni, .rzi, ...)")
		}
		lo, hi := intRange(dt)
		mask := dt.mask()
		in.exec = unary(func(a uint64) uint64 {
			x := readFloat(st, a)
			if ftz && st == tF32 {
				x = float64(ftz32(float32(x)))
			}
			if x != x {
				// NaN: 0, except from f64 or into 64 bits, where it is
				// 1 << (bits-1).
				if st == tF64 || dt.bits() == 64 {
					return 1 << (dt.bits() - 1)
				}
				return 0
			}
			r := roundInt(x, rnd)
			// Float to integer conversions saturate.
			switch {
			case r <= float64(lo):
				return uint64(lo) & mask
			case dt.signed() && r >= float64(hi):
				return uint64(hi) & mask
			case !dt.signed() && r >= float64(uint64(hi)):
				return uint64(hi) & mask
			case dt.signed():
				return uint64(int64(r)) & mask
			}
			return uint64(r) & mask
		})
	default:
		return fmt.Errorf("conversion .%s.%s is not implemented", dt, st)
	}
	return nil
}

// writeFloat rounds x to nearest even in type t and returns its bits.
func writeFloat(t ptype, x float64, ftz, satfinite bool) uint64 {
	switch t {
	case tF32:
		f := float32(x)
		if ftz {
			f = ftz32(f)
		}
		if satfinite && math.IsInf(float64(f), 0) {
			f = float32(math.Copysign(math.MaxFloat32, x))
		}
		return res32(f)
	case tF64:
		return res64(x)
	}
	return uint64(smallFormat(t).encode(x, satfinite))
}

// writeFloatRZ rounds toward zero to f32.
func writeFloatRZ(t ptype, x float64) uint64 {
	f := float32(x)
	if math.Abs(float64(f)) > math.Abs(x) {
		f = math.Nextafter32(f, 0)
	}
	return res32(f)
}

func roundInt(x float64, rnd string) float64 {
	switch rnd {
	case "rzi":
		return math.Trunc(x)
	case "rmi":
		return math.Floor(x)
	case "rpi":
		return math.Ceil(x)
	}
	return math.RoundToEven(x)
}

// intRange is the range of an integer type as int64 bits (unsigned 64-bit
// max as -1).
func intRange(t ptype) (int64, int64) {
	n := t.bits()
	if t.signed() {
		return -1 << (n - 1), 1<<(n-1) - 1
	}
	if n == 64 {
		return 0, -1
	}
	return 0, 1<<n - 1
}

// clampInt saturates a (sign-extended when signed) to [lo, hi].
func clampInt(v uint64, signed bool, lo, hi int64) uint64 {
	if signed {
		x := int64(v)
		if x < lo {
			return uint64(lo)
		}
		if hi != -1 && x > hi {
			return uint64(hi)
		}
		return v
	}
	if hi != -1 && v > uint64(hi) {
		return uint64(hi)
	}
	if lo < 0 {
		return v
	}
	return v
}
