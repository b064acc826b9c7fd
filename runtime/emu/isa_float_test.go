package emu_test

// Floating-point instructions (docs/ptx-isa-notes.md §1.4, §3.1, §6).

import (
	"fmt"
	"math"
	"math/big"
	"math/rand"
	"testing"
)

var (
	f32Inf    = uint64(0x7F800000)
	f32NegInf = uint64(0xFF800000)
	f32NaN    = uint64(0x7FC00000)
	f32MinSub = uint64(0x00000001) // 2^-149
	f32MaxSub = uint64(0x007FFFFF)
	f32MinNrm = uint64(0x00800000) // 2^-126
)

// f32Values is a table of interesting f32 operands.
var f32Values = []uint64{
	0x00000000, 0x80000000, // ±0
	0x3F800000, 0xBF800000, // ±1
	0x3FC00000, 0x40400000, // 1.5, 3
	f32b(0.1), f32b(-7.25),
	0x7F7FFFFF, 0xFF7FFFFF, // ±MaxFloat32
	f32MinSub, 0x80000001, // ±smallest subnormal
	f32MaxSub, 0x807FFFFF, // ±largest subnormal
	f32MinNrm, 0x80800000, // ±smallest normal
	0x00800001,
	0x00400000, // 2^-127 (subnormal)
	f32Inf, f32NegInf, f32NaN,
	f32b(1e-20), f32b(3e38),
	0x3F800001, 0x3F7FFFFF, // 1+ulp, 1-ulp/2
	0x4B000001,             // 2^23+1
	0x34000000, 0x33800000, // 2^-23, 2^-24
}

func isNaN64(u uint64) bool { return math.IsNaN(math.Float64frombits(u)) }

// ftz32 flushes a subnormal f32 to a zero of the same sign (§1.4).
func ftz32(x float32) float32 {
	b := math.Float32bits(x)
	if b&0x7F800000 == 0 {
		return math.Float32frombits(b & 0x80000000)
	}
	return x
}

type fcase struct {
	in   []uint64
	want uint64 // NaN here means "any NaN"
}

// checkF32 runs rows and compares f32 results bit-exactly, except that an
// expected NaN accepts any NaN (§1.4: single precision returns an unspecified NaN).
func checkF32(t *testing.T, rule string, spec opSpec, cases []fcase) {
	t.Helper()
	checkFloatRows(t, rule, spec, cases, false)
}

func checkFloatRows(t *testing.T, rule string, spec opSpec, cases []fcase, is64 bool) {
	t.Helper()
	rows := make([][]uint64, len(cases))
	for i, c := range cases {
		rows[i] = c.in
	}
	got := runOpRule(t, rule, spec, rows)
	if got == nil {
		return
	}
	bad := 0
	for i, c := range cases {
		g := got[i][0]
		var ok bool
		if is64 {
			ok = g == c.want || (isNaN64(c.want) && isNaN64(g))
		} else {
			ok = g == c.want || (isNaN32(c.want) && isNaN32(g))
		}
		if !ok {
			bad++
			if bad <= 25 {
				t.Errorf("%s [%s] inputs %s: want %#x (%s), got %#x (%s)", spec.inst, rule, fmtIn(c.in), c.want, fstr(c.want, is64), g, fstr(g, is64))
			}
		}
	}
	if bad > 25 {
		t.Errorf("%s [%s]: %d mismatches in all", spec.inst, rule, bad)
	}
}

func fstr(u uint64, is64 bool) string {
	if is64 {
		return fmt.Sprintf("%g", math.Float64frombits(u))
	}
	return fmt.Sprintf("%g", math.Float32frombits(uint32(u)))
}

func binaryF32Cases(f func(a, b float32) float32, ftz bool) []fcase {
	var cs []fcase
	for _, a := range f32Values {
		for _, b := range f32Values {
			x, y := bf32(a), bf32(b)
			if ftz {
				x, y = ftz32(x), ftz32(y)
			}
			r := f(x, y)
			if ftz {
				// A result that rounds up to the smallest normal from a tiny exact
				// value is ambiguous (flush before or after rounding); skip it.
				if math.Abs(float64(r)) == math.Ldexp(1, -126) {
					continue
				}
				r = ftz32(r)
			}
			cs = append(cs, fcase{[]uint64{a, b}, f32b(r)})
		}
	}
	return cs
}

// Go's float32 arithmetic is IEEE 754 binary32 with round-to-nearest-even and
// subnormals; assigning to a float32 variable forces rounding (no fusion).
func add32(a, b float32) float32 { r := a + b; return r }
func sub32(a, b float32) float32 { r := a - b; return r }
func mul32(a, b float32) float32 { r := a * b; return r }
func div32(a, b float32) float32 { r := a / b; return r }

func TestISAFloatAddSubMulDiv(t *testing.T) {
	for _, op := range []struct {
		name string
		f    func(a, b float32) float32
	}{{"add", add32}, {"sub", sub32}, {"mul", mul32}, {"div", div32}} {
		checkF32(t, "§6.1/§6.2 IEEE RNE, subnormals preserved without .ftz",
			opSpec{inst: op.name + ".rn.f32 {d}, {a}, {b};", dst: "f32", srcs: []string{"f32", "f32"}}, binaryF32Cases(op.f, false))
		checkF32(t, "§1.4 .ftz flushes subnormal inputs and results to same-signed zero",
			opSpec{inst: op.name + ".rn.ftz.f32 {d}, {a}, {b};", dst: "f32", srcs: []string{"f32", "f32"}}, binaryF32Cases(op.f, true))
	}
	// Specific subnormal vectors.
	checkF32(t, "§6.1 subnormal results are kept without .ftz", opSpec{inst: "mul.rn.f32 {d}, {a}, {b};", dst: "f32", srcs: []string{"f32", "f32"}}, []fcase{
		{[]uint64{f32MinNrm, f32b(0.5)}, 0x00400000},
		{[]uint64{f32MinSub, f32b(0.5)}, 0},           // 2^-150: tie between 0 and 2^-149, rounds to even (0)
		{[]uint64{0x00000003, f32b(0.5)}, 0x00000002}, // 1.5*2^-149 -> tie -> even 2*2^-149
		{[]uint64{f32b(0), f32Inf}, f32NaN},
	})
	checkF32(t, "§1.4 .ftz flushes a subnormal result", opSpec{inst: "mul.rn.ftz.f32 {d}, {a}, {b};", dst: "f32", srcs: []string{"f32", "f32"}}, []fcase{
		{[]uint64{f32MinNrm, f32b(0.5)}, 0},
		{[]uint64{0x80800000, f32b(0.5)}, 0x80000000},
	})
	checkF32(t, "§6.1 add keeps subnormal sums without .ftz", opSpec{inst: "add.rn.f32 {d}, {a}, {b};", dst: "f32", srcs: []string{"f32", "f32"}}, []fcase{
		{[]uint64{f32MinSub, f32MinSub}, 2},
		{[]uint64{f32MinNrm, 0x80000001}, f32MaxSub},
		{[]uint64{f32Inf, f32NegInf}, f32NaN},
	})
	checkF32(t, "§6.2 div.rn.f32 special values", opSpec{inst: "div.rn.f32 {d}, {a}, {b};", dst: "f32", srcs: []string{"f32", "f32"}}, []fcase{
		{[]uint64{f32b(1), 0}, f32Inf},
		{[]uint64{f32b(-1), 0}, f32NegInf},
		{[]uint64{f32b(1), 0x80000000}, f32NegInf},
		{[]uint64{0, 0}, f32NaN},
		{[]uint64{f32Inf, f32Inf}, f32NaN},
		{[]uint64{f32MinSub, f32b(2)}, 0}, // 2^-150 tie -> 0
		{[]uint64{f32b(1), f32b(3)}, f32b(float32(1.0) / 3)},
		{[]uint64{f32MinNrm, f32b(4)}, 0x00200000},
	})

	// f64 forms: IEEE RNE, subnormals always supported, NaN payloads propagate.
	f64vals := []float64{0, math.Copysign(0, -1), 1, -2.5, 0.1, math.MaxFloat64, 5e-324, 2.2250738585072014e-308, math.Inf(1), math.Inf(-1), 1e308, 3}
	var addc, mulc []fcase
	for _, a := range f64vals {
		for _, b := range f64vals {
			s, p := a+b, a*b
			addc = append(addc, fcase{[]uint64{f64b(a), f64b(b)}, f64b(s)})
			mulc = append(mulc, fcase{[]uint64{f64b(a), f64b(b)}, f64b(p)})
		}
	}
	checkFloatRows(t, "§6.1 add.rn.f64 IEEE RNE", opSpec{inst: "add.rn.f64 {d}, {a}, {b};", dst: "f64", srcs: []string{"f64", "f64"}}, addc, true)
	checkFloatRows(t, "§6.1 mul.rn.f64 IEEE RNE", opSpec{inst: "mul.rn.f64 {d}, {a}, {b};", dst: "f64", srcs: []string{"f64", "f64"}}, mulc, true)
}

// §1.4: "NaN payloads are supported for double-precision instructions".
func TestISAFloatF64NaNPayload(t *testing.T) {
	payload := uint64(0x7FF8000000000123)
	checkExact(t, "§1.4 double precision propagates NaN payloads", opSpec{inst: "add.rn.f64 {d}, {a}, {b};", dst: "f64", srcs: []string{"f64", "f64"}}, []intCase{
		{[]uint64{payload, f64b(1)}, payload},
		{[]uint64{f64b(1), payload}, payload},
	})
	checkExact(t, "§1.4 double precision propagates NaN payloads", opSpec{inst: "mul.rn.f64 {d}, {a}, {b};", dst: "f64", srcs: []string{"f64", "f64"}}, []intCase{
		{[]uint64{payload, f64b(2)}, payload},
	})
}

func TestISAFloatSat(t *testing.T) {
	spec := opSpec{inst: "add.rn.sat.f32 {d}, {a}, {b};", dst: "f32", srcs: []string{"f32", "f32"}}
	if _, err := emuParse(opKernel(spec)); err != nil {
		t.Logf("optional: %s not supported: %v", spec.inst, err)
		return
	}
	checkF32(t, "§1.4 .sat clamps to [0,1], NaN becomes +0", spec, []fcase{
		{[]uint64{f32b(0.75), f32b(0.5)}, f32b(1)},
		{[]uint64{f32b(-0.75), f32b(0.5)}, 0},
		{[]uint64{f32b(0.25), f32b(0.5)}, f32b(0.75)},
		{[]uint64{f32Inf, f32NegInf}, 0},
		{[]uint64{f32NaN, f32b(0.5)}, 0},
	})
}

// fma32Ref is the correctly rounded a*b+c computed exactly with math/big.
func fma32Ref(a, b, c float32) float32 {
	if math.IsNaN(float64(a)) || math.IsNaN(float64(b)) || math.IsNaN(float64(c)) || math.IsInf(float64(a), 0) || math.IsInf(float64(b), 0) || math.IsInf(float64(c), 0) {
		return float32(float64(a)*float64(b) + float64(c)) // exact specials via f64 (inf/nan rules)
	}
	x := new(big.Float).SetPrec(2000).SetFloat64(float64(a))
	y := new(big.Float).SetPrec(2000).SetFloat64(float64(b))
	z := new(big.Float).SetPrec(2000).SetFloat64(float64(c))
	p := new(big.Float).SetPrec(2000).Mul(x, y)
	s := new(big.Float).SetPrec(2000).Add(p, z)
	if s.Sign() == 0 {
		// exact zero: IEEE sign rules (+0 unless both addends are -0)
		pz := float64(a) * float64(b)
		return float32(pz + float64(c))
	}
	f, _ := s.Float32() // nearest, ties to even, with subnormals and overflow to Inf
	return f
}

func TestISAFloatFma(t *testing.T) {
	spec := opSpec{inst: "fma.rn.f32 {d}, {a}, {b}, {c};", dst: "f32", srcs: []string{"f32", "f32", "f32"}}
	if _, err := emuParse(opKernel(spec)); err != nil {
		t.Logf("optional: %s not supported: %v", spec.inst, err)
		return
	}
	var cs []fcase
	add := func(a, b, c float32) {
		cs = append(cs, fcase{[]uint64{f32b(a), f32b(b), f32b(c)}, f32b(fma32Ref(a, b, c))})
	}
	e := float32(math.Ldexp(1, -23))
	add(1+e, 1-e, -1) // exact -2^-46; unfused would give 0
	add(1+e, 1+e, -1) // 2^-22 + 2^-46
	add(3, 1.0/3, -1) // residual of 1/3
	add(bf32(f32MinNrm), 0.5, 0)
	add(bf32(f32MinNrm), -0.75, bf32(f32MinSub))
	add(0, -1, 0) // -0 + +0 = +0
	add(-0.0, 1, float32(math.Copysign(0, -1)))
	add(float32(math.Inf(1)), 0, 1) // NaN
	add(math.MaxFloat32, 2, -math.MaxFloat32)
	add(1, 1, float32(math.Ldexp(1, -24)))       // 1 + 2^-24: tie, even -> 1
	add(1, 1, float32(math.Ldexp(1, -24))+1e-30) // just above the tie
	rng := rand.New(rand.NewSource(7))
	for i := 0; i < 200; i++ {
		r := func() float32 {
			return float32(math.Ldexp(rng.Float64()*2-1, rng.Intn(40)-20))
		}
		a, b := r(), r()
		c := -a * b // near cancellation
		if i%2 == 0 {
			c = r()
		}
		add(a, b, c)
	}
	for i := 0; i < 40; i++ { // subnormal territory
		a := float32(math.Ldexp(rng.Float64(), -70))
		b := float32(math.Ldexp(rng.Float64()*2-1, -70))
		add(a, b, float32(math.Ldexp(rng.Float64()-0.5, -135)))
	}
	checkF32(t, "fma.rn.f32: a*b+c computed exactly, rounded once (RNE)", spec, cs)

	// f64: math.FMA is correctly rounded.
	var cd []fcase
	for i := 0; i < 64; i++ {
		a := math.Ldexp(rng.Float64()*2-1, rng.Intn(60)-30)
		b := math.Ldexp(rng.Float64()*2-1, rng.Intn(60)-30)
		c := -a * b
		cd = append(cd, fcase{[]uint64{f64b(a), f64b(b), f64b(c)}, f64b(math.FMA(a, b, c))})
	}
	checkFloatRows(t, "fma.rn.f64: single rounding", opSpec{inst: "fma.rn.f64 {d}, {a}, {b}, {c};", dst: "f64", srcs: []string{"f64", "f64", "f64"}}, cd, true)
}

func TestISAFloatRcpSqrt(t *testing.T) {
	var rc, sq, sqf []fcase
	vals := append([]uint64{}, f32Values...)
	rng := rand.New(rand.NewSource(3))
	for i := 0; i < 64; i++ {
		vals = append(vals, uint64(rng.Uint32()))
	}
	for _, a := range vals {
		x := bf32(a)
		r := float32(1) / x
		rc = append(rc, fcase{[]uint64{a}, f32b(r)})
		// sqrt via f64 then one rounding to f32 is correctly rounded (53 >= 2*24+2).
		s := float32(math.Sqrt(float64(x)))
		sq = append(sq, fcase{[]uint64{a}, f32b(s)})
		sf := float32(math.Sqrt(float64(ftz32(x))))
		sqf = append(sqf, fcase{[]uint64{a}, f32b(ftz32(sf))})
	}
	checkF32(t, "§6.3 rcp.rn.f32 = IEEE 1/a (±0 -> ±Inf, ±Inf -> ±0)", opSpec{inst: "rcp.rn.f32 {d}, {a};", dst: "f32", srcs: []string{"f32"}}, rc)
	checkF32(t, "§6.3 rcp.rn.f32 special values", opSpec{inst: "rcp.rn.f32 {d}, {a};", dst: "f32", srcs: []string{"f32"}}, []fcase{
		{[]uint64{0}, f32Inf}, {[]uint64{0x80000000}, f32NegInf},
		{[]uint64{f32Inf}, 0}, {[]uint64{f32NegInf}, 0x80000000},
		{[]uint64{f32NaN}, f32NaN},
		{[]uint64{0x7F000000}, 0x00400000}, // 1/2^127 = 2^-127, subnormal result kept
	})
	checkF32(t, "§6.4 sqrt.rn.f32 correctly rounded", opSpec{inst: "sqrt.rn.f32 {d}, {a};", dst: "f32", srcs: []string{"f32"}}, sq)
	checkF32(t, "§6.4 sqrt.rn.f32 special values table", opSpec{inst: "sqrt.rn.f32 {d}, {a};", dst: "f32", srcs: []string{"f32"}}, []fcase{
		{[]uint64{f32NegInf}, f32NaN},
		{[]uint64{f32b(-4)}, f32NaN},
		{[]uint64{0x80000000}, 0x80000000},
		{[]uint64{0}, 0},
		{[]uint64{f32Inf}, f32Inf},
		{[]uint64{f32NaN}, f32NaN},
		{[]uint64{0x80000001}, f32NaN}, // negative subnormal without .ftz
		{[]uint64{f32MinSub}, f32b(float32(math.Sqrt(math.Ldexp(1, -149))))},
	})
	checkF32(t, "§6.4 sqrt.rn.ftz.f32 flushes (negative subnormal -> -0)", opSpec{inst: "sqrt.rn.ftz.f32 {d}, {a};", dst: "f32", srcs: []string{"f32"}}, append(sqf, fcase{[]uint64{0x80000001}, 0x80000000}))
}

func TestISAFloatMinMax(t *testing.T) {
	// §6.6: one NaN -> the other input; both NaN -> NaN; -0 < +0.
	ref := func(a, b uint64, isMin bool) uint64 {
		x, y := bf32(a), bf32(b)
		xn, yn := math.IsNaN(float64(x)), math.IsNaN(float64(y))
		switch {
		case xn && yn:
			return f32NaN
		case xn:
			return b
		case yn:
			return a
		}
		if x == y { // only ±0 pairs or equal bits
			if x == 0 {
				neg := (a|b)&0x80000000 != 0
				if !isMin {
					neg = (a&b)&0x80000000 != 0
				}
				if neg {
					return 0x80000000
				}
				return 0
			}
			return a
		}
		if (x < y) == isMin {
			return a
		}
		return b
	}
	for _, isMin := range []bool{true, false} {
		name := "max"
		if isMin {
			name = "min"
		}
		var cs, csf []fcase
		for _, a := range f32Values {
			for _, b := range f32Values {
				cs = append(cs, fcase{[]uint64{a, b}, ref(a, b, isMin)})
				fa, fb := f32b(ftz32(bf32(a))), f32b(ftz32(bf32(b)))
				csf = append(csf, fcase{[]uint64{a, b}, ref(fa, fb, isMin)})
			}
		}
		checkF32(t, "§6.6 float min/max: one NaN gives the other input, -0 < +0, subnormals kept", opSpec{inst: name + ".f32 {d}, {a}, {b};", dst: "f32", srcs: []string{"f32", "f32"}}, cs)
		checkF32(t, "§6.6 .ftz flushes subnormal inputs", opSpec{inst: name + ".ftz.f32 {d}, {a}, {b};", dst: "f32", srcs: []string{"f32", "f32"}}, csf)
	}
	checkF32(t, "§6.6 signed zeros", opSpec{inst: "min.f32 {d}, {a}, {b};", dst: "f32", srcs: []string{"f32", "f32"}}, []fcase{
		{[]uint64{0, 0x80000000}, 0x80000000}, {[]uint64{0x80000000, 0}, 0x80000000},
		{[]uint64{f32NaN, f32b(1)}, f32b(1)}, {[]uint64{f32b(-3), f32NaN}, f32b(-3)},
	})
	checkF32(t, "§6.6 signed zeros", opSpec{inst: "max.f32 {d}, {a}, {b};", dst: "f32", srcs: []string{"f32", "f32"}}, []fcase{
		{[]uint64{0, 0x80000000}, 0}, {[]uint64{0x80000000, 0}, 0},
		{[]uint64{f32NaN, f32NaN}, f32NaN},
	})
	// f64 min/max: same rules.
	checkFloatRows(t, "§6.6 min/max.f64 NaN and ±0 rules", opSpec{inst: "max.f64 {d}, {a}, {b};", dst: "f64", srcs: []string{"f64", "f64"}}, []fcase{
		{[]uint64{f64b(math.NaN()), f64b(2)}, f64b(2)},
		{[]uint64{f64b(math.Copysign(0, -1)), 0}, 0},
		{[]uint64{f64b(-1), f64b(-2)}, f64b(-1)},
	}, true)
	checkFloatRows(t, "§6.6 min/max.f64 NaN and ±0 rules", opSpec{inst: "min.f64 {d}, {a}, {b};", dst: "f64", srcs: []string{"f64", "f64"}}, []fcase{
		{[]uint64{f64b(2), f64b(math.NaN())}, f64b(2)},
		{[]uint64{0, f64b(math.Copysign(0, -1))}, f64b(math.Copysign(0, -1))},
	}, true)
	nanSpec := opSpec{inst: "min.NaN.f32 {d}, {a}, {b};", dst: "f32", srcs: []string{"f32", "f32"}}
	if _, err := emuParse(opKernel(nanSpec)); err != nil {
		t.Logf("optional: %s not supported: %v", nanSpec.inst, err)
	} else {
		checkF32(t, "§6.6 .NaN: any NaN input gives NaN", nanSpec, []fcase{{[]uint64{f32NaN, f32b(1)}, f32NaN}, {[]uint64{f32b(1), f32b(2)}, f32b(1)}})
	}
}

func TestISAFloatAbsNeg(t *testing.T) {
	var ab, ng, abf, ngf []fcase
	for _, a := range f32Values {
		if isNaN32(a) {
			ab = append(ab, fcase{[]uint64{a}, f32NaN})
			ng = append(ng, fcase{[]uint64{a}, f32NaN})
			abf = append(abf, fcase{[]uint64{a}, f32NaN})
			ngf = append(ngf, fcase{[]uint64{a}, f32NaN})
			continue
		}
		ab = append(ab, fcase{[]uint64{a}, a &^ 0x80000000})
		ng = append(ng, fcase{[]uint64{a}, a ^ 0x80000000})
		fa := f32b(ftz32(bf32(a)))
		abf = append(abf, fcase{[]uint64{a}, fa &^ 0x80000000})
		ngf = append(ngf, fcase{[]uint64{a}, fa ^ 0x80000000})
	}
	// A NaN with the sign bit set: result must be NaN (payload unspecified).
	ab = append(ab, fcase{[]uint64{0xFFC00001}, f32NaN})
	ng = append(ng, fcase{[]uint64{0x7FC00001}, f32NaN})
	checkF32(t, "§6.7 abs.f32 clears the sign (|−0| = +0, subnormals kept)", opSpec{inst: "abs.f32 {d}, {a};", dst: "f32", srcs: []string{"f32"}}, ab)
	checkF32(t, "§6.7 neg.f32 flips the sign (−(+0) = −0, subnormals kept)", opSpec{inst: "neg.f32 {d}, {a};", dst: "f32", srcs: []string{"f32"}}, ng)
	checkF32(t, "§6.7 abs.ftz.f32 flushes subnormal input to same-signed zero", opSpec{inst: "abs.ftz.f32 {d}, {a};", dst: "f32", srcs: []string{"f32"}}, abf)
	checkF32(t, "§6.7 neg.ftz.f32: neg.ftz(+subnormal) = −0", opSpec{inst: "neg.ftz.f32 {d}, {a};", dst: "f32", srcs: []string{"f32"}}, ngf)
	checkExact(t, "§6.7 abs.f64 passes NaN through; clears the sign bit", opSpec{inst: "abs.f64 {d}, {a};", dst: "f64", srcs: []string{"f64"}}, []intCase{
		{[]uint64{0x7FF8000000000123}, 0x7FF8000000000123},
		{[]uint64{f64b(-2.5)}, f64b(2.5)},
		{[]uint64{0x8000000000000000}, 0},
	})
	checkExact(t, "§6.7 neg.f64 flips the sign bit", opSpec{inst: "neg.f64 {d}, {a};", dst: "f64", srcs: []string{"f64"}}, []intCase{
		{[]uint64{0}, 0x8000000000000000},
		{[]uint64{1}, 0x8000000000000001},
	})
}
