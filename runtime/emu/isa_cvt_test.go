package emu_test

// cvt (docs/ptx-isa-notes.md §7; ISA §9.7.9.21, §6.5.1, §5.2.3).

import (
	"fmt"
	"math"
	"math/big"
	"math/rand"
	"testing"
)

// ---- §7.1 integer <-> integer ------------------------------------------------

func TestISACvtIntInt(t *testing.T) {
	type c struct {
		inst     string
		dst, src string
		cases    []intCase
		rule     string
	}
	for _, x := range []c{
		{"cvt.u32.u16 {d}, {a};", "u32", "u16", []intCase{{[]uint64{0xFFFF}, 0xFFFF}, {[]uint64{0x8000}, 0x8000}}, "§7.1 zero-extend"},
		{"cvt.s32.s16 {d}, {a};", "s32", "s16", []intCase{{[]uint64{0x8000}, 0xFFFF8000}, {[]uint64{0x7FFF}, 0x7FFF}, {[]uint64{0xFFFF}, 0xFFFFFFFF}}, "§7.1 sign-extend"},
		{"cvt.u64.u32 {d}, {a};", "u64", "u32", []intCase{{[]uint64{0xFFFFFFFF}, 0xFFFFFFFF}, {[]uint64{0x80000000}, 0x80000000}}, "§7.1 zero-extend"},
		{"cvt.s64.s32 {d}, {a};", "s64", "s32", []intCase{{[]uint64{0xFFFFFFFB}, u(-5)}, {[]uint64{0x80000000}, u(math.MinInt32)}, {[]uint64{0x7FFFFFFF}, 0x7FFFFFFF}}, "§7.1 sign-extend"},
		{"cvt.u64.s32 {d}, {a};", "u64", "s32", []intCase{{[]uint64{0xFFFFFFFF}, math.MaxUint64}}, "ISA Table 15: s32 -> u64 is sext"},
		{"cvt.s64.u32 {d}, {a};", "s64", "u32", []intCase{{[]uint64{0xFFFFFFFF}, 0xFFFFFFFF}}, "ISA Table 15: u32 -> s64 is zext"},
		{"cvt.s32.u16 {d}, {a};", "s32", "u16", []intCase{{[]uint64{0xFFFF}, 0xFFFF}}, "ISA Table 15: u16 -> s32 is zext"},
		{"cvt.u32.s16 {d}, {a};", "u32", "s16", []intCase{{[]uint64{0xFFFF}, 0xFFFFFFFF}}, "ISA Table 15: s16 -> u32 is sext"},
		{"cvt.u16.u32 {d}, {a};", "u16", "u32", []intCase{{[]uint64{0x12345678}, 0x5678}}, "§7.1 chop"},
		{"cvt.u32.u64 {d}, {a};", "u32", "u64", []intCase{{[]uint64{0x123456789}, 0x23456789}}, "§7.1 chop"},
		{"cvt.s32.s64 {d}, {a};", "s32", "s64", []intCase{{[]uint64{0x1FFFFFFFF}, 0xFFFFFFFF}, {[]uint64{0x180000000}, 0x80000000}}, "§7.1 chop"},
		{"cvt.s16.s32 {d}, {a};", "s16", "s32", []intCase{{[]uint64{0x00018000}, 0x8000}}, "§7.1 chop"},
	} {
		checkExact(t, x.rule, opSpec{inst: x.inst, dst: x.dst, srcs: []string{x.src}}, x.cases)
	}
	checkExact(t, "§7.1 .sat clamps to the destination range", opSpec{inst: "cvt.sat.s16.s32 {d}, {a};", dst: "s16", srcs: []string{"s32"}}, []intCase{
		{[]uint64{40000}, 0x7FFF},
		{[]uint64{u(-40000) & 0xFFFFFFFF}, 0x8000},
		{[]uint64{u(-5) & 0xFFFFFFFF}, 0xFFFB},
	})
	checkExact(t, "§7.1 .sat clamps to the destination range (unsigned)", opSpec{inst: "cvt.sat.u8.s32 {d}, {a};", dst: "b32", srcs: []string{"s32"}}, []intCase{
		{[]uint64{300}, 0xFF},
		{[]uint64{u(-5) & 0xFFFFFFFF}, 0},
		{[]uint64{77}, 77},
	})
	checkExact(t, "§7.1 .sat clamps to the destination range", opSpec{inst: "cvt.sat.u32.s64 {d}, {a};", dst: "u32", srcs: []string{"s64"}}, []intCase{
		{[]uint64{u(-1)}, 0},
		{[]uint64{0x100000000}, 0xFFFFFFFF},
	})
}

// Destination register wider than the destination type (ISA §9.7.9.21 Notes:
// "The result of conversion is sign-extended to the destination register width
// for signed integers, and is zero-extended ... for unsigned").
func TestISACvtWideDestination(t *testing.T) {
	// Destination register wider than the destination type: chop, then extend
	// by the destination type (§7.1 footnote / §1.2).
	checkExact(t, "§7.1 cvt.s16.u32 into a 32-bit register: chop to 16 bits, then sign-extend", opSpec{inst: "cvt.s16.u32 {d}, {a};", dst: "b32", srcs: []string{"u32"}}, []intCase{
		{[]uint64{0x00018000}, 0xFFFF8000},
		{[]uint64{0x00017FFF}, 0x00007FFF},
	})
	checkExact(t, "§1.2 cvt.u8.u32 into a 32-bit register: chop to 8 bits, zero-extend", opSpec{inst: "cvt.u8.u32 {d}, {a};", dst: "b32", srcs: []string{"u32"}}, []intCase{
		{[]uint64{0x1FF}, 0xFF},
		{[]uint64{0x180}, 0x80},
	})
	checkExact(t, "§1.2 cvt.s8.s32 into a 32-bit register: chop to 8 bits, sign-extend", opSpec{inst: "cvt.s8.s32 {d}, {a};", dst: "b32", srcs: []string{"s32"}}, []intCase{
		{[]uint64{0x80}, 0xFFFFFF80},
		{[]uint64{0x17F}, 0x7F},
	})
}

// ---- §7.2 float -> integer ----------------------------------------------------

func TestISACvtFloatToInt(t *testing.T) {
	vals := []float64{0, math.Copysign(0, -1), 0.5, 1.5, 2.5, 3.5, -0.5, -1.5, -2.5, 2.1, -2.1, 2.7, -2.7, 255.5, 256, -129,
		32767.5, 40000, -40000, 2147483647.0, 2147483648.0, -2147483649.0, 3e9, -3e9, 4294967295.0, 4294967296.0, 1e19, -1e19, 2e19,
		math.Ldexp(1, 63), -math.Ldexp(1, 63), math.Inf(1), math.Inf(-1), math.NaN(), math.Ldexp(1, -149), -math.Ldexp(1, -140), 123456789.0}
	type dt struct {
		name     string
		reg      string // register type for the destination
		min, max *big.Int
		bits     int
		signed   bool
	}
	bi := func(x int64) *big.Int { return big.NewInt(x) }
	bu := func(x uint64) *big.Int { return new(big.Int).SetUint64(x) }
	dsts := []dt{
		{"s32", "s32", bi(math.MinInt32), bi(math.MaxInt32), 32, true},
		{"u32", "u32", bi(0), bu(math.MaxUint32), 32, false},
		{"s64", "s64", bi(math.MinInt64), bi(math.MaxInt64), 64, true},
		{"u64", "u64", bi(0), bu(math.MaxUint64), 64, false},
		{"s16", "s16", bi(math.MinInt16), bi(math.MaxInt16), 16, true},
		{"u8", "b32", bi(0), bi(255), 8, false},
	}
	rounders := map[string]func(float64) float64{"rni": math.RoundToEven, "rzi": math.Trunc, "rmi": math.Floor, "rpi": math.Ceil}
	for _, src := range []string{"f32", "f64"} {
		for _, d := range dsts {
			for _, rnd := range []string{"rni", "rzi", "rmi", "rpi"} {
				var cs []intCase
				for _, v := range vals {
					var in uint64
					x := v
					if src == "f32" {
						in = f32b(float32(v))
						x = float64(float32(v))
					} else {
						in = f64b(v)
					}
					var want uint64
					if math.IsNaN(x) {
						// §7.2: 0 if the source is not .f64 and the destination is not
						// 64-bit; otherwise 1 << (dstbits-1).
						if src != "f64" && d.bits != 64 {
							want = 0
						} else {
							want = 1 << uint(d.bits-1)
						}
					} else {
						var r *big.Int
						switch {
						case math.IsInf(x, 1):
							r = d.max
						case math.IsInf(x, -1):
							r = d.min
						default:
							bf := new(big.Float).SetFloat64(rounders[rnd](x))
							r, _ = bf.Int(nil)
							if r.Cmp(d.max) > 0 {
								r = d.max
							}
							if r.Cmp(d.min) < 0 {
								r = d.min
							}
						}
						want = new(big.Int).And(r, bu(math.MaxUint64)).Uint64()
						if r.Sign() < 0 {
							want = uint64(r.Int64())
						}
						if d.bits < 64 {
							want &= 1<<uint(d.bits) - 1
						}
						if d.reg == "b32" { // u8 zero-extends into the 32-bit register
							want &= 0xFF
						}
					}
					cs = append(cs, intCase{[]uint64{in}, want})
				}
				checkExact(t, "§7.2 float->int: rounding mode, clamp to the destination range, NaN rule",
					opSpec{inst: fmt.Sprintf("cvt.%s.%s.%s {d}, {a};", rnd, d.name, src), dst: d.reg, srcs: []string{src}}, cs)
			}
		}
	}
	// The notes' NaN examples.
	checkExact(t, "§7.2 cvt.rzi.s32.f32(NaN) = 0", opSpec{inst: "cvt.rzi.s32.f32 {d}, {a};", dst: "s32", srcs: []string{"f32"}}, []intCase{{[]uint64{f32NaN}, 0}})
	checkExact(t, "§7.2 cvt.rzi.s64.f32(NaN) = INT64_MIN", opSpec{inst: "cvt.rzi.s64.f32 {d}, {a};", dst: "s64", srcs: []string{"f32"}}, []intCase{{[]uint64{f32NaN}, 1 << 63}})
	checkExact(t, "§7.2 cvt.rzi.u32.f64(NaN) = 0x80000000", opSpec{inst: "cvt.rzi.u32.f64 {d}, {a};", dst: "u32", srcs: []string{"f64"}}, []intCase{{[]uint64{f64b(math.NaN())}, 0x80000000}})
	// .ftz with an f32 source flushes subnormal inputs first: rpi of +subnormal is 0, not 1.
	checkExact(t, "§7.2 .ftz flushes subnormal f32 inputs to ±0 first", opSpec{inst: "cvt.rpi.ftz.s32.f32 {d}, {a};", dst: "s32", srcs: []string{"f32"}}, []intCase{
		{[]uint64{f32MinSub}, 0}, {[]uint64{f32b(0.5)}, 1},
	})
	checkExact(t, "§7.2 without .ftz subnormals are kept: rpi(+subnormal) = 1", opSpec{inst: "cvt.rpi.s32.f32 {d}, {a};", dst: "s32", srcs: []string{"f32"}}, []intCase{
		{[]uint64{f32MinSub}, 1}, {[]uint64{0x80000001}, 0},
	})
}

// ---- §7.3 integer -> float ----------------------------------------------------

func TestISACvtIntToFloat(t *testing.T) { cvtIntToFloat(t, []string{"rn"}) }

// TestISACvtIntToFloatDirected: the .rz/.rm/.rp int->float forms (ISA §9.7.9.21
// "Floating-point rounding is required ... for integer-to-float conversions").
func TestISACvtIntToFloatDirected(t *testing.T) { cvtIntToFloat(t, []string{"rz", "rm", "rp"}) }

func cvtIntToFloat(t *testing.T, modeList []string) {
	modes := map[string]big.RoundingMode{"rn": big.ToNearestEven, "rz": big.ToZero, "rm": big.ToNegativeInf, "rp": big.ToPositiveInf}
	ivals := []int64{0, 1, -1, 16777216, 16777217, 16777219, -16777217, 33554435, math.MaxInt32, math.MinInt32, math.MaxInt64, math.MinInt64,
		1<<53 + 1, 1<<53 + 3, -(1<<53 + 1), 0x7FFFFFBF, 123456789}
	uvals := []uint64{0, 1, 0xFFFFFFFF, 0x80000001, math.MaxUint64, 1<<63 + 1, 1<<53 + 1, 16777217}
	for _, mode := range modeList {
		for _, cfg := range []struct {
			dst, src string
			prec     uint
		}{{"f32", "s32", 24}, {"f32", "s64", 24}, {"f64", "s64", 53}, {"f64", "s32", 53}, {"f32", "u32", 24}, {"f32", "u64", 24}, {"f64", "u64", 53}} {
			var cs []fcase
			signed := cfg.src[0] == 's'
			add := func(in uint64, v *big.Int) {
				bf := new(big.Float).SetPrec(cfg.prec).SetMode(modes[mode]).SetInt(v)
				if cfg.dst == "f32" {
					f, _ := bf.Float32()
					cs = append(cs, fcase{[]uint64{in}, f32b(f)})
				} else {
					f, _ := bf.Float64()
					cs = append(cs, fcase{[]uint64{in}, f64b(f)})
				}
			}
			if signed {
				for _, v := range ivals {
					if cfg.src == "s32" && (v > math.MaxInt32 || v < math.MinInt32) {
						continue
					}
					in := uint64(v)
					if cfg.src == "s32" {
						in &= 0xFFFFFFFF
					}
					add(in, big.NewInt(v))
				}
			} else {
				for _, v := range uvals {
					if cfg.src == "u32" && v > math.MaxUint32 {
						continue
					}
					add(v, new(big.Int).SetUint64(v))
				}
			}
			checkFloatRows(t, "§7.3 int->float with the given rounding mode", opSpec{inst: fmt.Sprintf("cvt.%s.%s.%s {d}, {a};", mode, cfg.dst, cfg.src), dst: cfg.dst, srcs: []string{cfg.src}}, cs, cfg.dst == "f64")
		}
	}
}

// ---- §7.4 float -> float -----------------------------------------------------

func TestISACvtFloatToFloat(t *testing.T) {
	// cvt.f64.f32: exact widening (subnormal f32 become normal f64).
	var w []fcase
	for _, a := range f32Values {
		w = append(w, fcase{[]uint64{a}, f64b(float64(bf32(a)))})
	}
	checkFloatRows(t, "§7.4 cvt.f64.f32 exact widening", opSpec{inst: "cvt.f64.f32 {d}, {a};", dst: "f64", srcs: []string{"f32"}}, w, true)

	// cvt.f32.f16: exact; an f16 subnormal becomes a normal f32.
	var h []fcase
	for _, c := range []uint64{0x0000, 0x8000, 0x0001, 0x03FF, 0x0400, 0x3C00, 0xBC00, 0x7BFF, 0x7C00, 0xFC00, 0x3555, 0x8001} {
		h = append(h, fcase{[]uint64{c}, f32b(float32(fmtF16.decodeIEEE(c)))})
	}
	h = append(h, fcase{[]uint64{0x7E00}, f32NaN})
	checkF32(t, "§7.4 cvt.f32.f16 exact widening", opSpec{inst: "cvt.f32.f16 {d}, {a};", dst: "f32", srcs: []string{"b16"}}, h)

	// cvt.rn.f16.f32: RNE to f16, overflow -> Inf.
	var hn []fcase
	hv := []float64{1, 0.5, 65504, 65519.99, 65520, -65520, 1e6, math.Ldexp(1, -24), math.Ldexp(1, -25), math.Ldexp(3, -26), math.Ldexp(1, -14), 1.0 / 3, 1 + math.Ldexp(1, -11), 1 + math.Ldexp(3, -11), math.Inf(-1), 0, math.Copysign(0, -1)}
	for _, v := range hv {
		f := float32(v)
		hn = append(hn, fcase{[]uint64{f32b(f)}, encF16(float64(f))})
	}
	checkExact(t, "§7.4 cvt.rn.f16.f32 RNE, overflow to ±Inf, subnormal results kept", opSpec{inst: "cvt.rn.f16.f32 {d}, {a};", dst: "b16", srcs: []string{"f32"}}, toInt(hn))

	// cvt.rn.f32.f64: RNE, overflow -> ±Inf, subnormal results kept (flushed with .ftz).
	dv := []float64{1.0 / 3, 1e39, -1e39, 1e-40, -1e-40, 1e-46, math.Ldexp(1, -150), math.Ldexp(3, -151), 1 + math.Ldexp(1, -24), 1 + math.Ldexp(3, -24),
		math.MaxFloat32, math.Nextafter(math.MaxFloat32, math.Inf(1)), math.Inf(1), math.NaN(), math.Copysign(0, -1), 5e-324}
	var dn, dnf []fcase
	for _, v := range dv {
		dn = append(dn, fcase{[]uint64{f64b(v)}, f32b(float32(v))})
		dnf = append(dnf, fcase{[]uint64{f64b(v)}, f32b(ftz32(float32(v)))})
	}
	checkF32(t, "§7.4 cvt.rn.f32.f64 RNE, overflow ±Inf, subnormals kept", opSpec{inst: "cvt.rn.f32.f64 {d}, {a};", dst: "f32", srcs: []string{"f64"}}, dn)
	checkF32(t, "§7.4 cvt.rn.ftz.f32.f64 flushes subnormal results", opSpec{inst: "cvt.rn.ftz.f32.f64 {d}, {a};", dst: "f32", srcs: []string{"f64"}}, dnf)

	// cvt.rni.f64.f64: round to integral, ties to even; ±Inf/NaN pass, -0.4 -> -0.
	ri := []float64{2.5, 3.5, -2.5, -0.4, 0.5, 1.5, -1.5, 1e300, -1e300, math.Ldexp(1, 52) + 0.5, math.Ldexp(1, 52) + 1.5, 0.49999999999999994, math.Inf(1), math.Inf(-1), math.NaN(), math.Copysign(0, -1), 0, 5e-324, -7.25}
	var rc []fcase
	for _, v := range ri {
		rc = append(rc, fcase{[]uint64{f64b(v)}, f64b(math.RoundToEven(v))})
	}
	checkFloatRows(t, "§7.4 cvt.rni.f64.f64 = roundToIntegralTiesToEven", opSpec{inst: "cvt.rni.f64.f64 {d}, {a};", dst: "f64", srcs: []string{"f64"}}, rc, true)
	var rz, rm, rp []fcase
	for _, v := range []float64{2.7, -2.7, 2.1, -2.1, 3, 1e300, math.Ldexp(1, 52) + 0.5} {
		rz = append(rz, fcase{[]uint64{f64b(v)}, f64b(math.Trunc(v))})
		rm = append(rm, fcase{[]uint64{f64b(v)}, f64b(math.Floor(v))})
		rp = append(rp, fcase{[]uint64{f64b(v)}, f64b(math.Ceil(v))})
	}
	checkFloatRows(t, "ISA cvt integer rounding .rzi on floats", opSpec{inst: "cvt.rzi.f64.f64 {d}, {a};", dst: "f64", srcs: []string{"f64"}}, rz, true)
	checkFloatRows(t, "ISA cvt integer rounding .rmi on floats", opSpec{inst: "cvt.rmi.f64.f64 {d}, {a};", dst: "f64", srcs: []string{"f64"}}, rm, true)
	checkFloatRows(t, "ISA cvt integer rounding .rpi on floats", opSpec{inst: "cvt.rpi.f64.f64 {d}, {a};", dst: "f64", srcs: []string{"f64"}}, rp, true)
	var r32 []fcase
	for _, v := range []float32{2.5, 3.5, -2.5, -0.4, 0.5, 8388608.5 - 0.5, 1e30} {
		r32 = append(r32, fcase{[]uint64{f32b(v)}, f32b(float32(math.RoundToEven(float64(v))))})
	}
	checkF32(t, "ISA cvt.rni.f32.f32 rounds to integral, ties to even", opSpec{inst: "cvt.rni.f32.f32 {d}, {a};", dst: "f32", srcs: []string{"f32"}}, r32)
}

func toInt(fc []fcase) []intCase {
	out := make([]intCase, len(fc))
	for i, c := range fc {
		out[i] = intCase{c.in, c.want}
	}
	return out
}

// ---- bf16 ------------------------------------------------------------------

func TestISACvtBF16(t *testing.T) {
	var cs []intCase
	var nanIn []uint64
	add := func(bits uint32) {
		x := float64(math.Float32frombits(bits))
		if math.IsNaN(x) {
			nanIn = append(nanIn, uint64(bits))
			return
		}
		cs = append(cs, intCase{[]uint64{uint64(bits)}, encBF16(x)})
	}
	for _, b := range []uint32{
		0x3F808000, // tie, even (0x3F80) stays
		0x3F818000, // tie, odd (0x3F81) rounds up to 0x3F82
		0x3F808001, // just above the tie
		0x3F807FFF, // just below
		0x7F7FFFFF, // rounds up past the largest bf16 -> Inf
		0xFF7FFFFF,
		0x7F7F7FFF, // stays at MAX_NORM 0x7F7F
		0x00000001, 0x80000001, 0x00008000, 0x00018000, 0x007FFFFF,
		0x7F800000, 0xFF800000, 0, 0x80000000, 0x3F800000, 0x40490FDB,
	} {
		add(b)
	}
	rng := rand.New(rand.NewSource(5))
	for i := 0; i < 200; i++ {
		add(rng.Uint32())
	}
	checkExact(t, "§7.4 cvt.rn.bf16.f32: RNE (ties to even), overflow to ±Inf", opSpec{inst: "cvt.rn.bf16.f32 {d}, {a};", dst: "b16", srcs: []string{"f32"}}, cs)
	nanIn = append(nanIn, 0x7FC00000, 0xFFC00000, 0x7F800001, 0x7FBFFFFF)
	checkPred(t, "§7.4 cvt.rn.bf16.f32(NaN) is a bf16 NaN", opSpec{inst: "cvt.rn.bf16.f32 {d}, {a};", dst: "b16", srcs: []string{"f32"}}, nanIn, func(g uint64) bool { return isNaN16(fmtBF16, g) })

	// .satfinite: |x| > MAX_NORM (incl. ±Inf) -> ±MAX_NORM (0x7F7F); NaN -> NaN.
	checkExact(t, "§7.5 .satfinite bf16: |x| > MAX_NORM -> ±MAX_NORM", opSpec{inst: "cvt.rn.satfinite.bf16.f32 {d}, {a};", dst: "b16", srcs: []string{"f32"}}, []intCase{
		{[]uint64{0x7F7FFFFF}, 0x7F7F},
		{[]uint64{0xFF7FFFFF}, 0xFF7F},
		{[]uint64{f32Inf}, 0x7F7F},
		{[]uint64{f32NegInf}, 0xFF7F},
		{[]uint64{0x3F808000}, 0x3F80},
	})
	checkPred(t, "§7.5 .satfinite: NaN input gives NaN", opSpec{inst: "cvt.rn.satfinite.bf16.f32 {d}, {a};", dst: "b16", srcs: []string{"f32"}}, []uint64{f32NaN}, func(g uint64) bool { return isNaN16(fmtBF16, g) })

	// cvt.f32.bf16: exact widening.
	var wc []fcase
	for _, b := range []uint64{0x3F80, 0xBF80, 0x0001, 0x8001, 0x7F7F, 0x7F80, 0xFF80, 0x0000, 0x8000, 0x4049} {
		wc = append(wc, fcase{[]uint64{b}, b << 16})
	}
	wc = append(wc, fcase{[]uint64{0x7FC0}, f32NaN})
	checkF32(t, "ISA cvt.f32.bf16 is exact (bf16 is the top half of an f32)", opSpec{inst: "cvt.f32.bf16 {d}, {a};", dst: "f32", srcs: []string{"b16"}}, wc)

	// Packed: the first source goes to the upper half.
	checkExact(t, "§7.5 cvt.rn.bf16x2.f32 d, a, b: d[31:16] = cvt(a), d[15:0] = cvt(b)", opSpec{inst: "cvt.rn.bf16x2.f32 {d}, {a}, {b};", dst: "b32", srcs: []string{"f32", "f32"}}, []intCase{
		{[]uint64{f32b(1), f32b(2)}, 0x3F804000},
		{[]uint64{0x3F818000, 0x3F808000}, 0x3F823F80},
		{[]uint64{f32b(-1), 0x7F7FFFFF}, 0xBF807F80},
	})
	checkExact(t, "§7.5 cvt.rn.f16x2.f32 d, a, b: d[31:16] = cvt(a), d[15:0] = cvt(b)", opSpec{inst: "cvt.rn.f16x2.f32 {d}, {a}, {b};", dst: "b32", srcs: []string{"f32", "f32"}}, []intCase{
		{[]uint64{f32b(1), f32b(2)}, 0x3C004000},
		{[]uint64{f32b(65520), f32b(-0.5)}, 0x7C00B800},
	})
	checkExact(t, "§7.5 cvt.rn.satfinite.bf16x2.f32 clamps each half", opSpec{inst: "cvt.rn.satfinite.bf16x2.f32 {d}, {a}, {b};", dst: "b32", srcs: []string{"f32", "f32"}}, []intCase{
		{[]uint64{f32Inf, f32NegInf}, 0x7F7FFF7F},
	})
	checkExact(t, "§7.5 .relu clamps negative results to +0", opSpec{inst: "cvt.rn.relu.bf16x2.f32 {d}, {a}, {b};", dst: "b32", srcs: []string{"f32", "f32"}}, []intCase{
		{[]uint64{f32b(-1), f32b(2)}, 0x00004000},
		{[]uint64{f32b(3), f32b(-0.001)}, 0x40400000},
	})
}

// checkPred runs single-operand rows and applies a predicate to each result.
func checkPred(t *testing.T, rule string, spec opSpec, ins []uint64, ok func(uint64) bool) {
	t.Helper()
	rows := make([][]uint64, len(ins))
	for i, v := range ins {
		rows[i] = []uint64{v}
	}
	got := runOpRule(t, rule, spec, rows)
	if got == nil {
		return
	}
	for i, v := range ins {
		if !ok(got[i][0]) {
			t.Errorf("%s [%s] input %#x: got %#x", spec.inst, rule, v, got[i][0])
		}
	}
}

// ---- FP8 ---------------------------------------------------------------------

func TestISACvtFP8Vectors(t *testing.T) {
	e4 := opSpec{inst: "cvt.rn.satfinite.e4m3x2.f32 {d}, {a}, {b};", dst: "b16", srcs: []string{"f32", "f32"}}
	checkExact(t, "§7.5 e4m3x2 test vectors: d[15:8] = cvt(a), d[7:0] = cvt(b)", e4, []intCase{
		{[]uint64{f32b(1), f32b(0.5)}, 0x3830},
		{[]uint64{f32b(1000), f32NegInf}, 0x7EFE},
		{[]uint64{f32b(1.0625), f32b(1.1875)}, 0x383A},
		{[]uint64{f32b(float32(math.Ldexp(1, -10))), f32b(float32(math.Ldexp(1, -9)))}, 0x0001},
		{[]uint64{f32b(float32(math.Ldexp(3, -10))), f32b(float32(math.Ldexp(1, -6)))}, 0x0208}, // 3*2^-10: tie 2^-9/2^-8 -> even 0x02
		{[]uint64{f32b(464), f32b(-449)}, 0x7EFE},                                               // every |x| > 448 gives 448 (input compared)
		{[]uint64{f32b(440), f32b(432)}, 0x7E7E},                                                // 440 -> 448 (nearest); 432 tie 416/448 -> even 448
		{[]uint64{f32b(float32(math.Ldexp(1, -11))), f32b(float32(math.Copysign(0, -1)))}, 0x0080},
		{[]uint64{f32b(-1.0625), f32b(17)}, 0xB858}, // 17: spacing 2 in [16,32) -> tie -> even 16 (0x58)
		{[]uint64{f32Inf, f32b(-1e30)}, 0x7EFE},
	})
	checkExact(t, "§7.5 e4m3 RNE: a tiny negative value rounds to -0 (0x80)", e4, []intCase{
		{[]uint64{f32b(float32(-math.Ldexp(1, -11))), f32b(float32(-math.Ldexp(1, -10)))}, 0x8080},
	})
	e5 := opSpec{inst: "cvt.rn.satfinite.e5m2x2.f32 {d}, {a}, {b};", dst: "b16", srcs: []string{"f32", "f32"}}
	checkExact(t, "§7.5 e5m2x2 test vectors: same packing, |x| > 57344 -> ±57344 (0x7B)", e5, []intCase{
		{[]uint64{f32b(1), f32Inf}, 0x3C7B},
		{[]uint64{f32NegInf, f32b(60000)}, 0xFB7B},
		{[]uint64{f32b(57344), f32b(-1e10)}, 0x7BFB},
		{[]uint64{f32b(float32(math.Ldexp(1, -16))), f32b(float32(math.Ldexp(1, -17)))}, 0x0100}, // min subnormal; 2^-17 tie -> 0
		{[]uint64{f32b(1.25), f32b(1.125)}, 0x3D3C},                                              // 1.125 is a tie between 1 and 1.25 -> even 1.0
	})
	// NaN -> NaN in each half, independently.
	for _, sp := range []struct {
		spec  opSpec
		isNaN func(uint64) bool
	}{{e4, isNaNE4M3}, {e5, isNaNE5M2}} {
		rows := [][]uint64{{f32NaN, f32b(1)}, {f32b(1), f32NaN}, {0xFFC00000, 0x7F800001}}
		got := runOp(t, sp.spec, rows)
		if got == nil {
			continue
		}
		for i, r := range rows {
			hi, lo := got[i][0]>>8, got[i][0]&0xFF
			wantHiNaN, wantLoNaN := isNaN32(r[0]), isNaN32(r[1])
			if sp.isNaN(hi) != wantHiNaN || sp.isNaN(lo) != wantLoNaN {
				t.Errorf("%s [§7.5 .satfinite: NaN input gives NaN, packing a->hi b->lo] inputs %s: got %#04x", sp.spec.inst, fmtIn(r), got[i][0])
			}
		}
	}
	// .relu: negatives -> +0.
	checkExact(t, "§7.5 .relu clamps negative results to +0", opSpec{inst: "cvt.rn.satfinite.relu.e4m3x2.f32 {d}, {a}, {b};", dst: "b16", srcs: []string{"f32", "f32"}}, []intCase{
		{[]uint64{f32b(-1), f32b(2)}, 0x0040},
		{[]uint64{f32b(1), f32b(-1000)}, 0x3800},
	})
	checkExact(t, "§7.5 cvt.rn.f16x2.e4m3x2 test vector: d[31:16] = f16(a[15:8])", opSpec{inst: "cvt.rn.f16x2.e4m3x2 {d}, {a};", dst: "b32", srcs: []string{"b16"}}, []intCase{
		{[]uint64{0x3830}, 0x3C003800},
	})
}

// The f16x2 source form of the FP8 conversions (§7.5 table).
func TestISACvtFP8FromF16x2(t *testing.T) {
	// From f16x2: d[15:8] = cvt(a[31:16]), d[7:0] = cvt(a[15:0]).
	checkExact(t, "§7.5 cvt.rn.satfinite.e4m3x2.f16x2: upper f16 -> upper byte", opSpec{inst: "cvt.rn.satfinite.e4m3x2.f16x2 {d}, {a};", dst: "b16", srcs: []string{"b32"}}, []intCase{
		{[]uint64{0x3C003800}, 0x3830},
		{[]uint64{0x7C00FC00}, 0x7EFE},  // ±Inf -> ±448
		{[]uint64{0x5F105F00}, 0x7E7E},  // f16 452 > 448 -> 448; f16 448 -> 448
		{[]uint64{0x0000_BC00}, 0x00B8}, // +0, -1
	})
}

// TestISACvtFP8Sweep sends every e4m3 and e5m2 byte through
// cvt.rn.f16x2.{e4m3x2,e5m2x2} (exact) and back through
// cvt.rn.satfinite.{e4m3x2,e5m2x2}.{f32,f16x2}.
func TestISACvtFP8Sweep(t *testing.T) { fp8Sweep(t, false) }

// TestISACvtFP8SweepFromF16x2 is the same sweep down through the .f16x2 source form.
func TestISACvtFP8SweepFromF16x2(t *testing.T) { fp8Sweep(t, true) }

func fp8Sweep(t *testing.T, withF16x2 bool) {
	for _, f := range []struct {
		name   string
		decode func(uint8) float64
		enc    func(float64) uint64
		isNaN  func(uint64) bool
	}{
		{"e4m3", decodeE4M3, encE4M3Sat, isNaNE4M3},
		{"e5m2", func(b uint8) float64 { return fmtE5M2.decodeIEEE(uint64(b)) }, encE5M2Sat, isNaNE5M2},
	} {
		// Up: pack byte b in the low half and 255-b in the high half.
		var rows [][]uint64
		for b := 0; b < 256; b++ {
			rows = append(rows, []uint64{uint64(255-b)<<8 | uint64(b)})
		}
		up := opSpec{inst: "cvt.rn.f16x2." + f.name + "x2 {d}, {a};", dst: "b32", srcs: []string{"b16"}}
		var got [][2]uint64
		if !withF16x2 {
			got = runOp(t, up, rows)
		}
		if got != nil {
			bad := 0
			for b := 0; b < 256; b++ {
				for _, half := range []struct {
					byt   uint8
					shift uint
				}{{uint8(b), 0}, {uint8(255 - b), 16}} {
					v := f.decode(half.byt)
					g := (got[b][0] >> half.shift) & 0xFFFF
					ok := false
					if math.IsNaN(v) {
						ok = isNaN16(fmtF16, g)
					} else {
						ok = g == encF16(v)
					}
					if !ok && bad < 20 {
						bad++
						t.Errorf("%s [§7.5 exact %s -> f16; d[31:16] from a[15:8]] byte %#02x (%s %g): want f16 %#04x, got %#04x (whole d %#08x)", up.inst, f.name, half.byt, f.name, v, encF16(v), g, got[b][0])
					}
				}
			}
		}
		// Down from f32: each byte's value -> the same byte (Inf -> ±MAX_NORM for e5m2).
		down := opSpec{inst: "cvt.rn.satfinite." + f.name + "x2.f32 {d}, {a}, {b};", dst: "b16", srcs: []string{"f32", "f32"}}
		var drows [][]uint64
		for b := 0; b < 256; b++ {
			drows = append(drows, []uint64{f32b(float32(f.decode(uint8(255 - b)))), f32b(float32(f.decode(uint8(b))))})
		}
		checkDown := func(spec opSpec, rows [][]uint64) {
			got := runOpRule(t, "§7.5 .satfinite FP8 conversion, round trip of every byte", spec, rows)
			if got == nil {
				return
			}
			bad := 0
			for b := 0; b < 256; b++ {
				for _, half := range []struct {
					byt   uint8
					shift uint
				}{{uint8(b), 0}, {uint8(255 - b), 8}} {
					v := f.decode(half.byt)
					g := (got[b][0] >> half.shift) & 0xFF
					want := f.enc(v)
					ok := g == want
					if math.IsNaN(v) {
						ok = f.isNaN(g)
					}
					if !ok && bad < 20 {
						bad++
						t.Errorf("%s [§7.5 round trip; .satfinite Inf -> MAX_NORM; hi byte from a] source byte %#02x (%g): want %#02x, got %#02x", spec.inst, half.byt, v, want, g)
					}
				}
			}
		}
		if !withF16x2 {
			checkDown(down, drows)
			continue
		}
		// Down from f16x2 (upper f16 -> upper byte).
		var hrows [][]uint64
		for b := 0; b < 256; b++ {
			hi, lo := f.decode(uint8(255-b)), f.decode(uint8(b))
			hrows = append(hrows, []uint64{encF16(hi)<<16 | encF16(lo)})
		}
		checkDown(opSpec{inst: "cvt.rn.satfinite." + f.name + "x2.f16x2 {d}, {a};", dst: "b16", srcs: []string{"b32"}}, hrows)
	}
}
