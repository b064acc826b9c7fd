package emu_test

// Approximate float instructions against their ISA error bounds (docs/ptx-isa-notes.md §6.5).

import (
	"fmt"
	"math"
	"math/rand"
	"testing"
)

// ---- §6.5 approximate transcendentals ------------------------------------------

type approxCheck struct {
	spec  opSpec
	in    []uint64
	check func(x float32, got uint32) string // "" if OK
}

func runApprox(t *testing.T, c approxCheck) {
	t.Helper()
	rows := make([][]uint64, len(c.in))
	for i, v := range c.in {
		rows[i] = []uint64{v}
	}
	got := runOp(t, c.spec, rows)
	if got == nil {
		return
	}
	bad := 0
	for i, v := range c.in {
		if msg := c.check(bf32(v), uint32(got[i][0])); msg != "" {
			bad++
			if bad <= 20 {
				t.Errorf("%s input %#x (%g): %s", c.spec.inst, v, bf32(v), msg)
			}
		}
	}
	if bad > 20 {
		t.Errorf("%s: %d inputs out of bound in all", c.spec.inst, bad)
	}
}

func specialF32(x float32, got uint32, want uint64) string {
	if isNaN32(want) {
		if !isNaN32(uint64(got)) {
			return fmt.Sprintf("[§6.5 special value] want NaN, got %#x (%g)", got, math.Float32frombits(got))
		}
		return ""
	}
	if uint64(got) != want {
		return fmt.Sprintf("[§6.5 special value] want %#x (%g), got %#x (%g)", want, bf32(want), got, math.Float32frombits(got))
	}
	return ""
}

func TestISAFloatApprox(t *testing.T) {
	rng := rand.New(rand.NewSource(11))
	unary := func(name string) opSpec {
		return opSpec{inst: name + " {d}, {a};", dst: "f32", srcs: []string{"f32"}}
	}

	// ex2: ≤ 2 ulp from the correctly rounded result, full range.
	var exIn []uint64
	for i := 0; i < 400; i++ {
		exIn = append(exIn, f32b(float32(rng.Float64()*270-145)))
	}
	exIn = append(exIn, f32b(-140), f32b(-126), f32b(-149), f32b(127.5), f32b(0.5), f32b(-0.5), f32b(1), f32b(10))
	exSpecial := map[uint64]uint64{f32NegInf: 0, 0: 0x3F800000, 0x80000000: 0x3F800000, f32Inf: f32Inf, f32NaN: f32NaN}
	exIn = append(exIn, f32NegInf, 0, 0x80000000, f32Inf, f32NaN)
	ex2Check := func(ftz bool) func(x float32, got uint32) string {
		return func(x float32, got uint32) string {
			xb := uint64(math.Float32bits(x))
			if w, ok := exSpecial[xb]; ok {
				return specialF32(x, got, w)
			}
			cr := math.Float32bits(float32(math.Exp2(float64(x))))
			if ftz && cr&0x7F800000 == 0 {
				if got != 0 {
					return fmt.Sprintf("[§6.5 ex2.approx.ftz flushes a subnormal result to +0] got %#x", got)
				}
				return ""
			}
			if d := ulpDiff32(got, cr); d > 2 || isNaN32(uint64(got)) {
				return fmt.Sprintf("[§6.5 ex2.approx ≤ 2 ulp over the full range] correctly rounded %#x (%g), got %#x (%g), %d ulp", cr, math.Float32frombits(cr), got, math.Float32frombits(got), d)
			}
			return ""
		}
	}
	runApprox(t, approxCheck{unary("ex2.approx.f32"), exIn, ex2Check(false)})
	runApprox(t, approxCheck{unary("ex2.approx.ftz.f32"), exIn, ex2Check(true)})
	runApprox(t, approxCheck{unary("ex2.approx.ftz.f32"), []uint64{f32MinSub, 0x80000001, f32MaxSub}, func(x float32, got uint32) string {
		return specialF32(x, got, 0x3F800000) // a subnormal input is treated as ±0 -> 1.0
	}})

	// lg2: abs err ≤ 2^-22 on (0.5, 2), rel ≤ 2^-22 elsewhere (positive finite).
	var lgIn []uint64
	for i := 0; i < 300; i++ {
		lgIn = append(lgIn, f32b(float32(math.Ldexp(1+rng.Float64(), rng.Intn(250)-125))))
	}
	for i := 0; i < 100; i++ {
		lgIn = append(lgIn, f32b(float32(0.5+1.5*rng.Float64())))
	}
	lgIn = append(lgIn, f32b(1), f32b(0.5000001), f32b(1.9999999), f32MinSub, f32MaxSub, 0x00012345, 0x7F7FFFFF)
	lgSpecial := map[uint64]uint64{f32NegInf: f32NaN, f32b(-1): f32NaN, f32b(-1e-3): f32NaN, 0: f32NegInf, 0x80000000: f32NegInf, f32Inf: f32Inf, f32NaN: f32NaN}
	lgIn = append(lgIn, f32NegInf, f32b(-1), f32b(-1e-3), 0, 0x80000000, f32Inf, f32NaN)
	lg2Check := func(ftz bool) func(x float32, got uint32) string {
		return func(x float32, got uint32) string {
			xb := uint64(math.Float32bits(x))
			if w, ok := lgSpecial[xb]; ok {
				return specialF32(x, got, w)
			}
			if ftz && xb&0x7F800000 == 0 {
				return specialF32(x, got, f32NegInf) // flushed to +0 -> -Inf
			}
			ref := math.Log2(float64(x))
			g := float64(math.Float32frombits(got))
			if x > 0.5 && x < 2 {
				if !(math.Abs(g-ref) <= math.Ldexp(1, -22)) {
					return fmt.Sprintf("[§6.5 lg2.approx abs err ≤ 2^-22 on (0.5,2)] ref %.10g got %.10g err %.3g", ref, g, math.Abs(g-ref))
				}
				return ""
			}
			if !(math.Abs(g-ref) <= math.Ldexp(1, -22)*math.Abs(ref)) {
				return fmt.Sprintf("[§6.5 lg2.approx rel err ≤ 2^-22 outside (0.5,2)] ref %.10g got %.10g rel %.3g", ref, g, math.Abs(g-ref)/math.Abs(ref))
			}
			return ""
		}
	}
	runApprox(t, approxCheck{unary("lg2.approx.f32"), lgIn, lg2Check(false)})
	runApprox(t, approxCheck{unary("lg2.approx.ftz.f32"), lgIn, lg2Check(true)})

	// rsqrt: rel ≤ 2^-22.9 on the positive finite range.
	var rsIn []uint64
	for i := 0; i < 300; i++ {
		rsIn = append(rsIn, f32b(float32(math.Ldexp(1+rng.Float64(), rng.Intn(252)-126))))
	}
	rsIn = append(rsIn, f32b(1), f32b(4), f32MinSub, f32MaxSub, 0x7F7FFFFF)
	rsSpecial := map[uint64]uint64{f32NegInf: f32NaN, f32b(-4): f32NaN, 0x80000000: f32NegInf, 0: f32Inf, f32Inf: 0, f32NaN: f32NaN}
	rsIn = append(rsIn, f32NegInf, f32b(-4), 0x80000000, 0, f32Inf, f32NaN)
	runApprox(t, approxCheck{unary("rsqrt.approx.f32"), rsIn, func(x float32, got uint32) string {
		xb := uint64(math.Float32bits(x))
		if w, ok := rsSpecial[xb]; ok {
			return specialF32(x, got, w)
		}
		ref := 1 / math.Sqrt(float64(x))
		g := float64(math.Float32frombits(got))
		if !(math.Abs(g-ref) <= math.Pow(2, -22.9)*ref) {
			return fmt.Sprintf("[§6.5 rsqrt.approx rel err ≤ 2^-22.9] ref %.10g got %.10g rel %.3g", ref, g, math.Abs(g-ref)/ref)
		}
		return ""
	}})

	// sin / cos: abs ≤ 2^-20.5 on [-2π, 2π]; ≤ 2^-14.7 on [-100π, 100π].
	var scIn []uint64
	for i := 0; i < 300; i++ {
		scIn = append(scIn, f32b(float32((rng.Float64()*2-1)*2*math.Pi)))
	}
	for i := 0; i < 150; i++ {
		scIn = append(scIn, f32b(float32((rng.Float64()*2-1)*100*math.Pi)))
	}
	scIn = append(scIn, f32b(float32(math.Pi)), f32b(float32(math.Pi/2)), f32b(1e-30), f32MinSub)
	trig := func(name string, f func(float64) float64, special map[uint64]uint64) {
		in := append(append([]uint64{}, scIn...), f32Inf, f32NegInf, f32NaN, 0, 0x80000000)
		runApprox(t, approxCheck{unary(name), in, func(x float32, got uint32) string {
			xb := uint64(math.Float32bits(x))
			if w, ok := special[xb]; ok {
				return specialF32(x, got, w)
			}
			ref := f(float64(x))
			g := float64(math.Float32frombits(got))
			bound := math.Pow(2, -20.5)
			if math.Abs(float64(x)) > 2*math.Pi {
				bound = math.Pow(2, -14.7)
			}
			if !(math.Abs(g-ref) <= bound) {
				return fmt.Sprintf("[§6.5 %s abs err ≤ %.3g in its range] ref %.10g got %.10g err %.3g", name, bound, ref, g, math.Abs(g-ref))
			}
			return ""
		}})
	}
	trig("sin.approx.f32", math.Sin, map[uint64]uint64{f32Inf: f32NaN, f32NegInf: f32NaN, f32NaN: f32NaN, 0: 0, 0x80000000: 0x80000000})
	trig("cos.approx.f32", math.Cos, map[uint64]uint64{f32Inf: f32NaN, f32NegInf: f32NaN, f32NaN: f32NaN, 0: 0x3F800000, 0x80000000: 0x3F800000})
}

// ---- §3.1 setp on floats -----------------------------------------------------

func TestISAFloatSetp(t *testing.T) {
	type cmp func(a, b float64) bool
	ordered := map[string]cmp{
		"eq": func(a, b float64) bool { return a == b },
		"ne": func(a, b float64) bool { return a != b },
		"lt": func(a, b float64) bool { return a < b },
		"le": func(a, b float64) bool { return a <= b },
		"gt": func(a, b float64) bool { return a > b },
		"ge": func(a, b float64) bool { return a >= b },
	}
	ops := []string{"eq", "ne", "lt", "le", "gt", "ge", "equ", "neu", "ltu", "leu", "gtu", "geu", "num", "nan"}
	eval := func(op string, a, b float64) bool {
		anyNaN := math.IsNaN(a) || math.IsNaN(b)
		switch op {
		case "num":
			return !anyNaN
		case "nan":
			return anyNaN
		}
		if f, ok := ordered[op]; ok {
			return !anyNaN && f(a, b)
		}
		base := op[:2]
		return anyNaN || ordered[base](a, b)
	}
	for _, ftz := range []bool{false, true} {
		for _, op := range ops {
			var cs []intCase
			for _, a := range f32Values {
				for _, b := range f32Values {
					x, y := bf32(a), bf32(b)
					if ftz {
						x, y = ftz32(x), ftz32(y)
					}
					var w uint64
					if eval(op, float64(x), float64(y)) {
						w = 1
					}
					cs = append(cs, intCase{[]uint64{a, b}, w})
				}
			}
			mod, rule := "", "§3.1 float setp: ordered ops false on NaN (ne too), unordered (…u) true on NaN, +0 == -0, subnormals exact"
			if ftz {
				mod, rule = ".ftz", "§3.1 setp .ftz flushes subnormal inputs before comparing"
			}
			checkExact(t, rule, opSpec{inst: "setp." + op + mod + ".f32 {d}, {a}, {b};", dst: "pred", srcs: []string{"f32", "f32"}}, cs)
		}
	}
	// f64
	nan := f64b(math.NaN())
	checkExact(t, "§3.1 setp.ne.f64 false on NaN", opSpec{inst: "setp.ne.f64 {d}, {a}, {b};", dst: "pred", srcs: []string{"f64", "f64"}}, []intCase{
		{[]uint64{nan, f64b(1)}, 0}, {[]uint64{f64b(1), f64b(2)}, 1}, {[]uint64{0, 0x8000000000000000}, 0},
	})
	checkExact(t, "§3.1 setp.neu.f64 true on NaN", opSpec{inst: "setp.neu.f64 {d}, {a}, {b};", dst: "pred", srcs: []string{"f64", "f64"}}, []intCase{
		{[]uint64{nan, f64b(1)}, 1}, {[]uint64{f64b(1), f64b(1)}, 0},
	})
}

// TestISAFloatApproxArith: rcp.approx.f32 (≤ 1 ulp), div.approx.f32 (≤ 2 ulp
// for |b| in [2^-126, 2^126]), div.full.f32 (≤ 2 ulp) and sqrt.approx.f32
// (relative error ≤ 2^-23) stay within their ISA bounds (notes §6.2 – §6.4).
func TestISAFloatApproxArith(t *testing.T) {
	rng := rand.New(rand.NewSource(17))
	var un []uint64
	var bin [][]uint64
	for i := 0; i < 300; i++ {
		x := f32b(float32(math.Ldexp(1+rng.Float64(), rng.Intn(250)-125)))
		y := f32b(float32(math.Ldexp(1+rng.Float64(), rng.Intn(250)-125)))
		un = append(un, x)
		bin = append(bin, []uint64{x | uint64(rng.Intn(2))<<31, y | uint64(rng.Intn(2))<<31})
	}
	within := func(rule string, got, cr uint32, ulps int64) string {
		if d := ulpDiff32(got, cr); d > ulps || isNaN32(uint64(got)) {
			return fmt.Sprintf("[%s] correctly rounded %#x, got %#x, %d ulp", rule, cr, got, d)
		}
		return ""
	}
	unary := func(name string) opSpec {
		return opSpec{inst: name + " {d}, {a};", dst: "f32", srcs: []string{"f32"}}
	}
	runApprox(t, approxCheck{unary("rcp.approx.f32"), un, func(x float32, got uint32) string {
		return within("§6.3 rcp.approx.f32 ≤ 1 ulp", got, math.Float32bits(1/x), 1)
	}})
	runApprox(t, approxCheck{unary("sqrt.approx.f32"), un, func(x float32, got uint32) string {
		ref := math.Sqrt(float64(x))
		g := float64(math.Float32frombits(got))
		if !(math.Abs(g-ref) <= math.Ldexp(ref, -23)) {
			return fmt.Sprintf("[§6.4 sqrt.approx.f32 rel err ≤ 2^-23] ref %.10g got %.10g", ref, g)
		}
		return ""
	}})
	for _, name := range []string{"div.approx.f32", "div.full.f32"} {
		spec := opSpec{inst: name + " {d}, {a}, {b};", dst: "f32", srcs: []string{"f32", "f32"}}
		got := runOp(t, spec, bin)
		if got == nil {
			continue
		}
		for i, r := range bin {
			cr := math.Float32bits(bf32(r[0]) / bf32(r[1]))
			if msg := within("§6.2 "+name+" ≤ 2 ulp", uint32(got[i][0]), cr, 2); msg != "" {
				t.Errorf("%s %g / %g: %s", name, bf32(r[0]), bf32(r[1]), msg)
			}
		}
	}
}
