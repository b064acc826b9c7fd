package emu

import (
	"fmt"
	"math"
)

// Floating-point instructions (docs/ptx-isa-notes.md, "Floating point").
// f32 arithmetic rounds each operation to f32 (Go's float32 operations,
// one per statement, so nothing fuses); .ftz flushes subnormal inputs and
// results to signed zero; NaN results are the canonical NaN. The .approx
// functions are computed in f64 and rounded: within the ISA's error bound,
// not the hardware's exact bits (the bounds are in the notes; tolerances
// that meet a GPU's results use them).

func init() {
	builders["fma"] = buildFma
	for _, n := range []string{"rcp", "sqrt", "rsqrt", "ex2", "lg2", "sin", "cos", "tanh"} {
		builders[n] = buildFloatUnary
	}
}

// f32op wraps an f32 function of register bits with .ftz handling.
func f32op1(ftz bool, f func(a float32) float32) func(a uint64) uint64 {
	return func(a uint64) uint64 {
		x := f32frombits(uint32(a))
		if ftz {
			x = ftz32(x)
		}
		r := f(x)
		if ftz {
			r = ftz32(r)
		}
		return res32(r)
	}
}

func f32op2(ftz bool, f func(a, b float32) float32) func(a, b uint64) uint64 {
	return func(a, b uint64) uint64 {
		x, y := f32frombits(uint32(a)), f32frombits(uint32(b))
		if ftz {
			x, y = ftz32(x), ftz32(y)
		}
		r := f(x, y)
		if ftz {
			r = ftz32(r)
		}
		return res32(r)
	}
}

// f64op2: double precision propagates a NaN operand's payload (quieted);
// a NaN made from numbers is the canonical NaN.
func f64op2(f func(a, b float64) float64) func(a, b uint64) uint64 {
	return func(a, b uint64) uint64 {
		x, y := f64frombits(a), f64frombits(b)
		switch {
		case x != x:
			return a | 1<<51
		case y != y:
			return b | 1<<51
		}
		return res64(f(x, y))
	}
}

// rounding returns the one rounding modifier of o (default rn) and
// refuses the directed modes the emulator does not implement for op.
func rounding(o *opc, allowed ...string) (string, error) {
	r := ""
	for _, m := range []string{"rn", "rz", "rm", "rp"} {
		if o.has(m) {
			if r != "" {
				return "", fmt.Errorf("two rounding modifiers")
			}
			r = m
		}
	}
	if r == "" {
		return "rn", nil
	}
	for _, a := range allowed {
		if a == r {
			return r, nil
		}
	}
	return "", fmt.Errorf("rounding .%s is not implemented", r)
}

func floatArith(name string, d *decoder, in *inst, o *opc, args []string) error {
	t := o.types[0]
	if t != tF32 && t != tF64 {
		return fmt.Errorf("type .%s is not implemented", t)
	}
	if err := o.only("rn", "ftz", "approx", "full"); err != nil {
		return err
	}
	if _, err := rounding(o, "rn"); err != nil {
		return err
	}
	ftz := o.has("ftz")
	if t == tF64 && (ftz || o.has("approx") || o.has("full")) {
		return fmt.Errorf("f64 takes no .ftz/.approx")
	}
	// div.approx.f32 and div.full.f32 are within 2 ulp (ISA); the emulator
	// gives the correctly rounded quotient, which is within the bound.
	if (o.has("approx") || o.has("full")) && name != "div" {
		return fmt.Errorf(".approx is only for div")
	}
	n := 2
	if name == "neg" || name == "abs" {
		n = 1
	}
	if name == "rem" {
		return fmt.Errorf("rem takes integers")
	}
	if err := d.simple(in, args, n, t); err != nil {
		return err
	}
	if t == tF64 {
		switch name {
		case "add":
			in.exec = binop(f64op2(func(a, b float64) float64 { return a + b }))
		case "sub":
			in.exec = binop(f64op2(func(a, b float64) float64 { return a - b }))
		case "mul":
			in.exec = binop(f64op2(func(a, b float64) float64 { return a * b }))
		case "div":
			in.exec = binop(f64op2(func(a, b float64) float64 { return a / b }))
		case "min":
			in.exec = binop(func(a, b uint64) uint64 { return res64(fmin64(f64frombits(a), f64frombits(b))) })
		case "max":
			in.exec = binop(func(a, b uint64) uint64 { return res64(fmax64(f64frombits(a), f64frombits(b))) })
		case "neg":
			in.exec = unary(func(a uint64) uint64 { return a ^ 1<<63 })
		case "abs":
			in.exec = unary(func(a uint64) uint64 { return a &^ (1 << 63) })
		}
		return nil
	}
	switch name {
	case "add":
		in.exec = binop(f32op2(ftz, func(a, b float32) float32 { return a + b }))
	case "sub":
		in.exec = binop(f32op2(ftz, func(a, b float32) float32 { return a - b }))
	case "mul":
		in.exec = binop(f32op2(ftz, func(a, b float32) float32 { return a * b }))
	case "div":
		in.exec = binop(f32op2(ftz, func(a, b float32) float32 { return a / b }))
	case "min":
		in.exec = binop(f32op2(ftz, func(a, b float32) float32 { return float32(fmin64(float64(a), float64(b))) }))
	case "max":
		in.exec = binop(f32op2(ftz, func(a, b float32) float32 { return float32(fmax64(float64(a), float64(b))) }))
	case "neg": // a sign flip, NaN included
		in.exec = unary(func(a uint64) uint64 {
			x := uint32(a)
			if ftz && x&0x7f800000 == 0 {
				x &= 0x80000000
			}
			return uint64(x ^ 0x80000000)
		})
	case "abs":
		in.exec = unary(func(a uint64) uint64 {
			x := uint32(a)
			if ftz && x&0x7f800000 == 0 {
				x &= 0x80000000
			}
			return uint64(x &^ 0x80000000)
		})
	}
	return nil
}

// fmin64/fmax64: a NaN operand yields the other operand (NaN only when
// both are); -0 is less than +0.
func fmin64(a, b float64) float64 {
	switch {
	case a != a && b != b:
		return math.NaN()
	case a != a:
		return b
	case b != b:
		return a
	case a == b:
		if math.Signbit(a) {
			return a
		}
		return b
	case a < b:
		return a
	}
	return b
}

// fmax64 mirrors fmin64 through negation, which keeps payloads of the
// non-NaN operand and orders -0 below +0 the same way.
func fmax64(a, b float64) float64 {
	if a != a && b != b {
		return math.NaN()
	}
	return -fmin64(-a, -b)
}

// buildFma: fma.rn.f32/f64 d = a*b + c rounded once.
func buildFma(d *decoder, in *inst, o *opc, args []string) error {
	t, err := oneType(o, tF32, tF64)
	if err != nil {
		return err
	}
	if err := o.only("rn", "ftz"); err != nil || !o.has("rn") {
		return fmt.Errorf("only fma.rn is implemented")
	}
	if err := d.simple(in, args, 3, t); err != nil {
		return err
	}
	ftz := o.has("ftz")
	if t == tF64 {
		in.exec = ternary(func(a, b, c uint64) uint64 {
			return res64(math.FMA(f64frombits(a), f64frombits(b), f64frombits(c)))
		})
		return nil
	}
	in.exec = ternary(func(a, b, c uint64) uint64 {
		x, y, z := f32frombits(uint32(a)), f32frombits(uint32(b)), f32frombits(uint32(c))
		if ftz {
			x, y, z = ftz32(x), ftz32(y), ftz32(z)
		}
		r := fma32(x, y, z)
		if ftz {
			r = ftz32(r)
		}
		return res32(r)
	})
	return nil
}

// fma32 is a*b+c rounded once to f32. The product is exact in f64; the
// sum in f64 is rounded once more, so when it is inexact the result is
// nudged to odd (round-to-odd) before the final rounding, which makes the
// double rounding correct.
func fma32(a, b, c float32) float32 {
	p := float64(a) * float64(b)
	s := p + float64(c)
	if math.IsInf(s, 0) || s != s || s == 0 {
		return float32(s)
	}
	// The error of the f64 sum (TwoSum) says whether s is exact.
	bb := s - p
	err := (p - (s - bb)) + (float64(c) - bb)
	if err != 0 {
		bitsS := math.Float64bits(s)
		if bitsS&1 == 0 {
			if (err > 0) == (s > 0) {
				bitsS++
			} else {
				bitsS--
			}
		}
		s = math.Float64frombits(bitsS)
	}
	return float32(s)
}

// buildFloatUnary: rcp, sqrt (.rn: IEEE), rsqrt, ex2, lg2, sin, cos, tanh
// (.approx: within the ISA's bounds).
func buildFloatUnary(d *decoder, in *inst, o *opc, args []string) error {
	t, err := oneType(o, tF32, tF64)
	if err != nil {
		return err
	}
	if err := o.only("rn", "approx", "ftz"); err != nil {
		return err
	}
	exact := o.base == "rcp" || o.base == "sqrt"
	if exact && !o.has("rn") && !o.has("approx") {
		return fmt.Errorf("%s needs .rn or .approx", o.base)
	}
	if !exact && !o.has("approx") {
		return fmt.Errorf("%s needs .approx", o.base)
	}
	if o.has("approx") && exact && t != tF32 {
		return fmt.Errorf("%s.approx.%s is not implemented", o.base, t)
	}
	if t == tF64 && !(o.base == "rcp" || o.base == "sqrt") {
		return fmt.Errorf("%s.f64 is not implemented", o.base)
	}
	if err := d.simple(in, args, 1, t); err != nil {
		return err
	}
	ftz := o.has("ftz")
	if t == tF64 {
		switch o.base {
		case "rcp":
			in.exec = unary(func(a uint64) uint64 { return res64(1 / f64frombits(a)) })
		case "sqrt":
			in.exec = unary(func(a uint64) uint64 { return res64(math.Sqrt(f64frombits(a))) })
		}
		return nil
	}
	var f func(x float32) float32
	switch o.base {
	case "rcp":
		f = func(x float32) float32 { return 1 / x }
	case "sqrt":
		// f64 has more than twice f32's precision, so rounding the f64
		// root to f32 is correctly rounded.
		f = func(x float32) float32 { return float32(math.Sqrt(float64(x))) }
	case "rsqrt":
		f = func(x float32) float32 { return float32(1 / math.Sqrt(float64(x))) }
	case "ex2":
		f = func(x float32) float32 { return float32(math.Exp2(float64(x))) }
	case "lg2":
		f = func(x float32) float32 { return float32(math.Log2(float64(x))) }
	case "sin":
		f = func(x float32) float32 { return float32(math.Sin(float64(x))) }
	case "cos":
		f = func(x float32) float32 { return float32(math.Cos(float64(x))) }
	case "tanh":
		f = func(x float32) float32 { return float32(math.Tanh(float64(x))) }
	}
	in.exec = unary(f32op1(ftz, f))
	return nil
}

// floatCompare: ordered comparisons are false when either operand is NaN;
// the u forms (equ, neu, ...) are true then; num and nan test for NaN.
func floatCompare(cmp string, t ptype, ftz bool) (func(a, b uint64) bool, error) {
	get := func(a uint64) float64 {
		if t == tF64 {
			return f64frombits(a)
		}
		x := f32frombits(uint32(a))
		if ftz {
			x = ftz32(x)
		}
		return float64(x)
	}
	if t != tF32 && t != tF64 {
		return nil, fmt.Errorf("comparison of .%s is not implemented", t)
	}
	var rel func(x, y float64) bool
	base := cmp
	unordered := false
	if len(cmp) == 3 && cmp[2] == 'u' {
		base, unordered = cmp[:2], true
	}
	switch base {
	case "eq":
		rel = func(x, y float64) bool { return x == y }
	case "ne":
		rel = func(x, y float64) bool { return x != y }
	case "lt":
		rel = func(x, y float64) bool { return x < y }
	case "le":
		rel = func(x, y float64) bool { return x <= y }
	case "gt":
		rel = func(x, y float64) bool { return x > y }
	case "ge":
		rel = func(x, y float64) bool { return x >= y }
	case "num":
		return func(a, b uint64) bool { x, y := get(a), get(b); return x == x && y == y }, nil
	case "nan":
		return func(a, b uint64) bool { x, y := get(a), get(b); return x != x || y != y }, nil
	default:
		return nil, fmt.Errorf("comparison .%s is not defined for floats", cmp)
	}
	return func(a, b uint64) bool {
		x, y := get(a), get(b)
		if x != x || y != y {
			return unordered
		}
		return rel(x, y)
	}, nil
}
