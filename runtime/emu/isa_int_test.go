package emu_test

// Integer, logic, shift, comparison and selection instructions
// (docs/ptx-isa-notes.md §2, §3, §4).

import (
	"math"
	"math/big"
	"math/bits"
	"strings"
	"testing"
)

// ---- §2.1 add / sub --------------------------------------------------------

func TestISAIntAddSub(t *testing.T) {
	checkExact(t, "§2.1 add.s32 wraps mod 2^32", opSpec{inst: "add.s32 {d}, {a}, {b};", dst: "s32", srcs: []string{"s32", "s32"}}, []intCase{
		{[]uint64{0x7FFFFFFF, 1}, 0x80000000},
		{[]uint64{u(-1), 1}, 0},
		{[]uint64{u(-5), u(-7)}, u(-12)},
		{[]uint64{0xFFFFFFFF, 0xFFFFFFFF}, 0xFFFFFFFE},
	})
	checkExactOptional(t, "§2.1 add.sat.s32 clamps to [INT32_MIN, INT32_MAX]", opSpec{inst: "add.sat.s32 {d}, {a}, {b};", dst: "s32", srcs: []string{"s32", "s32"}}, []intCase{
		{[]uint64{0x7FFFFFFF, 1}, 0x7FFFFFFF},
		{[]uint64{0x80000000, u(-1)}, 0x80000000},
		{[]uint64{0x7FFFFFF0, 0x10}, 0x7FFFFFFF},
		{[]uint64{u(-3), 5}, 2},
	})
	checkExact(t, "§2.1 add.s64 wraps mod 2^64", opSpec{inst: "add.s64 {d}, {a}, {b};", dst: "s64", srcs: []string{"s64", "s64"}}, []intCase{
		{[]uint64{math.MaxInt64, 1}, 1 << 63},
		{[]uint64{u(-1), 1}, 0},
		{[]uint64{0xFFFFFFFF, 1}, 0x100000000},
		{[]uint64{u(-10), 3}, u(-7)},
	})
	checkExact(t, "§2.1 add.u64 wraps mod 2^64", opSpec{inst: "add.u64 {d}, {a}, {b};", dst: "u64", srcs: []string{"u64", "u64"}}, []intCase{
		{[]uint64{math.MaxUint64, 2}, 1},
	})
	checkExact(t, "§2.1 sub.s32 wraps mod 2^32", opSpec{inst: "sub.s32 {d}, {a}, {b};", dst: "s32", srcs: []string{"s32", "s32"}}, []intCase{
		{[]uint64{0, 1}, 0xFFFFFFFF},
		{[]uint64{0x80000000, 1}, 0x7FFFFFFF},
		{[]uint64{5, u(-3)}, 8},
	})
	checkExact(t, "§2.1 sub.s64 wraps mod 2^64", opSpec{inst: "sub.s64 {d}, {a}, {b};", dst: "s64", srcs: []string{"s64", "s64"}}, []intCase{
		{[]uint64{1 << 63, 1}, math.MaxInt64},
		{[]uint64{0, 1}, math.MaxUint64},
		{[]uint64{u(-5), u(-7)}, 2},
		{[]uint64{0x100000000, 1}, 0xFFFFFFFF},
	})
	checkExact(t, "§1.3 16-bit results wrap mod 2^16", opSpec{inst: "add.u16 {d}, {a}, {b};", dst: "u16", srcs: []string{"u16", "u16"}}, []intCase{
		{[]uint64{0xFFFF, 2}, 1},
		{[]uint64{0x8000, 0x8000}, 0},
	})
}

// ---- §2.2 mul -----------------------------------------------------------------

func TestISAIntMul(t *testing.T) {
	checkExact(t, "§2.2 mul.lo.s32 = low 32 bits of the product", opSpec{inst: "mul.lo.s32 {d}, {a}, {b};", dst: "s32", srcs: []string{"s32", "s32"}}, []intCase{
		{[]uint64{0x10000, 0x10000}, 0},
		{[]uint64{u(-3), 5}, u(-15)},
		{[]uint64{0x12345678, 0x9ABCDEF0}, (0x12345678 * 0x9ABCDEF0) & 0xFFFFFFFF},
		{[]uint64{0x7FFFFFFF, 2}, 0xFFFFFFFE},
	})
	checkExact(t, "§2.2 mul.lo.u32 = low 32 bits", opSpec{inst: "mul.lo.u32 {d}, {a}, {b};", dst: "u32", srcs: []string{"u32", "u32"}}, []intCase{
		{[]uint64{0xFFFFFFFF, 0xFFFFFFFF}, 1},
	})

	// mul.lo.s64 / mul.hi.s64 / mul.hi.u64 against exact big-int products.
	pairs := [][2]int64{{-1, 1}, {1 << 62, 4}, {-1, -1}, {math.MinInt64, -1}, {math.MinInt64, math.MinInt64},
		{math.MaxInt64, math.MaxInt64}, {-3, 5}, {0x123456789ABCDEF, -0x0FEDCBA987654321}, {-0x7000000000000001, 0x7000000000000003},
		{1 << 40, 1 << 30}, {0, -7}, {-2, math.MaxInt64}}
	var lo, hi, hiu []intCase
	for _, p := range pairs {
		prod := new(big.Int).Mul(big.NewInt(p[0]), big.NewInt(p[1]))
		// two's complement 128-bit representation
		m128 := new(big.Int).Lsh(big.NewInt(1), 128)
		if prod.Sign() < 0 {
			prod.Add(prod, m128)
		}
		low := new(big.Int).And(prod, new(big.Int).SetUint64(math.MaxUint64)).Uint64()
		high := new(big.Int).Rsh(prod, 64).Uint64()
		lo = append(lo, intCase{[]uint64{u(p[0]), u(p[1])}, low})
		hi = append(hi, intCase{[]uint64{u(p[0]), u(p[1])}, high})
		pu := new(big.Int).Mul(new(big.Int).SetUint64(u(p[0])), new(big.Int).SetUint64(u(p[1])))
		hiu = append(hiu, intCase{[]uint64{u(p[0]), u(p[1])}, new(big.Int).Rsh(pu, 64).Uint64()})
	}
	// The notes' own vectors.
	hi = append(hi, intCase{[]uint64{u(-1), 1}, u(-1)}, intCase{[]uint64{1 << 62, 4}, 1})
	checkExact(t, "§2.2 mul.lo.s64 = t[63:0]", opSpec{inst: "mul.lo.s64 {d}, {a}, {b};", dst: "s64", srcs: []string{"s64", "s64"}}, lo)
	checkExact(t, "§2.2 mul.hi.s64 = t[127:64] of the signed 128-bit product", opSpec{inst: "mul.hi.s64 {d}, {a}, {b};", dst: "s64", srcs: []string{"s64", "s64"}}, hi)
	checkExact(t, "§2.2 mul.hi.u64 = t[127:64] of the unsigned product", opSpec{inst: "mul.hi.u64 {d}, {a}, {b};", dst: "u64", srcs: []string{"u64", "u64"}}, hiu)
	checkExact(t, "§2.2 mul.hi.u32 = t[63:32]", opSpec{inst: "mul.hi.u32 {d}, {a}, {b};", dst: "u32", srcs: []string{"u32", "u32"}}, []intCase{
		{[]uint64{0xFFFFFFFF, 0xFFFFFFFF}, 0xFFFFFFFE},
		{[]uint64{0x80000000, 4}, 2},
	})
	checkExact(t, "§2.2 mul.hi.s32 = t[63:32] (signed)", opSpec{inst: "mul.hi.s32 {d}, {a}, {b};", dst: "s32", srcs: []string{"s32", "s32"}}, []intCase{
		{[]uint64{u(-2), 3}, 0xFFFFFFFF},
		{[]uint64{0x80000000, 0x80000000}, 0x40000000},
		{[]uint64{0x80000000, 2}, 0xFFFFFFFF},
	})

	checkExact(t, "§2.2 mul.wide.u16: zext(a)*zext(b), 32-bit result", opSpec{inst: "mul.wide.u16 {d}, {a}, {b};", dst: "u32", srcs: []string{"u16", "u16"}}, []intCase{
		{[]uint64{0xFFFF, 0xFFFF}, 0xFFFE0001},
		{[]uint64{0x8000, 2}, 0x10000},
		{[]uint64{300, 300}, 90000},
	})
	checkExact(t, "§2.2 mul.wide.s16: sext(a)*sext(b), 32-bit result", opSpec{inst: "mul.wide.s16 {d}, {a}, {b};", dst: "s32", srcs: []string{"s16", "s16"}}, []intCase{
		{[]uint64{0xFFFF, 0xFFFF}, 1},
		{[]uint64{0x8000, 0x8000}, 0x40000000},
		{[]uint64{0xFFFE, 3}, 0xFFFFFFFA},
	})
	checkExact(t, "§2.2 mul.wide.u32: zext(a)*zext(b), 64-bit result", opSpec{inst: "mul.wide.u32 {d}, {a}, {b};", dst: "u64", srcs: []string{"u32", "u32"}}, []intCase{
		{[]uint64{0xFFFFFFFF, 0xFFFFFFFF}, 0xFFFFFFFE00000001},
		{[]uint64{0x80000000, 2}, 0x100000000},
		{[]uint64{7, 6}, 42},
	})
	checkExact(t, "§2.2 mul.wide.s32: sext(a)*sext(b), 64-bit result", opSpec{inst: "mul.wide.s32 {d}, {a}, {b};", dst: "s64", srcs: []string{"s32", "s32"}}, []intCase{
		{[]uint64{0xFFFFFFFE, 3}, 0xFFFFFFFFFFFFFFFA}, // notes: mul.wide.s32(-2, 3) = -6
		{[]uint64{0x80000000, 0x80000000}, 1 << 62},
		{[]uint64{0x80000000, 0x7FFFFFFF}, u(-(1 << 31) * ((1 << 31) - 1))},
		{[]uint64{0xFFFFFFFF, 0xFFFFFFFF}, 1},
	})
}

// ---- §2.3 div -----------------------------------------------------------------

func TestISAIntDiv(t *testing.T) {
	checkExact(t, "§2.3 div.u32 truncates", opSpec{inst: "div.u32 {d}, {a}, {b};", dst: "u32", srcs: []string{"u32", "u32"}}, []intCase{
		{[]uint64{7, 2}, 3},
		{[]uint64{0xFFFFFFFF, 1}, 0xFFFFFFFF},
		{[]uint64{0xFFFFFFFF, 0x10000}, 0xFFFF},
		{[]uint64{0x80000000, 0xFFFFFFFF}, 0},
		{[]uint64{1, 2}, 0},
	})
	checkExact(t, "§2.3 div.s32 truncates toward zero", opSpec{inst: "div.s32 {d}, {a}, {b};", dst: "s32", srcs: []string{"s32", "s32"}}, []intCase{
		{[]uint64{u(-7), 2}, u(-3)},
		{[]uint64{7, u(-2)}, u(-3)},
		{[]uint64{u(-7), u(-2)}, 3},
		{[]uint64{0x80000000, 2}, 0xC0000000},
	})
	checkExact(t, "§2.3 div.s64 truncates toward zero", opSpec{inst: "div.s64 {d}, {a}, {b};", dst: "s64", srcs: []string{"s64", "s64"}}, []intCase{
		{[]uint64{u(-7), 2}, u(-3)},
		{[]uint64{7, u(-2)}, u(-3)},
		{[]uint64{u(-7), u(-2)}, 3},
		{[]uint64{1 << 63, 2}, u(math.MinInt64 / 2)},
		{[]uint64{u(-1), 3}, 0},
		{[]uint64{math.MaxInt64, u(-1)}, u(-math.MaxInt64)},
		{[]uint64{0x123456789ABCDEF0, 0x1234}, u(0x123456789ABCDEF0 / 0x1234)},
	})
	checkExact(t, "§2.3 div.u64", opSpec{inst: "div.u64 {d}, {a}, {b};", dst: "u64", srcs: []string{"u64", "u64"}}, []intCase{
		{[]uint64{math.MaxUint64, 2}, math.MaxUint64 / 2},
		{[]uint64{1 << 63, 1 << 62}, 2},
	})
}

// ---- §2.4 min / max -----------------------------------------------------------

func TestISAIntMinMax(t *testing.T) {
	checkExact(t, "§2.4 min.s32 compares signed", opSpec{inst: "min.s32 {d}, {a}, {b};", dst: "s32", srcs: []string{"s32", "s32"}}, []intCase{
		{[]uint64{0xFFFFFFFF, 1}, 0xFFFFFFFF},
		{[]uint64{0x80000000, 0x7FFFFFFF}, 0x80000000},
	})
	checkExact(t, "§2.4 min.u32 compares unsigned", opSpec{inst: "min.u32 {d}, {a}, {b};", dst: "u32", srcs: []string{"u32", "u32"}}, []intCase{
		{[]uint64{0xFFFFFFFF, 1}, 1},
		{[]uint64{0x80000000, 0x7FFFFFFF}, 0x7FFFFFFF},
	})
	checkExact(t, "§2.4 max.s32 compares signed", opSpec{inst: "max.s32 {d}, {a}, {b};", dst: "s32", srcs: []string{"s32", "s32"}}, []intCase{
		{[]uint64{0xFFFFFFFF, 1}, 1},
		{[]uint64{0x80000000, 0x7FFFFFFF}, 0x7FFFFFFF},
	})
	checkExact(t, "§2.4 max.u32 compares unsigned", opSpec{inst: "max.u32 {d}, {a}, {b};", dst: "u32", srcs: []string{"u32", "u32"}}, []intCase{
		{[]uint64{0xFFFFFFFF, 1}, 0xFFFFFFFF},
		{[]uint64{0x80000000, 0x7FFFFFFF}, 0x80000000},
	})
	checkExact(t, "§2.4 min.s64 compares signed", opSpec{inst: "min.s64 {d}, {a}, {b};", dst: "s64", srcs: []string{"s64", "s64"}}, []intCase{
		{[]uint64{u(-1), 1}, u(-1)},
		{[]uint64{1 << 63, math.MaxInt64}, 1 << 63},
		{[]uint64{u(-5), u(-6)}, u(-6)},
	})
	checkExact(t, "§2.4 max.s64 compares signed", opSpec{inst: "max.s64 {d}, {a}, {b};", dst: "s64", srcs: []string{"s64", "s64"}}, []intCase{
		{[]uint64{u(-1), 1}, 1},
		{[]uint64{1 << 63, math.MaxInt64}, math.MaxInt64},
		{[]uint64{u(-5), u(-6)}, u(-5)},
	})
	checkExact(t, "§2.4 min.u64 / max.u64 compare unsigned", opSpec{inst: "min.u64 {d}, {a}, {b};", dst: "u64", srcs: []string{"u64", "u64"}}, []intCase{
		{[]uint64{u(-1), 1}, 1},
	})
	checkExact(t, "§2.4 max.u64 compares unsigned", opSpec{inst: "max.u64 {d}, {a}, {b};", dst: "u64", srcs: []string{"u64", "u64"}}, []intCase{
		{[]uint64{u(-1), 1}, u(-1)},
	})
	checkExact(t, "§2.4 min.s16 compares signed", opSpec{inst: "min.s16 {d}, {a}, {b};", dst: "s16", srcs: []string{"s16", "s16"}}, []intCase{
		{[]uint64{0xFFFF, 1}, 0xFFFF},
	})
	checkExactOptional(t, "§2.4 max.relu.s32 clamps negative results to 0", opSpec{inst: "max.relu.s32 {d}, {a}, {b};", dst: "s32", srcs: []string{"s32", "s32"}}, []intCase{
		{[]uint64{u(-5), u(-3)}, 0},
		{[]uint64{u(-5), 3}, 3},
	})
}

// ---- §4.2 shl / shr -----------------------------------------------------------

func TestISAIntShift(t *testing.T) {
	checkExact(t, "§4.2 shl.b32: amounts >= 32 give 0", opSpec{inst: "shl.b32 {d}, {a}, {b};", dst: "b32", srcs: []string{"b32", "u32"}}, []intCase{
		{[]uint64{1, 31}, 0x80000000},
		{[]uint64{1, 32}, 0},
		{[]uint64{3, 33}, 0},
		{[]uint64{1, 0xFFFFFFFF}, 0}, // notes' vector
		{[]uint64{0xFFFFFFFF, 4}, 0xFFFFFFF0},
		{[]uint64{5, 0}, 5},
	})
	checkExact(t, "§4.2 shl.b64: amounts >= 64 give 0", opSpec{inst: "shl.b64 {d}, {a}, {b};", dst: "b64", srcs: []string{"b64", "u32"}}, []intCase{
		{[]uint64{1, 63}, 1 << 63},
		{[]uint64{1, 64}, 0},
		{[]uint64{1, 100}, 0},
		{[]uint64{1, 32}, 1 << 32},
		{[]uint64{1, 0x80000000}, 0},
	})
	checkExact(t, "§4.2 shl.b16: amounts >= 16 give 0", opSpec{inst: "shl.b16 {d}, {a}, {b};", dst: "b16", srcs: []string{"b16", "u32"}}, []intCase{
		{[]uint64{1, 15}, 0x8000},
		{[]uint64{1, 16}, 0},
		{[]uint64{0xFFFF, 4}, 0xFFF0},
	})
	checkExact(t, "§4.2 shr.u32: amounts >= 32 give 0", opSpec{inst: "shr.u32 {d}, {a}, {b};", dst: "u32", srcs: []string{"u32", "u32"}}, []intCase{
		{[]uint64{0x80000000, 31}, 1},
		{[]uint64{0x80000000, 32}, 0}, // notes' vector
		{[]uint64{0xFFFFFFFF, 1000}, 0},
		{[]uint64{0xF0, 4}, 0xF},
	})
	checkExact(t, "§4.2 shr.b32 is a logical shift", opSpec{inst: "shr.b32 {d}, {a}, {b};", dst: "b32", srcs: []string{"b32", "u32"}}, []intCase{
		{[]uint64{0x80000000, 31}, 1},
		{[]uint64{0x80000000, 32}, 0},
	})
	checkExact(t, "§4.2 shr.s32 fills with the sign bit, also for amounts >= 32", opSpec{inst: "shr.s32 {d}, {a}, {b};", dst: "s32", srcs: []string{"s32", "u32"}}, []intCase{
		{[]uint64{0x80000000, 31}, 0xFFFFFFFF},
		{[]uint64{0x80000000, 32}, 0xFFFFFFFF},
		{[]uint64{0x80000000, 1000}, 0xFFFFFFFF},
		{[]uint64{0x80000000, 0xFFFFFFFF}, 0xFFFFFFFF},
		{[]uint64{0x7FFFFFFF, 40}, 0},
		{[]uint64{0xFFFFFFF0, 2}, 0xFFFFFFFC},
		{[]uint64{0x70, 4}, 7},
	})
	checkExact(t, "§4.2 shr.s64 fills with the sign bit, also for amounts >= 64", opSpec{inst: "shr.s64 {d}, {a}, {b};", dst: "s64", srcs: []string{"s64", "u32"}}, []intCase{
		{[]uint64{u(-8), 200}, u(-1)}, // notes' vector
		{[]uint64{u(-8), 1}, u(-4)},
		{[]uint64{u(-8), 64}, u(-1)},
		{[]uint64{8, 64}, 0},
		{[]uint64{1 << 62, 62}, 1},
	})
	checkExact(t, "§4.2 shr.u64: amounts >= 64 give 0", opSpec{inst: "shr.u64 {d}, {a}, {b};", dst: "u64", srcs: []string{"u64", "u32"}}, []intCase{
		{[]uint64{1 << 63, 63}, 1},
		{[]uint64{1 << 63, 64}, 0},
		{[]uint64{u(-1), 32}, 0xFFFFFFFF},
	})
	checkExact(t, "§4.2 shr.s16 fills with the sign bit", opSpec{inst: "shr.s16 {d}, {a}, {b};", dst: "s16", srcs: []string{"s16", "u32"}}, []intCase{
		{[]uint64{0x8000, 15}, 0xFFFF},
		{[]uint64{0x8000, 16}, 0xFFFF},
		{[]uint64{0x8000, 100}, 0xFFFF},
		{[]uint64{0x4000, 16}, 0},
	})
	checkExact(t, "§4.2 shr.u16: amounts >= 16 give 0", opSpec{inst: "shr.u16 {d}, {a}, {b};", dst: "u16", srcs: []string{"u16", "u32"}}, []intCase{
		{[]uint64{0x8000, 15}, 1},
		{[]uint64{0x8000, 16}, 0},
	})
}

// ---- §2.5 bfe / §2.6 bfi -------------------------------------------------------

// bfeRef is the ISA pseudocode of §2.5, transcribed.
func bfeRef(a uint64, pos, length uint32, width int, signed bool) uint64 {
	msb := width - 1
	p := int(pos & 0xff)
	l := int(length & 0xff)
	bit := func(i int) uint64 { return (a >> uint(i)) & 1 }
	var sbit uint64
	if signed && l != 0 {
		sbit = bit(min(p+l-1, msb))
	}
	var d uint64
	for i := 0; i <= msb; i++ {
		var v uint64
		if i < l && p+i <= msb {
			v = bit(p + i)
		} else {
			v = sbit
		}
		d |= v << uint(i)
	}
	return d
}

// bfiRef is the ISA pseudocode of §2.6.
func bfiRef(a, b uint64, pos, length uint32, width int) uint64 {
	msb := width - 1
	p := int(pos & 0xff)
	l := int(length & 0xff)
	f := b
	for i := 0; i < l && p+i <= msb; i++ {
		bit := (a >> uint(i)) & 1
		f = f&^(1<<uint(p+i)) | bit<<uint(p+i)
	}
	if width == 32 {
		f &= 0xFFFFFFFF
	}
	return f
}

func TestISAIntBfe(t *testing.T) {
	// The notes' table first.
	checkExact(t, "§2.5 bfe table", opSpec{inst: "bfe.u32 {d}, {a}, {b}, {c};", dst: "u32", srcs: []string{"u32", "u32", "u32"}}, []intCase{
		{[]uint64{0xF0F0F0F0, 4, 8}, 0x0F},
		{[]uint64{0xDEADBEEF, 300, 4}, 0}, // pos 300 & 0xff = 44 > 31
	})
	checkExact(t, "§2.5 bfe table", opSpec{inst: "bfe.s32 {d}, {a}, {b}, {c};", dst: "s32", srcs: []string{"s32", "u32", "u32"}}, []intCase{
		{[]uint64{0xF0, 4, 4}, 0xFFFFFFFF},
		{[]uint64{0x7FFFFFFF, 28, 8}, 0x00000007},
	})

	as32 := []uint64{0xF0F0F0F0, 0x8000_0001, 0x7FFF_FFFF, 0x1234_5678, 0xFFFF_FFFF}
	as64 := []uint64{0xF0F0_F0F0_0F0F_0F0F, 0x8000_0000_0000_0001, 0x7FFF_FFFF_FFFF_FFFF, 0x0123_4567_89AB_CDEF}
	poss := []uint32{0, 1, 4, 28, 31, 32, 33, 60, 63, 64, 200, 255, 256, 260, 300}
	lens := []uint32{0, 1, 4, 8, 31, 32, 33, 63, 64, 65, 255, 256, 260}
	for _, cfg := range []struct {
		ty     string
		width  int
		signed bool
		as     []uint64
	}{{"u32", 32, false, as32}, {"s32", 32, true, as32}, {"u64", 64, false, as64}, {"s64", 64, true, as64}} {
		var cases []intCase
		for _, a := range cfg.as {
			for _, p := range poss {
				for _, l := range lens {
					cases = append(cases, intCase{[]uint64{a, uint64(p), uint64(l)}, bfeRef(a, p, l, cfg.width, cfg.signed)})
				}
			}
		}
		checkExact(t, "§2.5 bfe pseudocode (pos/len low 8 bits, sign bit a[min(pos+len-1,msb)])",
			opSpec{inst: "bfe." + cfg.ty + " {d}, {a}, {b}, {c};", dst: cfg.ty, srcs: []string{cfg.ty, "u32", "u32"}}, cases)
	}
}

func TestISAIntBfi(t *testing.T) {
	checkExact(t, "§2.6 bfi table", opSpec{inst: "bfi.b32 {d}, {a}, {b}, {c}, {e};", dst: "b32", srcs: []string{"b32", "b32", "u32", "u32"}}, []intCase{
		{[]uint64{0xFF, 0, 4, 4}, 0xF0},
		{[]uint64{0x3, 0, 30, 4}, 0xC0000000},
	})
	poss := []uint32{0, 1, 4, 28, 31, 32, 60, 63, 64, 255, 256, 260}
	lens := []uint32{0, 1, 4, 8, 32, 33, 64, 65, 255, 256, 258}
	for _, cfg := range []struct {
		ty    string
		width int
		ab    [][2]uint64
	}{
		{"b32", 32, [][2]uint64{{0xFFFFFFFF, 0}, {0x12345678, 0xA5A5A5A5}}},
		{"b64", 64, [][2]uint64{{math.MaxUint64, 0}, {0x0123456789ABCDEF, 0xA5A5A5A5A5A5A5A5}}},
	} {
		var cases []intCase
		for _, ab := range cfg.ab {
			for _, p := range poss {
				for _, l := range lens {
					cases = append(cases, intCase{[]uint64{ab[0], ab[1], uint64(p), uint64(l)}, bfiRef(ab[0], ab[1], p, l, cfg.width)})
				}
			}
		}
		checkExact(t, "§2.6 bfi pseudocode (len 0 or pos > msb gives b, field truncated at the top)",
			opSpec{inst: "bfi." + cfg.ty + " {d}, {a}, {b}, {c}, {e};", dst: cfg.ty, srcs: []string{cfg.ty, cfg.ty, "u32", "u32"}}, cases)
	}
}

// ---- §4.1 logic ------------------------------------------------------------

func TestISAIntLogic(t *testing.T) {
	vals32 := []uint64{0, 0xFFFFFFFF, 0xF0F0F0F0, 0x12345678, 0x80000001}
	vals64 := []uint64{0, math.MaxUint64, 0xF0F0F0F00F0F0F0F, 0x0123456789ABCDEF}
	for _, op := range []string{"and", "or", "xor"} {
		f := map[string]func(a, b uint64) uint64{
			"and": func(a, b uint64) uint64 { return a & b },
			"or":  func(a, b uint64) uint64 { return a | b },
			"xor": func(a, b uint64) uint64 { return a ^ b },
		}[op]
		for _, w := range []struct {
			ty   string
			vals []uint64
		}{{"b32", vals32}, {"b64", vals64}, {"b16", []uint64{0, 0xFFFF, 0xF00F, 0x1234}}} {
			var cases []intCase
			for _, a := range w.vals {
				for _, b := range w.vals {
					cases = append(cases, intCase{[]uint64{a, b}, f(a, b)})
				}
			}
			checkExact(t, "§4.1 bitwise "+op, opSpec{inst: op + "." + w.ty + " {d}, {a}, {b};", dst: w.ty, srcs: []string{w.ty, w.ty}}, cases)
		}
		var pc []intCase
		for a := uint64(0); a < 2; a++ {
			for b := uint64(0); b < 2; b++ {
				pc = append(pc, intCase{[]uint64{a, b}, f(a, b)})
			}
		}
		checkExact(t, "§4.1 "+op+".pred on predicates as booleans", opSpec{inst: op + ".pred {d}, {a}, {b};", dst: "pred", srcs: []string{"pred", "pred"}}, pc)
	}
	checkExact(t, "not.b32 is bitwise complement", opSpec{inst: "not.b32 {d}, {a};", dst: "b32", srcs: []string{"b32"}}, []intCase{
		{[]uint64{0}, 0xFFFFFFFF}, {[]uint64{0xF0F0F0F0}, 0x0F0F0F0F},
	})
	checkExact(t, "not.b64 is bitwise complement", opSpec{inst: "not.b64 {d}, {a};", dst: "b64", srcs: []string{"b64"}}, []intCase{
		{[]uint64{0}, math.MaxUint64}, {[]uint64{0x0123456789ABCDEF}, ^uint64(0x0123456789ABCDEF)},
	})
	checkExact(t, "not.pred negates", opSpec{inst: "not.pred {d}, {a};", dst: "pred", srcs: []string{"pred"}}, []intCase{
		{[]uint64{0}, 1}, {[]uint64{1}, 0},
	})
}

// ---- §3.2 selp ------------------------------------------------------------------

func TestISAIntSelp(t *testing.T) {
	checkExact(t, "§3.2 selp d = c ? a : b", opSpec{inst: "selp.b32 {d}, {a}, {b}, {c};", dst: "b32", srcs: []string{"b32", "b32", "pred"}}, []intCase{
		{[]uint64{0x11111111, 0x22222222, 1}, 0x11111111},
		{[]uint64{0x11111111, 0x22222222, 0}, 0x22222222},
	})
	checkExact(t, "§3.2 selp.s64", opSpec{inst: "selp.s64 {d}, {a}, {b}, {c};", dst: "s64", srcs: []string{"s64", "s64", "pred"}}, []intCase{
		{[]uint64{u(-1), 5, 1}, u(-1)},
		{[]uint64{u(-1), 5, 0}, 5},
	})
	checkExact(t, "§3.2 selp.f32 is a plain bit move: NaN payloads pass through", opSpec{inst: "selp.f32 {d}, {a}, {b}, {c};", dst: "f32", srcs: []string{"f32", "f32", "pred"}}, []intCase{
		{[]uint64{0x7FC12345, 0x3F800000, 1}, 0x7FC12345},
		{[]uint64{0x3F800000, 0xFF800001, 0}, 0xFF800001},
		{[]uint64{0x80000000, 0, 1}, 0x80000000},
	})
}

// ---- §3.1 setp (integer) --------------------------------------------------------

func TestISAIntSetp(t *testing.T) {
	type tv struct {
		ty   string
		vals []uint64
		w    int
	}
	types := []tv{
		{"s16", []uint64{0x8000, 0xFFFF, 0, 1, 0x7FFF}, 16},
		{"s32", []uint64{0x80000000, 0xFFFFFFFF, 0, 1, 0x7FFFFFFF}, 32},
		{"s64", []uint64{1 << 63, math.MaxUint64, 0, 1, math.MaxInt64, 0x100000000}, 64},
		{"u32", []uint64{0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF}, 32},
		{"u64", []uint64{0, 1, math.MaxInt64, 1 << 63, math.MaxUint64}, 64},
		{"u16", []uint64{0, 1, 0x7FFF, 0x8000, 0xFFFF}, 16},
	}
	sext := func(v uint64, w int) int64 {
		return int64(v<<uint(64-w)) >> uint(64-w)
	}
	for _, ty := range types {
		signed := strings.HasPrefix(ty.ty, "s")
		ops := []string{"eq", "ne", "lt", "le", "gt", "ge"}
		if !signed {
			// lo/ls/hi/hs are the unsigned operators of the ISA's Table 22; the
			// ISA does not say what they mean on a signed type, so they are
			// only checked on unsigned types.
			ops = append(ops, "lo", "ls", "hi", "hs")
		}
		for _, op := range ops {
			var cases []intCase
			for _, a := range ty.vals {
				for _, b := range ty.vals {
					var lt, eq bool
					eq = a == b
					if signed && op != "lo" && op != "ls" && op != "hi" && op != "hs" {
						lt = sext(a, ty.w) < sext(b, ty.w)
					} else {
						lt = a < b
					}
					var r bool
					switch op {
					case "eq":
						r = eq
					case "ne":
						r = !eq
					case "lt", "lo":
						r = lt
					case "le", "ls":
						r = lt || eq
					case "gt", "hi":
						r = !lt && !eq
					case "ge", "hs":
						r = !lt
					}
					var want uint64
					if r {
						want = 1
					}
					cases = append(cases, intCase{[]uint64{a, b}, want})
				}
			}
			rule := "§3.1 setp integer: eq..ge use the type's signedness"
			if op == "lo" || op == "ls" || op == "hi" || op == "hs" {
				rule = "§3.1 setp integer: lo/ls/hi/hs are unsigned comparisons"
			}
			checkExact(t, rule, opSpec{inst: "setp." + op + "." + ty.ty + " {d}, {a}, {b};", dst: "pred", srcs: []string{ty.ty, ty.ty}}, cases)
		}
	}
	checkExact(t, "§3.1 setp.eq.b32 / ne.b32", opSpec{inst: "setp.ne.b32 {d}, {a}, {b};", dst: "pred", srcs: []string{"b32", "b32"}}, []intCase{
		{[]uint64{1, 1}, 0}, {[]uint64{1, 0x80000001}, 1},
	})
}

func TestISAIntSetpBoolOp(t *testing.T) {
	// p = BoolOp(t, c), q = BoolOp(!t, c); without BoolOp q = !t.
	type row struct{ a, b, c uint64 }
	var rows [][]uint64
	for _, a := range []uint64{u(-2), 0, 3} {
		for _, b := range []uint64{u(-2), 0, 3} {
			for c := uint64(0); c < 2; c++ {
				rows = append(rows, []uint64{a, b, c})
			}
		}
	}
	bo := map[string]func(x, y bool) bool{
		"and": func(x, y bool) bool { return x && y },
		"or":  func(x, y bool) bool { return x || y },
		"xor": func(x, y bool) bool { return x != y },
	}
	b2u := func(b bool) uint64 {
		if b {
			return 1
		}
		return 0
	}
	for _, op := range []string{"and", "or", "xor"} {
		for _, neg := range []bool{false, true} {
			cpart := "{c}"
			if neg {
				cpart = "!{c}"
			}
			spec := opSpec{inst: "setp.lt." + op + ".s32 {d}|{q}, {a}, {b}, " + cpart + ";", dst: "pred", dst2: "pred", srcs: []string{"s32", "s32", "pred"}}
			got := runOp(t, spec, rows)
			if got == nil {
				continue
			}
			for i, r := range rows {
				tt := int32(r[0]) < int32(r[1])
				c := r[2] != 0
				if neg {
					c = !c
				}
				wp, wq := b2u(bo[op](tt, c)), b2u(bo[op](!tt, c))
				if got[i][0] != wp || got[i][1] != wq {
					t.Errorf("%s [§3.1 p = BoolOp(t,c), q = BoolOp(!t,c)] inputs %s: want p=%d q=%d, got p=%d q=%d", spec.inst, fmtIn(r), wp, wq, got[i][0], got[i][1])
				}
			}
		}
	}
	spec := opSpec{inst: "setp.ge.s64 {d}|{q}, {a}, {b};", dst: "pred", dst2: "pred", srcs: []string{"s64", "s64"}}
	rows2 := [][]uint64{{u(-1), 0}, {0, u(-1)}, {5, 5}}
	got := runOp(t, spec, rows2)
	if got == nil {
		return
	}
	for i, r := range rows2 {
		tt := int64(r[0]) >= int64(r[1])
		if got[i][0] != b2u(tt) || got[i][1] != b2u(!tt) {
			t.Errorf("%s [§3.1 without BoolOp p = t, q = !t] inputs %s: want p=%d q=%d, got p=%d q=%d", spec.inst, fmtIn(r), b2u(tt), b2u(!tt), got[i][0], got[i][1])
		}
	}
}

// ---- popc / clz (if implemented) -----------------------------------------------

func TestISAIntPopcClz(t *testing.T) {
	vals32 := []uint64{0, 1, 0x80000000, 0xFFFFFFFF, 0x00F0F000, 0x12345678}
	vals64 := []uint64{0, 1, 1 << 63, math.MaxUint64, 0x00000000F0000000, 0x0123456789ABCDEF}
	type sp struct {
		spec opSpec
		vals []uint64
		f    func(uint64) uint64
		rule string
	}
	for _, s := range []sp{
		{opSpec{inst: "popc.b32 {d}, {a};", dst: "u32", srcs: []string{"b32"}}, vals32, func(v uint64) uint64 { return uint64(bits.OnesCount32(uint32(v))) }, "popc counts set bits"},
		{opSpec{inst: "popc.b64 {d}, {a};", dst: "u32", srcs: []string{"b64"}}, vals64, func(v uint64) uint64 { return uint64(bits.OnesCount64(v)) }, "popc counts set bits"},
		{opSpec{inst: "clz.b32 {d}, {a};", dst: "u32", srcs: []string{"b32"}}, vals32, func(v uint64) uint64 { return uint64(bits.LeadingZeros32(uint32(v))) }, "clz counts leading zeros (clz(0) = 32)"},
		{opSpec{inst: "clz.b64 {d}, {a};", dst: "u32", srcs: []string{"b64"}}, vals64, func(v uint64) uint64 { return uint64(bits.LeadingZeros64(v)) }, "clz counts leading zeros (clz(0) = 64)"},
	} {
		rows := make([][]uint64, len(s.vals))
		for i, v := range s.vals {
			rows[i] = []uint64{v}
		}
		got, err := tryRunOp(s.spec, rows)
		if err != nil {
			t.Logf("skipping %s (optional, not implemented?): %v", s.spec.inst, err)
			continue
		}
		for i, v := range s.vals {
			if got[i][0] != s.f(v) {
				t.Errorf("%s [%s] input %#x: want %d, got %d", s.spec.inst, s.rule, v, s.f(v), got[i][0])
			}
		}
	}
}

// ---- §5 mov ----------------------------------------------------------------

func TestISAMovPack(t *testing.T) {
	checkExact(t, "§5 mov.b32 d, {lo, hi}: element 0 goes to the low bits", opSpec{inst: "mov.b32 {d}, {{a}, {b}};", dst: "b32", srcs: []string{"b16", "b16"}}, []intCase{
		{[]uint64{0x1234, 0xABCD}, 0xABCD1234},
	})
	checkExact(t, "§5 mov.b64 d, {lo, hi}", opSpec{inst: "mov.b64 {d}, {{a}, {b}};", dst: "b64", srcs: []string{"b32", "b32"}}, []intCase{
		{[]uint64{0x89ABCDEF, 0x01234567}, 0x0123456789ABCDEF},
	})
	spec := opSpec{inst: "mov.b32 {{d}, {q}}, {a};", dst: "b16", dst2: "b16", srcs: []string{"b32"}}
	if got := runOp(t, spec, [][]uint64{{0xABCD1234}}); got != nil && (got[0][0] != 0x1234 || got[0][1] != 0xABCD) {
		t.Errorf("mov.b32 {lo, hi}, a [§5 unpack {a[15:0], a[31:16]}]: want 0x1234 0xabcd, got %#x %#x", got[0][0], got[0][1])
	}
	checkExact(t, "§1.1 mov.b32 between .f32 and .b32 is a bit copy", opSpec{inst: "mov.b32 {d}, {a};", dst: "f32", srcs: []string{"b32"}}, []intCase{
		{[]uint64{0x7FC12345}, 0x7FC12345}, {[]uint64{0x00000001}, 0x00000001},
	})
	checkExact(t, "§1.1 mov.b32 between .f32 and .b32 is a bit copy", opSpec{inst: "mov.b32 {d}, {a};", dst: "b32", srcs: []string{"f32"}}, []intCase{
		{[]uint64{0xFF800001}, 0xFF800001},
	})
}
