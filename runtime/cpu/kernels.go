package cpu

import (
	"fmt"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/runtime"
)

// kernels is the CPU kernel table: one entry for every op in ir.Ops()
// (internal/opfaces).
var kernels = map[*ir.OpDef]Kernel{}

// rawOperands lists, per op, the operands its kernel reads block-quantized
// as they are (fp8 values and scales); every other quantized operand is
// dequantised by the executor first.
var rawOperands = map[*ir.OpDef][]int{
	ir.OpLinear:        {1},
	ir.OpGroupedLinear: {1},
	ir.OpGroupedGEMM:   {1},
}

func register(d *ir.OpDef, k Kernel) {
	if _, dup := kernels[d]; dup {
		panic("cpu: kernel registered twice: " + d.Name)
	}
	kernels[d] = k
}

// KernelFor returns the CPU kernel of an op, or nil when it has none.
func KernelFor(d *ir.OpDef) Kernel { return kernels[d] }

// KernelOps lists the ops that have a CPU kernel, in the op table's order.
func KernelOps() []*ir.OpDef {
	var ops []*ir.OpDef
	for _, d := range ir.Ops() {
		if kernels[d] != nil {
			ops = append(ops, d)
		}
	}
	return ops
}

func init() {
	register(ir.OpParam, func(c *Context, op *ir.Op, _ []*runtime.Tensor) ([]*runtime.Tensor, error) {
		name, ok := op.Attrs.Str("name")
		if !ok {
			return nil, fmt.Errorf("param op without a name")
		}
		if len(op.Results) != 1 {
			return nil, fmt.Errorf("param @%s: want one result", name)
		}
		t, err := c.param(name, op.Results[0].Type)
		if err != nil {
			return nil, err
		}
		return []*runtime.Tensor{t}, nil
	})
	register(ir.OpConst, kConst)
}

func kConst(c *Context, op *ir.Op, _ []*runtime.Tensor) ([]*runtime.Tensor, error) {
	out := c.Out(0)
	switch v := op.Attrs["value"].(type) {
	case float64:
		if out.DType.IsFloat() {
			out.F[0] = float32(v)
		} else {
			out.I[0] = floatToInt(v, out.DType)
		}
	case int64:
		if out.DType.IsFloat() {
			out.F[0] = float32(v)
		} else {
			out.I[0] = v
		}
	case bool:
		b := int64(0)
		if v {
			b = 1
		}
		if out.DType.IsFloat() {
			out.F[0] = float32(b)
		} else {
			out.I[0] = b
		}
	default:
		return nil, fmt.Errorf("const value %v is not a number or bool", op.Attrs["value"])
	}
	if out.DType == ir.Bool && out.I[0] != 0 {
		out.I[0] = 1
	}
	return []*runtime.Tensor{out}, nil
}

// Attribute helpers: the verifier checks attributes, but a kernel must not
// panic on a function that was never verified.

func attrInt(op *ir.Op, k string) (int64, error) {
	v, ok := op.Attrs.Int(k)
	if !ok {
		return 0, fmt.Errorf("attribute %s must be an integer", k)
	}
	return v, nil
}

func attrFloat(op *ir.Op, k string) (float64, error) {
	v, ok := op.Attrs.Float(k)
	if !ok {
		return 0, fmt.Errorf("attribute %s must be a number", k)
	}
	return v, nil
}

// attrAxis reads and normalises an axis attribute for a tensor of rank r.
func attrAxis(op *ir.Op, r int) (int, error) {
	a, err := attrInt(op, "axis")
	if err != nil {
		return 0, err
	}
	if a < 0 {
		a += int64(r)
	}
	if a < 0 || a >= int64(r) {
		return 0, fmt.Errorf("axis %d out of range for rank %d", a, r)
	}
	return int(a), nil
}

func one(t *runtime.Tensor) []*runtime.Tensor { return []*runtime.Tensor{t} }

// numel multiplies dims.
func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// split3 views shape as [outer, shape[axis], inner].
func split3(shape []int, axis int) (outer, n, inner int) {
	return numel(shape[:axis]), shape[axis], numel(shape[axis+1:])
}
