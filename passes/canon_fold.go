package passes

import (
	"cmp"
	"math"

	"github.com/deepc-dev/deepc/ir"
)

// Constant folding of scalar `const` arithmetic. Only operations whose
// result is exactly specified are folded: +, -, *, /, sqrt, comparisons and
// conversions are correctly rounded in IEEE arithmetic, so the folded value
// is bit-identical to what the CPU and GPU backends compute. exp, log, pow
// and the like are not: libm results differ by an ulp between Go and CUDA,
// and folding them would make a compiled program disagree with its reference.
//
// Floats are computed in float64 and rounded to the dtype. For + - * / and
// sqrt on f32 (or narrower) operands that equals the correctly rounded
// result in the dtype, since float64 has more than 2p+2 bits (no double
// rounding harm).

// floatUnary and intUnary fold one-operand ops; false means "do not fold".
var floatUnary = map[*ir.OpDef]func(x float64) (float64, bool){
	ir.OpNeg:  func(x float64) (float64, bool) { return -x, true },
	ir.OpAbs:  func(x float64) (float64, bool) { return math.Abs(x), true },
	ir.OpSqrt: func(x float64) (float64, bool) { return math.Sqrt(x), true },
	// sign of ±0 and NaN varies between libraries; fold only clear cases.
	ir.OpSign: func(x float64) (float64, bool) {
		if x == 0 || math.IsNaN(x) {
			return 0, false
		}
		return math.Copysign(1, x), true
	},
}

var intUnary = map[*ir.OpDef]func(x int64) (int64, bool){
	ir.OpNeg: func(x int64) (int64, bool) { return -x, true },
	ir.OpAbs: func(x int64) (int64, bool) {
		if x < 0 {
			return -x, true
		}
		return x, true
	},
	ir.OpSign: func(x int64) (int64, bool) { return int64(cmp.Compare(x, 0)), true },
}

var floatBinary = map[*ir.OpDef]func(x, y float64) (float64, bool){
	ir.OpAdd: func(x, y float64) (float64, bool) { return x + y, true },
	ir.OpSub: func(x, y float64) (float64, bool) { return x - y, true },
	ir.OpMul: func(x, y float64) (float64, bool) { return x * y, true },
	ir.OpDiv: func(x, y float64) (float64, bool) { return x / y, true },
	// maximum/minimum disagree between libraries on NaN and on ±0.
	ir.OpMaximum: func(x, y float64) (float64, bool) { return math.Max(x, y), plainPair(x, y) },
	ir.OpMinimum: func(x, y float64) (float64, bool) { return math.Min(x, y), plainPair(x, y) },
}

// plainPair reports operands on which every max/min convention agrees.
func plainPair(x, y float64) bool {
	return !math.IsNaN(x) && !math.IsNaN(y) && !(x == 0 && y == 0)
}

var intBinary = map[*ir.OpDef]func(x, y int64) (int64, bool){
	ir.OpAdd: func(x, y int64) (int64, bool) { return x + y, true },
	ir.OpSub: func(x, y int64) (int64, bool) { return x - y, true },
	ir.OpMul: func(x, y int64) (int64, bool) { return x * y, true },
	// Division truncates toward zero, as in C, CUDA and Go; x/0 is left to
	// fail (or not) at run time.
	ir.OpDiv: func(x, y int64) (int64, bool) {
		if y == 0 {
			return 0, false
		}
		return x / y, true
	},
	ir.OpMaximum: func(x, y int64) (int64, bool) { return max(x, y), true },
	ir.OpMinimum: func(x, y int64) (int64, bool) { return min(x, y), true },
}

// comparisons builds the comparison table for an ordered type; Go's float
// comparisons are IEEE's (NaN compares unequal and unordered).
func comparisons[T cmp.Ordered]() map[*ir.OpDef]func(x, y T) bool {
	return map[*ir.OpDef]func(x, y T) bool{
		ir.OpEq: func(x, y T) bool { return x == y },
		ir.OpNe: func(x, y T) bool { return x != y },
		ir.OpLt: func(x, y T) bool { return x < y },
		ir.OpLe: func(x, y T) bool { return x <= y },
		ir.OpGt: func(x, y T) bool { return x > y },
		ir.OpGe: func(x, y T) bool { return x >= y },
	}
}

var (
	floatCompare = comparisons[float64]()
	intCompare   = comparisons[int64]()
	boolCompare  = map[*ir.OpDef]func(x, y bool) bool{
		ir.OpEq: func(x, y bool) bool { return x == y },
		ir.OpNe: func(x, y bool) bool { return x != y },
	}
)

func foldUnary(rw *ir.Rewriter, m *ir.Match) *ir.Value {
	op := m.Root
	x, ok := constOf(op.Args[0])
	if !ok {
		return nil
	}
	switch {
	case x.dt.IsInt():
		if fn, ok := intUnary[op.Def()]; ok {
			if r, ok := fn(x.i); ok {
				return emitConst(rw.Builder, scalar{dt: x.dt, i: wrapInt(x.dt, r)})
			}
		}
	case x.dt != ir.Bool:
		if fn, ok := floatUnary[op.Def()]; ok {
			if r, ok := fn(x.f); ok {
				return emitConst(rw.Builder, floatScalar(x.dt, r))
			}
		}
	}
	return nil
}

// constPair reads both operands of a binary op as constants of one dtype.
func constPair(op *ir.Op) (x, y scalar, ok bool) {
	x, okx := constOf(op.Args[0])
	y, oky := constOf(op.Args[1])
	return x, y, okx && oky && x.dt == y.dt
}

func foldBinary(rw *ir.Rewriter, m *ir.Match) *ir.Value {
	op := m.Root
	x, y, ok := constPair(op)
	if !ok {
		return nil
	}
	switch {
	case x.dt.IsInt():
		if r, ok := intBinary[op.Def()](x.i, y.i); ok {
			return emitConst(rw.Builder, scalar{dt: x.dt, i: wrapInt(x.dt, r)})
		}
	case x.dt != ir.Bool:
		if r, ok := floatBinary[op.Def()](x.f, y.f); ok {
			return emitConst(rw.Builder, floatScalar(x.dt, r))
		}
	}
	return nil
}

func foldCompare(rw *ir.Rewriter, m *ir.Match) *ir.Value {
	op := m.Root
	x, y, ok := constPair(op)
	if !ok {
		return nil
	}
	var r bool
	switch {
	case x.dt == ir.Bool:
		fn, ok := boolCompare[op.Def()]
		if !ok {
			return nil
		}
		r = fn(x.b, y.b)
	case x.dt.IsInt():
		r = intCompare[op.Def()](x.i, y.i)
	default:
		r = floatCompare[op.Def()](x.f, y.f)
	}
	return emitConst(rw.Builder, scalar{dt: ir.Bool, b: r})
}

// maxExactInt is the largest integer magnitude float64 holds exactly;
// converting a larger one would round twice.
const maxExactInt = 1 << 53

// foldCast converts a constant where the conversion is unambiguous: between
// floats, integer to float, integer to integer (wrapping) and bool to a
// number. Float to integer (truncate or round?) and anything to bool are
// left to the backends.
func foldCast(rw *ir.Rewriter, m *ir.Match) *ir.Value {
	op := m.Root
	x, ok := constOf(op.Args[0])
	to, ok2 := op.Attrs["dtype"].(ir.DType)
	if !ok || !ok2 {
		return nil
	}
	_, toFloat := floatFormats[to]
	switch {
	case x.dt == ir.Bool && (toFloat || to.IsInt()):
		n := int64(0)
		if x.b {
			n = 1
		}
		if toFloat {
			return emitConst(rw.Builder, floatScalar(to, float64(n)))
		}
		return emitConst(rw.Builder, scalar{dt: to, i: n})
	case x.dt.IsInt() && to.IsInt():
		return emitConst(rw.Builder, scalar{dt: to, i: wrapInt(to, x.i)})
	case x.dt.IsInt() && toFloat && x.i <= maxExactInt && x.i >= -maxExactInt:
		return emitConst(rw.Builder, floatScalar(to, float64(x.i)))
	case x.dt != ir.Bool && !x.dt.IsInt() && toFloat:
		return emitConst(rw.Builder, floatScalar(to, x.f))
	}
	return nil
}
