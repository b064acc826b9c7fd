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

// cvtForm is a decoded cvt: destination and source types, the rounding
// modifier (empty: none) and the flags.
type cvtForm struct {
	dt, st               ptype
	rnd                  string
	ftz, sat, satf, relu bool
}

func buildCvt(d *decoder, in *inst, o *opc, args []string) error {
	if len(o.types) != 2 {
		return fmt.Errorf("want a destination and a source type")
	}
	f := cvtForm{dt: o.types[0], st: o.types[1]}
	dt, st := f.dt, f.st
	in.typ, in.typ2 = dt, st
	for _, m := range []string{"rn", "rz", "rm", "rp", "rni", "rzi", "rmi", "rpi"} {
		if o.has(m) {
			if f.rnd != "" {
				return fmt.Errorf("two rounding modifiers")
			}
			f.rnd = m
		}
	}
	if err := o.only("rn", "rz", "rm", "rp", "rni", "rzi", "rmi", "rpi", "ftz", "sat", "satfinite", "relu"); err != nil {
		return err
	}
	f.ftz, f.sat, f.satf, f.relu = o.has("ftz"), o.has("sat"), o.has("satfinite"), o.has("relu")
	// The packed forms decode their own operands: they take two sources,
	// or a packed source type.
	switch {
	case (dt == tE4M3x2 || dt == tE5M2x2 || dt == tBF16x2 || dt == tF16x2) && st == tF32:
		return cvtPackF32(d, in, f, args)
	case (dt == tE4M3x2 || dt == tE5M2x2) && st == tF16x2:
		return cvtF16x2ToFP8x2(d, in, f, args)
	case (st == tE4M3x2 || st == tE5M2x2) && dt == tF16x2:
		return cvtFP8x2ToF16x2(d, in, f, args)
	}
	if err := d.simple(in, args, 1, st); err != nil {
		return err
	}
	switch {
	case dt.isInt() && st.isInt():
		return cvtIntInt(in, f)
	case dt.isFloat() && st.isFloat():
		return cvtFloatFloat(in, f)
	case dt.isFloat() && st.isInt() && (f.rnd == "rz" || f.rnd == "rm" || f.rnd == "rp") && (dt == tF32 || dt == tF64):
		return cvtIntFloatDirected(in, f)
	case dt.isFloat() && st.isInt():
		return cvtIntFloat(in, f)
	case dt.isInt() && st.isFloat():
		return cvtFloatInt(in, f)
	}
	return fmt.Errorf("conversion .%s.%s is not implemented", dt, st)
}

// cvtPackF32 converts two f32 sources into one packed register:
// d = {cvt(a) high, cvt(b) low}. .relu makes NaN the format's NaN and
// negatives zero.
func cvtPackF32(d *decoder, in *inst, f cvtForm, args []string) error {
	dt, st, relu, satf := f.dt, f.st, f.relu, f.satf
	if st != tF32 || f.rnd != "rn" {
		return fmt.Errorf("packed conversion from .%s with %q is not implemented", st, f.rnd)
	}
	if (dt == tE4M3x2 || dt == tE5M2x2) && !satf {
		return fmt.Errorf("the FP8 conversions require .satfinite")
	}
	if err := d.simple(in, args, 2, tF32); err != nil {
		return err
	}
	sf := map[ptype]smallFloat{tE4M3x2: fmtE4M3, tE5M2x2: fmtE5M2, tBF16x2: fmtBF16, tF16x2: fmtF16}[dt]
	half := uint(dt.bits() / 2)
	one := func(v uint64) uint64 {
		b := uint32(v)
		if relu && (b&0x7fffffff > 0x7f800000) {
			return uint64(sf.nanBits)
		}
		if relu && b>>31 != 0 {
			b = 0
		}
		return uint64(sf.fromF32(b, satf))
	}
	in.exec = binop(func(a, b uint64) uint64 { return one(a)<<half | one(b) })
	return nil
}

// cvtF16x2ToFP8x2 narrows two f16 halves, each to FP8:
// d = {cvt(a[31:16]), cvt(a[15:0])}.
func cvtF16x2ToFP8x2(d *decoder, in *inst, f cvtForm, args []string) error {
	if f.rnd != "rn" || !f.satf {
		return fmt.Errorf("want .rn.satfinite")
	}
	if err := d.simple(in, args, 1, f.st); err != nil {
		return err
	}
	sf := fmtE4M3
	if f.dt == tE5M2x2 {
		sf = fmtE5M2
	}
	relu := f.relu
	one := func(h uint64) uint64 {
		b := f32bits(f16Values[uint16(h)])
		if relu && b>>31 != 0 && b&0x7fffffff <= 0x7f800000 {
			b = 0
		}
		return uint64(sf.fromF32(b, true))
	}
	in.exec = unary(func(a uint64) uint64 { return one(a>>16)<<8 | one(a&0xffff) })
	return nil
}

// cvtFP8x2ToF16x2 widens two FP8 values in a 16-bit source, each exactly
// to f16.
func cvtFP8x2ToF16x2(d *decoder, in *inst, f cvtForm, args []string) error {
	if f.rnd != "rn" {
		return fmt.Errorf("want .rn")
	}
	if err := d.simple(in, args, 1, f.st); err != nil {
		return err
	}
	sf := fmtE4M3
	if f.st == tE5M2x2 {
		sf = fmtE5M2
	}
	// Exact: every FP8 value is an f16 value. A table of the 256.
	var tab [256]uint64
	for i := range tab {
		tab[i] = uint64(fmtF16.encode(sf.decode(uint32(i)), false))
	}
	in.exec = unary(func(a uint64) uint64 { return tab[a>>8&0xff]<<16 | tab[a&0xff] })
	return nil
}

// cvtIntInt resizes an integer: the value is chopped to the destination
// type, then extended to the register's width by the destination's
// signedness; .sat clamps to the destination's range first.
func cvtIntInt(in *inst, f cvtForm) error {
	if f.rnd != "" || f.ftz {
		return fmt.Errorf("integer conversions take no rounding")
	}
	st, sat := f.st, f.sat
	sx, dx := st.sext, f.dt.sext
	lo, hi := intRange(f.dt)
	in.exec = unary(func(a uint64) uint64 {
		v := sx(a)
		if sat {
			v = clampInt(v, st.signed(), lo, hi)
		}
		return dx(v)
	})
	return nil
}

// cvtFloatFloat: rounding to an integral value in the same type, exact
// widening, and narrowing (round to nearest even, or toward zero into
// f32); the f32 → bf16/f16 narrowing rounds from the bits, where .ftz and
// .relu apply to the source.
func cvtFloatFloat(in *inst, f cvtForm) error {
	dt, st, rnd, ftz, satf, relu := f.dt, f.st, f.rnd, f.ftz, f.satf, f.relu
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
		sf := smallFormat(dt)
		in.exec = unary(func(a uint64) uint64 {
			b := uint32(a)
			if ftz && b&0x7f800000 == 0 {
				b &= 0x80000000
			}
			if relu && b>>31 != 0 && b&0x7fffffff <= 0x7f800000 {
				b = 0
			}
			return uint64(sf.fromF32(b, satf))
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
	return nil
}

// cvtIntFloatDirected converts an integer to f32/f64 with directed
// rounding: Go's conversions only round to nearest, so math/big rounds in
// the mode.
func cvtIntFloatDirected(in *inst, f cvtForm) error {
	dt, st := f.dt, f.st
	mode := map[string]big.RoundingMode{"rz": big.ToZero, "rm": big.ToNegativeInf, "rp": big.ToPositiveInf}[f.rnd]
	prec := uint(24)
	if dt == tF64 {
		prec = 53
	}
	sx, signed := st.sext, st.signed()
	in.exec = unary(func(a uint64) uint64 {
		bf := new(big.Float).SetPrec(prec).SetMode(mode)
		if signed {
			bf.SetInt64(int64(sx(a)))
		} else {
			bf.SetUint64(sx(a))
		}
		if dt == tF32 {
			x, _ := bf.Float32()
			return uint64(f32bits(x))
		}
		x, _ := bf.Float64()
		return f64bits(x)
	})
	return nil
}

// cvtIntFloat converts an integer to a float, rounding to nearest even.
func cvtIntFloat(in *inst, f cvtForm) error {
	dt, st := f.dt, f.st
	if f.rnd != "rn" && f.rnd != "" {
		return fmt.Errorf("int to float with .%s is not implemented", f.rnd)
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
	return nil
}

// cvtFloatInt converts a float to an integer with an integer rounding,
// saturating to the destination's range; NaN gives 0 (1 << (bits-1) from
// f64 or into 64 bits).
func cvtFloatInt(in *inst, f cvtForm) error {
	dt, st, rnd, ftz := f.dt, f.st, f.rnd, f.ftz
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
