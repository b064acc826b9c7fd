package cpu

import (
	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/runtime"
)

// Autodiff writes a Linear's weight gradient as matmul(transpose(dy), x)
// and an expert layer's input gradient as grouped_linear(dy,
// transpose(w)): a transpose of the last two dims whose only reader is a
// GEMM. The GEMM can read either operand in the other layout for free (a
// transposed A strip packs from contiguous rows; a transposed B is the
// weight layout), so the executor does not copy the transpose at all: the
// result is a view of its source's storage, marked transposed, and the
// GEMM reads the source. Nothing else ever sees such a view.
//
// The GEMM's summation order depends on its path (the gemv kernels for a
// few rows against a weight-layout B, the blocked kernels otherwise), so
// a deferred transpose must not change the path: a few rows against a
// transposed expert weight get that expert's slice copied to the weight
// layout, as the materialised transpose would have given them.

// readsTransposed lists the operands whose kernels read a deferred
// transpose of the last two dims (Context.transposed).
var readsTransposed = map[*ir.OpDef][]int{
	ir.OpMatmul:        {0},
	ir.OpGroupedLinear: {1},
}

// deferredTransposes returns the transpose ops of f whose every use is an
// operand listed in readsTransposed.
func deferredTransposes(f *ir.Func, uses map[*ir.Value]int) map[*ir.Op]bool {
	reads := map[*ir.Value]int{} // uses by operands that read transposes
	for _, op := range f.Body {
		for _, i := range readsTransposed[op.Def()] {
			if i < len(op.Args) {
				reads[op.Args[i]]++
			}
		}
	}
	var out map[*ir.Op]bool
	for _, op := range f.Body {
		if !op.Is(ir.OpTranspose) || len(op.Results) != 1 || !swapsLastTwo(op) {
			continue
		}
		if r := op.Results[0]; uses[r] > 0 && reads[r] == uses[r] {
			if out == nil {
				out = map[*ir.Op]bool{}
			}
			out[op] = true
		}
	}
	return out
}

// swapsLastTwo reports whether a transpose's perm is [0, 1, ..., r-1, r-2].
func swapsLastTwo(op *ir.Op) bool {
	perm, ok := op.Attrs.Ints("perm")
	r := len(perm)
	if !ok || r < 2 || perm[r-1] != int64(r-2) || perm[r-2] != int64(r-1) {
		return false
	}
	for i, p := range perm[:r-2] {
		if p != int64(i) {
			return false
		}
	}
	return true
}

// deferred computes op when it is a deferred transpose: a view of its
// operand's storage with the result's shape, remembered as transposed.
// Otherwise, and for block-quantized and integer operands (copied as
// usual), nil.
func (c *Context) deferred(op *ir.Op, args []*runtime.Tensor) *runtime.Tensor {
	if !c.deferT[op] {
		return nil
	}
	x := args[0]
	if x.Scale != nil || !x.DType.IsFloat() {
		return nil
	}
	v := c.view(x, 0, moveDType(c, 0, x))
	if c.lazyT == nil {
		c.lazyT = map[*runtime.Tensor]*runtime.Tensor{}
	}
	c.lazyT[v] = x
	return v
}

// transposed returns the source of operand t when t is a deferred
// transpose: t's elements are the source's with the last two dims
// swapped, and its storage is in the source's layout.
func (c *Context) transposed(t *runtime.Tensor) (*runtime.Tensor, bool) {
	src, ok := c.lazyT[t]
	return src, ok
}
