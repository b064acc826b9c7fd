package passes

import (
	"math"

	"github.com/deepc-dev/deepc/ir"
)

// scalar is the value of a `const` op, held exactly as its dtype holds it.
type scalar struct {
	dt ir.DType
	f  float64 // float dtypes, rounded to dt
	i  int64   // integer dtypes, wrapped to dt
	b  bool    // bool
}

// floatFormat describes a binary floating-point format well enough to
// round a float64 to it: mantissa bits after the point, the least normal
// exponent, and the largest finite value.
type floatFormat struct {
	mant, emin int
	max        float64
}

// floatFormats are the float dtypes constant folding handles. The fp8 types
// are left out: their arithmetic semantics (saturation, NaN on overflow) are
// the quantization passes' business, not a folder's guess.
var floatFormats = map[ir.DType]floatFormat{
	ir.F32:  {mant: 23, emin: -126, max: math.MaxFloat32},
	ir.BF16: {mant: 7, emin: -126, max: 0x1.fep127},
	ir.F16:  {mant: 10, emin: -14, max: 65504},
}

// round rounds x to the nearest value of the format, ties to even,
// overflowing to infinity, with subnormals.
func (f floatFormat) round(x float64) float64 {
	if x == 0 || math.IsNaN(x) || math.IsInf(x, 0) {
		return x
	}
	if math.Abs(x) >= 2*f.max { // beyond any rounding back to max
		return math.Copysign(math.Inf(1), x)
	}
	_, e := math.Frexp(x) // |x| in [2^(e-1), 2^e)
	q := math.Ldexp(1, max(e-1, f.emin)-f.mant)
	r := math.RoundToEven(x/q) * q
	if math.Abs(r) > f.max {
		return math.Copysign(math.Inf(1), x)
	}
	return r
}

// wrapInt wraps n to an integer dtype's width, as two's complement
// hardware does.
func wrapInt(dt ir.DType, n int64) int64 {
	if dt == ir.I32 {
		return int64(int32(n))
	}
	return n
}

// constOf reads v as a scalar if a `const` op defines it with a value of a
// kind its dtype can hold and a dtype folding supports.
func constOf(v *ir.Value) (scalar, bool) {
	if !v.Def.Is(ir.OpConst) {
		return scalar{}, false
	}
	a := v.Def.Attrs
	dt, ok := a["dtype"].(ir.DType)
	if !ok {
		return scalar{}, false
	}
	s := scalar{dt: dt}
	switch {
	case dt == ir.Bool:
		s.b, ok = a.Bool("value")
	case dt.IsInt():
		s.i, ok = a.Int("value")
		s.i = wrapInt(dt, s.i)
	default:
		var f floatFormat
		if f, ok = floatFormats[dt]; ok {
			s.f, ok = a.Float("value")
			s.f = f.round(s.f)
		}
	}
	return s, ok
}

// floatScalar makes a float scalar of dtype dt from x, rounded.
func floatScalar(dt ir.DType, x float64) scalar {
	return scalar{dt: dt, f: floatFormats[dt].round(x)}
}

// attrs are the attributes of a const op holding s.
func (s scalar) attrs() ir.Attrs {
	var v any
	switch {
	case s.dt == ir.Bool:
		v = s.b
	case s.dt.IsInt():
		v = s.i
	default:
		v = s.f
	}
	return ir.Attrs{"dtype": s.dt, "value": v}
}

// emitConst materialises s as a const op before the op being rewritten.
func emitConst(b *ir.Builder, s scalar) *ir.Value {
	return b.EmitTyped(ir.OpConst.Name, nil, s.attrs(), []ir.Type{{Shape: ir.Shape{}, DType: s.dt}})[0]
}
