package dsl

import (
	"cmp"
	"math"
	"math/bits"

	"github.com/alecthomas/participle/v2/lexer"
	"github.com/deepc-dev/deepc/ir"
)

// tensorOps maps an operator to the op it builds when a tensor is involved.
var tensorOps = map[string]*ir.OpDef{
	"+": ir.OpAdd, "-": ir.OpSub, "*": ir.OpMul, "/": ir.OpDiv, "**": ir.OpPow,
	"==": ir.OpEq, "!=": ir.OpNe, "<": ir.OpLt, "<=": ir.OpLe, ">": ir.OpGt, ">=": ir.OpGe,
}

// binary applies an operator: on tensors it builds an op (a scalar operand
// becomes a constant of the tensor's dtype); otherwise it computes now.
func (c *compiler) binary(op string, l, r any, pos lexer.Position) any {
	lt, lok := l.(*ir.Value)
	rt, rok := r.(*ir.Value)
	if lok || rok {
		d, ok := tensorOps[op]
		if !ok {
			c.errorf(pos, "operator %s does not apply to tensors", op)
		}
		if !lok {
			lt = c.scalar(l, rt.Type.DType, pos)
		}
		if !rok {
			rt = c.scalar(r, lt.Type.DType, pos)
		}
		return c.emit1(pos, d, []*ir.Value{lt, rt}, nil)
	}
	if x, ok := l.(string); ok {
		if y, ok := r.(string); ok {
			c.charge(len(x)+len(y), pos) // +, == and < go through both
		}
	}
	switch op {
	case "==":
		return c.equal(l, r, pos)
	case "!=":
		return !c.equal(l, r, pos)
	}
	switch x := l.(type) {
	case int64:
		switch y := r.(type) {
		case int64:
			return c.intOp(op, x, y, pos)
		case float64:
			return c.floatOp(op, float64(x), y, pos)
		}
	case float64:
		switch y := r.(type) {
		case int64:
			return c.floatOp(op, x, float64(y), pos)
		case float64:
			return c.floatOp(op, x, y, pos)
		}
	case string:
		if y, ok := r.(string); ok {
			if op == "+" {
				return x + y
			}
			if b, ok := ordered(op, x, y); ok {
				return b
			}
		}
	case List:
		if y, ok := r.(List); ok && op == "+" {
			c.charge(len(x)+len(y), pos)
			return append(append(make(List, 0, len(x)+len(y)), x...), y...)
		}
	}
	c.errorf(pos, "operator %s does not apply to %s and %s", op, kindOf(l), kindOf(r))
	return nil
}

// charge counts the n list elements or string bytes that an operation is
// about to go through (copy, compare, scan), refusing past maxBuilt in
// all. Short values are free: every step of the evaluation is counted
// already (maxSteps), and the models' strings (checkpoint names) and
// lists are short; what a hostile loop builds by doubling or appending
// is not.
func (c *compiler) charge(n int, pos lexer.Position) {
	if n < shortValue {
		return
	}
	c.built += n
	if c.built > maxBuilt || c.built < 0 {
		c.errorf(pos, "compile-time lists and strings too large: operations on them would go through more than %d elements and bytes in all", maxBuilt)
	}
}

// shortValue is the length below which charge counts nothing.
const shortValue = 64

// scalar makes a constant tensor of dtype dt from a number or bool.
func (c *compiler) scalar(v any, dt ir.DType, pos lexer.Position) *ir.Value {
	var val any
	switch x := v.(type) {
	case int64:
		val = x
		if dt.IsFloat() {
			val = float64(x)
		}
	case float64:
		if !dt.IsFloat() {
			c.errorf(pos, "cannot combine float %s with a %s tensor", show(x), dt)
		}
		val = x
	case bool:
		if dt != ir.Bool {
			c.errorf(pos, "cannot combine a bool with a %s tensor", dt)
		}
		val = x
	default:
		c.errorf(pos, "cannot combine a %s with a tensor", kindOf(v))
	}
	return c.emit1(pos, ir.OpConst, nil, ir.Attrs{"value": val, "dtype": dt})
}

func (c *compiler) equal(l, r any, pos lexer.Position) bool {
	if l == nil || r == nil {
		return l == nil && r == nil // anything compares with none
	}
	switch x := l.(type) {
	case int64:
		if y, ok := r.(float64); ok {
			return float64(x) == y
		}
	case float64:
		if y, ok := r.(int64); ok {
			return x == float64(y)
		}
	case nil, string, bool, ir.DType, ir.Dim:
	default:
		c.errorf(pos, "cannot compare a %s", kindOf(l))
	}
	switch r.(type) {
	case nil, int64, float64, string, bool, ir.DType, ir.Dim:
	default:
		c.errorf(pos, "cannot compare a %s", kindOf(r))
	}
	return l == r
}

func (c *compiler) intOp(op string, x, y int64, pos lexer.Position) any {
	overflow := func() { c.errorf(pos, "integer overflow in %d %s %d", x, op, y) }
	switch op {
	case "+":
		s := x + y
		if (s > x) != (y > 0) {
			overflow()
		}
		return s
	case "-":
		s := x - y
		if (s < x) != (y > 0) {
			overflow()
		}
		return s
	case "*":
		if x == 0 || y == 0 {
			return int64(0)
		}
		hi, lo := bits.Mul64(uint64(abs64(x)), uint64(abs64(y)))
		if hi != 0 || lo > math.MaxInt64 || x == math.MinInt64 || y == math.MinInt64 {
			overflow()
		}
		return x * y
	case "/", "%":
		if y == 0 {
			c.errorf(pos, "division by zero")
		}
		if x == math.MinInt64 && y == -1 {
			overflow()
		}
		if op == "/" {
			return x / y
		}
		return x % y
	case "**":
		if y < 0 {
			return math.Pow(float64(x), float64(y))
		}
		switch x {
		case 0, 1:
			return min(x, max(1-y, x)) // 0**0 = 1, 0**y = 0, 1**y = 1
		case -1:
			return 1 - 2*(y%2)
		}
		r := int64(1)
		for i := int64(0); i < y; i++ {
			r = c.intOp("*", r, x, pos).(int64) // overflows within 63 steps
		}
		return r
	}
	if b, ok := ordered(op, x, y); ok {
		return b
	}
	c.errorf(pos, "operator %s does not apply to ints", op)
	return nil
}

func abs64(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

func (c *compiler) floatOp(op string, x, y float64, pos lexer.Position) any {
	switch op {
	case "+":
		return x + y
	case "-":
		return x - y
	case "*":
		return x * y
	case "/":
		if y == 0 {
			c.errorf(pos, "division by zero")
		}
		return x / y
	case "**":
		return math.Pow(x, y)
	}
	if b, ok := ordered(op, x, y); ok {
		return b
	}
	c.errorf(pos, "operator %s does not apply to floats", op)
	return nil
}

// ordered applies a comparison operator.
func ordered[T cmp.Ordered](op string, x, y T) (result, ok bool) {
	switch op {
	case "<":
		return x < y, true
	case "<=":
		return x <= y, true
	case ">":
		return x > y, true
	case ">=":
		return x >= y, true
	}
	return false, false
}
