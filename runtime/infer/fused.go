package infer

import (
	"fmt"
	"strings"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/runtime"
)

// Attribute names of a fused param (see passes/fuse_siblings.go: its value
// is its parts concatenated along an axis, built here once at bind time).
const (
	fusedParts = "concat_of"
	fusedAxis  = "concat_axis"
)

// IsDerived reports whether p is built from other params rather than read
// from a checkpoint.
func IsDerived(p *ir.Param) bool { _, ok := p.Attrs[fusedParts]; return ok }

// Stored returns m with only the params a checkpoint holds (for loaders).
func Stored(m *ir.Module) *ir.Module {
	c := *m
	c.Params = nil
	for _, p := range m.Params {
		if !IsDerived(p) {
			c.Params = append(c.Params, p)
		}
	}
	return &c
}

// BindDerived adds to params the value of every derived param of m that
// some function reads.
func BindDerived(m *ir.Module, params map[string]*runtime.Tensor) error {
	for _, p := range m.Params {
		if !IsDerived(p) {
			continue
		}
		names, _ := p.Attrs.Str(fusedParts)
		axis, _ := p.Attrs.Int(fusedAxis)
		var parts []*runtime.Tensor
		for _, n := range strings.Split(names, ",") {
			t, ok := params[n]
			if !ok {
				return fmt.Errorf("fused param %s: part %s is not bound", p.Name, n)
			}
			parts = append(parts, t)
		}
		t, err := concatParts(parts, int(axis))
		if err != nil {
			return fmt.Errorf("fused param %s: %w", p.Name, err)
		}
		params[p.Name] = t
	}
	return nil
}

// concatParts joins tensors along axis; block-quantized parts join their
// scale grids along the same axis (the fusion pass only fuses parts that
// fill whole blocks there).
func concatParts(parts []*runtime.Tensor, axis int) (*runtime.Tensor, error) {
	first := parts[0]
	out := &runtime.Tensor{DType: first.DType, Shape: append([]int(nil), first.Shape...), Block: first.Block}
	out.Shape[axis] = 0
	var scales []*runtime.Tensor
	for _, t := range parts {
		if t.DType != first.DType || len(t.Shape) != len(first.Shape) || (t.Scale == nil) != (first.Scale == nil) {
			return nil, fmt.Errorf("parts differ in dtype, rank or quantization")
		}
		out.Shape[axis] += t.Shape[axis]
		if t.Scale != nil {
			scales = append(scales, t.Scale)
		}
	}
	outer := 1
	for _, d := range first.Shape[:axis] {
		outer *= d
	}
	inner := func(t *runtime.Tensor) int { return t.Numel() / outer }
	for o := 0; o < outer; o++ {
		for _, t := range parts {
			n := inner(t)
			if t.DType.IsFloat() {
				out.F = append(out.F, t.F[o*n:(o+1)*n]...)
			} else {
				out.I = append(out.I, t.I[o*n:(o+1)*n]...)
			}
		}
	}
	if len(scales) > 0 {
		s, err := concatParts(scales, axis)
		if err != nil {
			return nil, err
		}
		out.Scale = s
	}
	return out, out.Check()
}
