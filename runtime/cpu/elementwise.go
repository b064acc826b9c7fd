package cpu

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sync/atomic"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/runtime"
)

// Elementwise and broadcasting ops. Float arithmetic is f32 (add, sub, mul,
// div round once to f32, as IEEE does); transcendental functions are
// evaluated in f64 and rounded to f32. The executor then rounds to the
// result dtype. Integers compute in int64 (i32 results wrap to 32 bits).

const elemGrain = 1 << 14 // elements per parallel chunk

func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

func signF(x float64) float64 {
	switch {
	case x > 0:
		return 1
	case x < 0:
		return -1
	}
	return x // ±0 and NaN
}

var unaryFloat = map[*ir.OpDef]func(float64) float64{
	ir.OpExp:     math.Exp,
	ir.OpLog:     math.Log,
	ir.OpSqrt:    math.Sqrt,
	ir.OpRsqrt:   func(x float64) float64 { return 1 / math.Sqrt(x) },
	ir.OpSigmoid: sigmoid,
	ir.OpSilu:    func(x float64) float64 { return x * sigmoid(x) },
	ir.OpTanh:    math.Tanh,
	ir.OpErf:     math.Erf,
	ir.OpNeg:     func(x float64) float64 { return -x },
	ir.OpAbs:     math.Abs,
	ir.OpSign:    signF,
}

// unaryF32 holds loops over f32 slices for the functions that have them
// (same results to well below f32 rounding, without math.Exp's cost).
var unaryF32 = map[*ir.OpDef]func(dst, src []float32){
	ir.OpSigmoid: sigmoidF32,
	ir.OpSilu:    siluF32,
}

var unaryInt = map[*ir.OpDef]func(int64) int64{
	ir.OpNeg: func(x int64) int64 { return -x },
	ir.OpAbs: func(x int64) int64 {
		if x < 0 {
			return -x
		}
		return x
	},
	ir.OpSign: func(x int64) int64 {
		switch {
		case x > 0:
			return 1
		case x < 0:
			return -1
		}
		return 0
	},
}

func init() {
	for d, fn := range unaryFloat {
		ifn, ffn := unaryInt[d], unaryF32[d]
		register(d, func(c *Context, op *ir.Op, args []*runtime.Tensor) ([]*runtime.Tensor, error) {
			x, out := args[0], c.Out(0)
			switch {
			case ffn != nil && x.DType.IsFloat() && out.DType.IsFloat():
				c.parallel(len(out.F), elemGrain, func(lo, hi int) {
					ffn(out.F[lo:hi], x.F[lo:hi])
				})
			case x.DType.IsFloat() && out.DType.IsFloat():
				c.parallel(len(out.F), elemGrain, func(lo, hi int) {
					for i, v := range x.F[lo:hi] {
						out.F[lo+i] = float32(fn(float64(v)))
					}
				})
			case ifn != nil && !x.DType.IsFloat() && !out.DType.IsFloat():
				c.parallel(len(out.I), elemGrain, func(lo, hi int) {
					for i, v := range x.I[lo:hi] {
						out.I[lo+i] = ifn(v)
					}
				})
			default:
				return nil, fmt.Errorf("%s of %s is not defined", d.Name, x.DType)
			}
			return one(out), nil
		})
	}
	for _, d := range []*ir.OpDef{ir.OpAdd, ir.OpSub, ir.OpMul, ir.OpDiv, ir.OpMaximum, ir.OpMinimum, ir.OpPow} {
		register(d, kBinary(d))
	}
	for _, d := range []*ir.OpDef{ir.OpEq, ir.OpNe, ir.OpLt, ir.OpLe, ir.OpGt, ir.OpGe} {
		register(d, kCompare(d))
	}
	register(ir.OpWhere, kWhere)
	register(ir.OpCast, kCast)
}

// bplan maps every output element to the operands' elements under numpy
// broadcasting. The output is walked in rows of its last dim; along a row
// each operand advances by stride 0 or 1.
type bplan struct {
	out     []int
	rowLen  int
	rows    int
	strides [][]int // per operand, per output dim (0 where broadcast)
	inner   []int   // per operand, stride along the row
	same    bool    // every operand has the output's shape
}

func newPlan(out []int, shapes ...[]int) (*bplan, error) {
	p := &bplan{out: out, same: true}
	r := len(out)
	for _, s := range shapes {
		if len(s) > r {
			return nil, fmt.Errorf("operand shape %v has a higher rank than the result %v", s, out)
		}
		if !slices.Equal(s, out) {
			p.same = false
		}
		st := make([]int, r)
		acc := 1
		for i := len(s) - 1; i >= 0; i-- {
			o := r - len(s) + i
			switch s[i] {
			case out[o]:
				st[o] = acc
			case 1:
				st[o] = 0
			default:
				return nil, fmt.Errorf("operand shape %v does not broadcast to %v", s, out)
			}
			acc *= s[i]
		}
		p.strides = append(p.strides, st)
	}
	p.rowLen = 1
	if r > 0 {
		p.rowLen = out[r-1]
	}
	if p.rowLen == 0 {
		p.rows = 0
	} else {
		p.rows = numel(out) / p.rowLen
	}
	for _, st := range p.strides {
		in := 0
		if r > 0 {
			in = st[r-1]
		}
		p.inner = append(p.inner, in)
	}
	return p, nil
}

// run calls row(o, offs, n) for every output row: o is the output offset,
// offs the operands' offsets at the row's start; rows are split over
// workers. With equal shapes the whole tensor is one "row" split in chunks.
func (p *bplan) run(c *Context, row func(o int, offs []int, n int)) {
	k := len(p.strides)
	if p.same {
		n := numel(p.out) // every operand advances by 1 (inner strides are 1)
		c.parallel(n, elemGrain, func(lo, hi int) {
			offs := make([]int, k)
			for i := range offs {
				offs[i] = lo
			}
			row(lo, offs, hi-lo)
		})
		return
	}
	r := len(p.out)
	grain := max(1, elemGrain/max(p.rowLen, 1))
	c.parallel(p.rows, grain, func(lo, hi int) {
		offs := make([]int, k)
		idx := make([]int, r)
		for rw := lo; rw < hi; rw++ {
			// Decompose the row number over the output's leading dims.
			q := rw
			for d := r - 2; d >= 0; d-- {
				idx[d] = q % p.out[d]
				q /= p.out[d]
			}
			for i, st := range p.strides {
				o := 0
				for d := 0; d < r-1; d++ {
					o += idx[d] * st[d]
				}
				offs[i] = o
			}
			row(rw*p.rowLen, offs, p.rowLen)
		}
	})
}

var floatBinary = map[*ir.OpDef]func(a, b float32) float32{
	ir.OpAdd: func(a, b float32) float32 { return a + b },
	ir.OpSub: func(a, b float32) float32 { return a - b },
	ir.OpMul: func(a, b float32) float32 { return a * b },
	ir.OpDiv: func(a, b float32) float32 { return a / b },
	ir.OpMaximum: func(a, b float32) float32 {
		if a != a || b != b {
			return float32(math.NaN())
		}
		return max(a, b)
	},
	ir.OpMinimum: func(a, b float32) float32 {
		if a != a || b != b {
			return float32(math.NaN())
		}
		return min(a, b)
	},
	ir.OpPow: func(a, b float32) float32 { return float32(math.Pow(float64(a), float64(b))) },
}

var errIntDivZero = errors.New("integer division by zero")

func ipow(a, b int64) int64 {
	if b < 0 {
		switch a {
		case 1:
			return 1
		case -1:
			if b%2 == 0 {
				return 1
			}
			return -1
		}
		return 0 // |a|^b < 1 truncates to 0 (a = 0: undefined, 0 by convention)
	}
	r := int64(1)
	for b > 0 {
		if b&1 == 1 {
			r *= a
		}
		a *= a
		b >>= 1
	}
	return r
}

var intBinary = map[*ir.OpDef]func(a, b int64) int64{
	ir.OpAdd:     func(a, b int64) int64 { return a + b },
	ir.OpSub:     func(a, b int64) int64 { return a - b },
	ir.OpMul:     func(a, b int64) int64 { return a * b },
	ir.OpMaximum: func(a, b int64) int64 { return max(a, b) },
	ir.OpMinimum: func(a, b int64) int64 { return min(a, b) },
	ir.OpPow:     ipow,
	ir.OpDiv:     nil, // checked for zero divisors below
}

func kBinary(def *ir.OpDef) Kernel {
	ff, fi := floatBinary[def], intBinary[def]
	arith := byte(0)
	switch def {
	case ir.OpAdd:
		arith = '+'
	case ir.OpSub:
		arith = '-'
	case ir.OpMul:
		arith = '*'
	case ir.OpDiv:
		arith = '/'
	}
	return func(c *Context, op *ir.Op, args []*runtime.Tensor) ([]*runtime.Tensor, error) {
		a, b := args[0], args[1]
		out := c.Out(0)
		p, err := newPlan(out.Shape, a.Shape, b.Shape)
		if err != nil {
			return nil, err
		}
		sa, sb := p.inner[0], p.inner[1]
		switch {
		case out.DType.IsFloat() && a.DType.IsFloat() && b.DType.IsFloat():
			p.run(c, func(o int, offs []int, n int) {
				d, ia, ib := out.F[o:o+n], offs[0], offs[1]
				if arith != 0 {
					// The hot cases, without a call per element.
					arithF32(arith, d, a.F, b.F, ia, ib, sa, sb)
					return
				}
				for i := range d {
					d[i] = ff(a.F[ia], b.F[ib])
					ia += sa
					ib += sb
				}
			})
		case !out.DType.IsFloat() && !a.DType.IsFloat() && !b.DType.IsFloat():
			var divZero atomic.Bool
			p.run(c, func(o int, offs []int, n int) {
				d, ia, ib := out.I[o:o+n], offs[0], offs[1]
				for i := range d {
					x, y := a.I[ia], b.I[ib]
					if fi == nil { // div: truncated toward zero
						if y == 0 {
							divZero.Store(true)
							d[i] = 0
						} else {
							d[i] = x / y
						}
					} else {
						d[i] = fi(x, y)
					}
					ia += sa
					ib += sb
				}
			})
			if divZero.Load() {
				return nil, errIntDivZero
			}
		default:
			return nil, fmt.Errorf("operands %s and %s do not match the result %s", a.DType, b.DType, out.DType)
		}
		return one(out), nil
	}
}

// arithVec and arithVecScalar, when set (AVX, arith_amd64.go), do the
// contiguous cases' longest multiple of 8 and return how many elements
// they did; the loops below finish.
var (
	arithVec       func(op byte, d, x, y []float32) int
	arithVecScalar func(op byte, d, x []float32, v float32) int
)

// arithF32 computes d[i] = x[ix + i·sx] op y[iy + i·sy] for op one of
// + - * /, with loops specialised for contiguous and broadcast operands.
func arithF32(op byte, d, x, y []float32, ix, iy, sx, sy int) {
	n := len(d)
	switch {
	case sx == 1 && sy == 1:
		x, y := x[ix:ix+n], y[iy:iy+n]
		if arithVec != nil {
			k := arithVec(op, d, x, y)
			d, x, y = d[k:], x[k:], y[k:]
		}
		switch op {
		case '+':
			for i := range d {
				d[i] = x[i] + y[i]
			}
		case '-':
			for i := range d {
				d[i] = x[i] - y[i]
			}
		case '*':
			for i := range d {
				d[i] = x[i] * y[i]
			}
		default:
			for i := range d {
				d[i] = x[i] / y[i]
			}
		}
	case sx == 1 && sy == 0:
		x, v := x[ix:ix+n], y[iy]
		if arithVecScalar != nil {
			k := arithVecScalar(op, d, x, v)
			d, x = d[k:], x[k:]
		}
		switch op {
		case '+':
			for i := range d {
				d[i] = x[i] + v
			}
		case '-':
			for i := range d {
				d[i] = x[i] - v
			}
		case '*':
			for i := range d {
				d[i] = x[i] * v
			}
		default:
			for i := range d {
				d[i] = x[i] / v
			}
		}
	case sx == 0 && sy == 1:
		u, y := x[ix], y[iy:iy+n]
		switch op {
		case '+':
			for i := range d {
				d[i] = u + y[i]
			}
		case '-':
			for i := range d {
				d[i] = u - y[i]
			}
		case '*':
			for i := range d {
				d[i] = u * y[i]
			}
		default:
			for i := range d {
				d[i] = u / y[i]
			}
		}
	default:
		for i := range d {
			u, v := x[ix], y[iy]
			switch op {
			case '+':
				d[i] = u + v
			case '-':
				d[i] = u - v
			case '*':
				d[i] = u * v
			default:
				d[i] = u / v
			}
			ix += sx
			iy += sy
		}
	}
}

func kCompare(def *ir.OpDef) Kernel {
	return func(c *Context, op *ir.Op, args []*runtime.Tensor) ([]*runtime.Tensor, error) {
		a, b := args[0], args[1]
		out := c.Out(0)
		p, err := newPlan(out.Shape, a.Shape, b.Shape)
		if err != nil {
			return nil, err
		}
		if a.DType.IsFloat() != b.DType.IsFloat() {
			return nil, fmt.Errorf("cannot compare %s with %s", a.DType, b.DType)
		}
		sa, sb := p.inner[0], p.inner[1]
		isFloat := a.DType.IsFloat()
		p.run(c, func(o int, offs []int, n int) {
			d, ia, ib := out.I[o:o+n], offs[0], offs[1]
			for i := range d {
				var lt, eq bool
				if isFloat {
					x, y := a.F[ia], b.F[ib]
					lt, eq = x < y, x == y
					if x != x || y != y { // NaN: only ne holds
						d[i] = b2i(def == ir.OpNe)
						ia += sa
						ib += sb
						continue
					}
				} else {
					x, y := a.I[ia], b.I[ib]
					lt, eq = x < y, x == y
				}
				var r bool
				switch def {
				case ir.OpEq:
					r = eq
				case ir.OpNe:
					r = !eq
				case ir.OpLt:
					r = lt
				case ir.OpLe:
					r = lt || eq
				case ir.OpGt:
					r = !lt && !eq
				case ir.OpGe:
					r = !lt
				}
				d[i] = b2i(r)
				ia += sa
				ib += sb
			}
		})
		return one(out), nil
	}
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func kWhere(c *Context, op *ir.Op, args []*runtime.Tensor) ([]*runtime.Tensor, error) {
	cond, a, b := args[0], args[1], args[2]
	out := c.Out(0)
	p, err := newPlan(out.Shape, cond.Shape, a.Shape, b.Shape)
	if err != nil {
		return nil, err
	}
	if a.DType.IsFloat() != out.DType.IsFloat() || b.DType.IsFloat() != out.DType.IsFloat() {
		return nil, fmt.Errorf("operands %s and %s do not match the result %s", a.DType, b.DType, out.DType)
	}
	sc, sa, sb := p.inner[0], p.inner[1], p.inner[2]
	p.run(c, func(o int, offs []int, n int) {
		ic, ia, ib := offs[0], offs[1], offs[2]
		for i := 0; i < n; i++ {
			if out.DType.IsFloat() {
				if cond.I[ic] != 0 {
					out.F[o+i] = a.F[ia]
				} else {
					out.F[o+i] = b.F[ib]
				}
			} else {
				if cond.I[ic] != 0 {
					out.I[o+i] = a.I[ia]
				} else {
					out.I[o+i] = b.I[ib]
				}
			}
			ic += sc
			ia += sa
			ib += sb
		}
	})
	return one(out), nil
}

// floatToInt truncates toward zero, saturating to dt's range; NaN gives 0.
func floatToInt(v float64, dt ir.DType) int64 {
	lo, hi := float64(math.MinInt64), float64(math.MaxInt64)
	if dt == ir.I32 {
		lo, hi = math.MinInt32, math.MaxInt32
	}
	switch {
	case v != v:
		return 0
	case v <= lo:
		return int64(lo)
	case v >= hi:
		if dt == ir.I32 {
			return math.MaxInt32
		}
		return math.MaxInt64
	}
	return int64(v)
}

func kCast(c *Context, op *ir.Op, args []*runtime.Tensor) ([]*runtime.Tensor, error) {
	x := args[0]
	if dt := c.mode.Storage(op.Results[0].Type.DType); x.DType.IsFloat() && dt.IsFloat() && subset(x.DType, dt) {
		return one(c.view(x, 0, dt)), nil // every value is already one of dt's
	}
	out := c.Out(0)
	n := len(out.F) + len(out.I)
	c.parallel(n, elemGrain, func(lo, hi int) {
		switch {
		case x.DType.IsFloat() && out.DType.IsFloat():
			copy(out.F[lo:hi], x.F[lo:hi]) // rounded to the result dtype by the executor
		case x.DType.IsFloat() && out.DType == ir.Bool:
			for i := lo; i < hi; i++ {
				out.I[i] = b2i(x.F[i] != 0)
			}
		case x.DType.IsFloat():
			for i := lo; i < hi; i++ {
				out.I[i] = floatToInt(float64(x.F[i]), out.DType)
			}
		case out.DType.IsFloat():
			for i := lo; i < hi; i++ {
				out.F[i] = float32(x.I[i])
			}
		case out.DType == ir.Bool:
			for i := lo; i < hi; i++ {
				out.I[i] = b2i(x.I[i] != 0)
			}
		default:
			copy(out.I[lo:hi], x.I[lo:hi]) // i32 results wrap in the executor
		}
	})
	return one(out), nil
}
