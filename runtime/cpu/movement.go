package cpu

import (
	"fmt"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/runtime"
)

// Data movement: results keep the dtype of the data they move (a weight
// dequantised to bf16 stays bf16 through a reshape even if the IR calls it
// f8), so nothing here rounds.

func init() {
	register(ir.OpReshape, kReshape)
	register(ir.OpExpand, kExpand)
	register(ir.OpTranspose, kTranspose)
	register(ir.OpConcat, kConcat)
	register(ir.OpSplit, kSplit)
	register(ir.OpSlice, kSlice)
	register(ir.OpGather, kGather)
	register(ir.OpTakeAlong, kTakeAlong)
	register(ir.OpShift, kShift)
	register(ir.OpKVWrite, kKVWrite)
}

// moveDType is the dtype of a data-movement result reading xs.
func moveDType(c *Context, i int, xs ...*runtime.Tensor) ir.DType {
	want := c.op.Results[i].Type.DType
	if !want.IsFloat() {
		return want
	}
	dt := xs[0].DType
	for _, x := range xs[1:] {
		dt = join(dt, x.DType)
	}
	return dt
}

// both applies fn to the float storage of the tensors if they are floats,
// else to their integer storage.
func both(out *runtime.Tensor, xs []*runtime.Tensor, ff func(dst []float32, srcs [][]float32), fi func(dst []int64, srcs [][]int64)) {
	if out.DType.IsFloat() {
		srcs := make([][]float32, len(xs))
		for i, x := range xs {
			srcs[i] = x.F
		}
		ff(out.F, srcs)
	} else {
		srcs := make([][]int64, len(xs))
		for i, x := range xs {
			srcs[i] = x.I
		}
		fi(out.I, srcs)
	}
}

func checkKinds(out *runtime.Tensor, xs ...*runtime.Tensor) error {
	for _, x := range xs {
		if x.DType.IsFloat() != out.DType.IsFloat() {
			return fmt.Errorf("operand dtype %s does not match the result %s", x.DType, out.DType)
		}
	}
	return nil
}

func kReshape(c *Context, op *ir.Op, args []*runtime.Tensor) ([]*runtime.Tensor, error) {
	x := args[0]
	shape := c.ResultShape(0)
	if numel(shape) != x.Numel() {
		return nil, fmt.Errorf("cannot reshape %v to %v", x.Shape, shape)
	}
	out := c.view(x, 0, moveDType(c, 0, x))
	if err := checkKinds(out, x); err != nil {
		return nil, err
	}
	return one(out), nil
}

// copyStrided fills dst (an output of shape out, walked in rows of its last
// dim) from src with per-dim source strides st.
func copyStrided[E any](c *Context, dst, src []E, out []int, st []int) {
	r := len(out)
	if r == 0 {
		dst[0] = src[0]
		return
	}
	rowLen := out[r-1]
	if rowLen == 0 {
		return
	}
	rows := numel(out) / rowLen
	inner := st[r-1]
	c.parallel(rows, max(1, elemGrain/rowLen), func(lo, hi int) {
		idx := make([]int, r)
		for rw := lo; rw < hi; rw++ {
			q, o := rw, 0
			for d := r - 2; d >= 0; d-- {
				idx[d] = q % out[d]
				q /= out[d]
				o += idx[d] * st[d]
			}
			row := dst[rw*rowLen : (rw+1)*rowLen]
			if inner == 1 {
				copy(row, src[o:o+rowLen])
				continue
			}
			for j := range row {
				row[j] = src[o]
				o += inner
			}
		}
	})
}

func kExpand(c *Context, op *ir.Op, args []*runtime.Tensor) ([]*runtime.Tensor, error) {
	x := args[0]
	out := c.OutType(0, moveDType(c, 0, x))
	p, err := newPlan(out.Shape, x.Shape)
	if err != nil {
		return nil, err
	}
	if err := checkKinds(out, x); err != nil {
		return nil, err
	}
	both(out, args[:1],
		func(d []float32, s [][]float32) { copyStrided(c, d, s[0], out.Shape, p.strides[0]) },
		func(d []int64, s [][]int64) { copyStrided(c, d, s[0], out.Shape, p.strides[0]) })
	return one(out), nil
}

func kTranspose(c *Context, op *ir.Op, args []*runtime.Tensor) ([]*runtime.Tensor, error) {
	x := args[0]
	perm, ok := op.Attrs.Ints("perm")
	r := len(x.Shape)
	if !ok || len(perm) != r {
		return nil, fmt.Errorf("attribute perm must list %d axes", r)
	}
	in := make([]int, r) // x's strides
	acc := 1
	for d := r - 1; d >= 0; d-- {
		in[d] = acc
		acc *= x.Shape[d]
	}
	st := make([]int, r)
	seen := make([]bool, r)
	for i, p := range perm {
		if p < 0 || int(p) >= r || seen[p] {
			return nil, fmt.Errorf("perm %v is not a permutation of %d axes", perm, r)
		}
		seen[p] = true
		st[i] = in[p]
	}
	out := c.OutType(0, moveDType(c, 0, x))
	if err := checkKinds(out, x); err != nil {
		return nil, err
	}
	both(out, args[:1],
		func(d []float32, s [][]float32) { copyStrided(c, d, s[0], out.Shape, st) },
		func(d []int64, s [][]int64) { copyStrided(c, d, s[0], out.Shape, st) })
	return one(out), nil
}

func kConcat(c *Context, op *ir.Op, args []*runtime.Tensor) ([]*runtime.Tensor, error) {
	ax, err := attrAxis(op, len(args[0].Shape))
	if err != nil {
		return nil, err
	}
	out := c.OutType(0, moveDType(c, 0, args...))
	if err := checkKinds(out, args...); err != nil {
		return nil, err
	}
	outer, n, inner := split3(out.Shape, ax)
	total := 0
	for _, x := range args {
		if len(x.Shape) != len(out.Shape) {
			return nil, fmt.Errorf("operand shape %v does not fit the result %v", x.Shape, out.Shape)
		}
		total += x.Shape[ax]
	}
	if total != n {
		return nil, fmt.Errorf("operands sum to %d along axis %d, want %d", total, ax, n)
	}
	both(out, args,
		func(d []float32, s [][]float32) { concatData(c, d, s, args, outer, n, inner, ax) },
		func(d []int64, s [][]int64) { concatData(c, d, s, args, outer, n, inner, ax) })
	return one(out), nil
}

func concatData[T any](c *Context, dst []T, srcs [][]T, xs []*runtime.Tensor, outer, n, inner, ax int) {
	c.parallel(outer, max(1, elemGrain/max(n*inner, 1)), func(lo, hi int) {
		for o := lo; o < hi; o++ {
			off := o * n * inner
			for i, s := range srcs {
				m := xs[i].Shape[ax] * inner
				copy(dst[off:off+m], s[o*m:(o+1)*m])
				off += m
			}
		}
	})
}

func kSplit(c *Context, op *ir.Op, args []*runtime.Tensor) ([]*runtime.Tensor, error) {
	x := args[0]
	ax, err := attrAxis(op, len(x.Shape))
	if err != nil {
		return nil, err
	}
	outer, n, inner := split3(x.Shape, ax)
	outs := make([]*runtime.Tensor, len(op.Results))
	start := 0
	for i := range outs {
		out := c.OutType(i, moveDType(c, i, x))
		if err := checkKinds(out, x); err != nil {
			return nil, err
		}
		if len(out.Shape) != len(x.Shape) {
			return nil, fmt.Errorf("result %d shape %v does not fit %v", i, out.Shape, x.Shape)
		}
		m := out.Shape[ax]
		if start+m > n {
			return nil, fmt.Errorf("split sizes exceed dim %d", n)
		}
		sliceInto(c, out, x, outer, n, inner, start, m)
		start += m
		outs[i] = out
	}
	if start != n {
		return nil, fmt.Errorf("split sizes sum to %d, want %d", start, n)
	}
	return outs, nil
}

// sliceInto copies elements start..start+m along the middle axis of x
// (viewed [outer, n, inner]) into out.
func sliceInto(c *Context, out, x *runtime.Tensor, outer, n, inner, start, m int) {
	both(out, []*runtime.Tensor{x},
		func(d []float32, s [][]float32) { sliceData(c, d, s[0], outer, n, inner, start, m) },
		func(d []int64, s [][]int64) { sliceData(c, d, s[0], outer, n, inner, start, m) })
}

func sliceData[T any](c *Context, dst, src []T, outer, n, inner, start, m int) {
	c.parallel(outer, max(1, elemGrain/max(m*inner, 1)), func(lo, hi int) {
		for o := lo; o < hi; o++ {
			copy(dst[o*m*inner:(o+1)*m*inner], src[(o*n+start)*inner:(o*n+start+m)*inner])
		}
	})
}

func kSlice(c *Context, op *ir.Op, args []*runtime.Tensor) ([]*runtime.Tensor, error) {
	x := args[0]
	ax, err := attrAxis(op, len(x.Shape))
	if err != nil {
		return nil, err
	}
	start, err := attrInt(op, "start")
	if err != nil {
		return nil, err
	}
	end, err := attrInt(op, "end")
	if err != nil {
		return nil, err
	}
	outer, n, inner := split3(x.Shape, ax)
	if start < 0 || end <= start || end > int64(n) {
		return nil, fmt.Errorf("slice %d..%d is not within dim %d", start, end, n)
	}
	out := c.OutType(0, moveDType(c, 0, x))
	if err := checkKinds(out, x); err != nil {
		return nil, err
	}
	sliceInto(c, out, x, outer, n, inner, int(start), int(end-start))
	return one(out), nil
}

func kGather(c *Context, op *ir.Op, args []*runtime.Tensor) ([]*runtime.Tensor, error) {
	table, idx := args[0], args[1]
	ax, err := attrAxis(op, len(table.Shape))
	if err != nil {
		return nil, err
	}
	outer, n, inner := split3(table.Shape, ax)
	for i, v := range idx.I {
		if v < 0 || v >= int64(n) {
			return nil, fmt.Errorf("index %d (element %d) is out of range for dim %d of %v", v, i, n, table.Shape)
		}
	}
	out := c.OutType(0, moveDType(c, 0, table))
	if err := checkKinds(out, table); err != nil {
		return nil, err
	}
	m := len(idx.I)
	if numel(out.Shape) != outer*m*inner {
		return nil, fmt.Errorf("result shape %v does not fit gathering %v by %v", out.Shape, table.Shape, idx.Shape)
	}
	both(out, args[:1],
		func(d []float32, s [][]float32) { gatherData(c, d, s[0], idx.I, outer, n, inner) },
		func(d []int64, s [][]int64) { gatherData(c, d, s[0], idx.I, outer, n, inner) })
	return one(out), nil
}

func gatherData[T any](c *Context, dst, src []T, idx []int64, outer, n, inner int) {
	m := len(idx)
	c.parallel(outer*m, max(1, elemGrain/max(inner, 1)), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			o, j := r/m, r%m
			s := (o*n + int(idx[j])) * inner
			copy(dst[r*inner:(r+1)*inner], src[s:s+inner])
		}
	})
}

func kTakeAlong(c *Context, op *ir.Op, args []*runtime.Tensor) ([]*runtime.Tensor, error) {
	x, idx := args[0], args[1]
	ax, err := attrAxis(op, len(x.Shape))
	if err != nil {
		return nil, err
	}
	if len(idx.Shape) != len(x.Shape) {
		return nil, fmt.Errorf("indices %v must have the rank of %v", idx.Shape, x.Shape)
	}
	for d := range x.Shape {
		if d != ax && x.Shape[d] != idx.Shape[d] {
			return nil, fmt.Errorf("indices %v do not match %v off axis %d", idx.Shape, x.Shape, ax)
		}
	}
	outer, n, inner := split3(x.Shape, ax)
	_, m, _ := split3(idx.Shape, ax)
	for i, v := range idx.I {
		if v < 0 || v >= int64(n) {
			return nil, fmt.Errorf("index %d (element %d) is out of range for dim %d of %v", v, i, n, x.Shape)
		}
	}
	out := c.OutType(0, moveDType(c, 0, x))
	if err := checkKinds(out, x); err != nil {
		return nil, err
	}
	both(out, args[:1],
		func(d []float32, s [][]float32) { takeAlongData(d, s[0], idx.I, outer, n, m, inner) },
		func(d []int64, s [][]int64) { takeAlongData(d, s[0], idx.I, outer, n, m, inner) })
	return one(out), nil
}

func takeAlongData[T any](dst, src []T, idx []int64, outer, n, m, inner int) {
	for o := 0; o < outer; o++ {
		for j := 0; j < m; j++ {
			for i := 0; i < inner; i++ {
				p := (o*m+j)*inner + i
				dst[p] = src[(o*n+int(idx[p]))*inner+i]
			}
		}
	}
}

func kShift(c *Context, op *ir.Op, args []*runtime.Tensor) ([]*runtime.Tensor, error) {
	x, seq := args[0], args[1]
	off, err := attrInt(op, "offset")
	if err != nil {
		return nil, err
	}
	if len(x.Shape) == 0 || len(seq.Shape) != 1 || seq.Shape[0] != x.Shape[0] {
		return nil, fmt.Errorf("shift of %v by sequence ids %v", x.Shape, seq.Shape)
	}
	T := x.Shape[0]
	row := numel(x.Shape[1:])
	out := c.OutType(0, moveDType(c, 0, x))
	if err := checkKinds(out, x); err != nil {
		return nil, err
	}
	src := func(t int) int { // the row t reads, or -1 for zeros
		s := int64(t) + off
		if s < 0 || s >= int64(T) || seq.I[s] != seq.I[t] {
			return -1
		}
		return int(s)
	}
	both(out, args[:1],
		func(d []float32, s [][]float32) { shiftData(d, s[0], T, row, src) },
		func(d []int64, s [][]int64) { shiftData(d, s[0], T, row, src) })
	return one(out), nil
}

func shiftData[T any](dst, src []T, rows, row int, from func(int) int) {
	var zero T
	for t := 0; t < rows; t++ {
		d := dst[t*row : (t+1)*row]
		if s := from(t); s >= 0 {
			copy(d, src[s*row:(s+1)*row])
		} else {
			for i := range d {
				d[i] = zero
			}
		}
	}
}

// kKVWrite writes rows x[t] into slots slot[t] of the cache; in place when
// the old cache has no other use.
func kKVWrite(c *Context, op *ir.Op, args []*runtime.Tensor) ([]*runtime.Tensor, error) {
	cache, x, slot := args[0], args[1], args[2]
	if len(cache.Shape) != 2 || len(x.Shape) != 2 || cache.Shape[1] != x.Shape[1] || len(slot.I) != x.Shape[0] {
		return nil, fmt.Errorf("kv_write of rows %v into cache %v at slots %v", x.Shape, cache.Shape, slot.Shape)
	}
	C, d := cache.Shape[0], cache.Shape[1]
	for t, s := range slot.I {
		if s < 0 || s >= int64(C) {
			return nil, fmt.Errorf("slot %d (token %d) is out of range for a cache of %d slots", s, t, C)
		}
	}
	dt := moveDType(c, 0, cache, x)
	var out *runtime.Tensor
	if c.CanReuse(0) && cache.DType == dt {
		out = cache
	} else {
		out = c.OutType(0, dt)
		if err := checkKinds(out, cache, x); err != nil {
			return nil, err
		}
		copy(out.F, cache.F)
		copy(out.I, cache.I)
	}
	if err := checkKinds(out, x); err != nil {
		return nil, err
	}
	for t, s := range slot.I {
		if out.DType.IsFloat() {
			copy(out.F[int(s)*d:(int(s)+1)*d], x.F[t*d:(t+1)*d])
		} else {
			copy(out.I[int(s)*d:(int(s)+1)*d], x.I[t*d:(t+1)*d])
		}
	}
	return one(out), nil
}
