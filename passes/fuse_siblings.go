package passes

import (
	"fmt"
	"strings"

	"github.com/deepc-dev/deepc/ir"
)

func init() {
	Register(NewPass("fuse-siblings", "merge linears (and grouped_linears) that read the same input into one GEMM over concatenated weights, then split", runFuseSiblings))
}

// A fused weight is a module param whose value is its parts concatenated
// along FusedAxisAttr; the runtime builds it when binding weights, so the
// concatenation costs nothing per call.
const (
	FusedPartsAttr = "concat_of" // the parts' names joined by ","
	FusedAxisAttr  = "concat_axis"
)

// weightOp says, per op, which operand is the weight, which operands must
// be shared for two ops to be siblings, and the weight's output axis.
var weightOp = map[*ir.OpDef]struct {
	weight int
	shared []int
	outAx  int
}{
	ir.OpLinear:        {weight: 1, shared: []int{0}, outAx: 0},
	ir.OpGroupedLinear: {weight: 1, shared: []int{0, 2}, outAx: 1},
}

// runFuseSiblings finds, in every function, ops of the same kind reading the
// same inputs with weights that are plain params of one dtype and
// quantization, and replaces them with one op over a fused param followed
// by a split. Block-quantized parts fuse only when every part but the last
// fills whole blocks along the output axis, so the fused scale grid is the
// parts' grids stacked.
func runFuseSiblings(_ *Context, m *ir.Module) (bool, error) {
	changed := false
	for _, f := range m.Funcs {
		groups := map[string][]*ir.Op{}
		var order []string
		for _, op := range f.Body {
			key, ok := siblingKey(m, op)
			if !ok {
				continue
			}
			if _, seen := groups[key]; !seen {
				order = append(order, key)
			}
			groups[key] = append(groups[key], op)
		}
		fuse := map[*ir.Op][]*ir.Op{} // first op of a group → the group
		fused := map[*ir.Op]bool{}    // every op of a fused group
		for _, k := range order {
			if g := groups[k]; len(g) > 1 && blocksAlign(m, g) {
				fuse[g[0]] = g
				for _, op := range g {
					fused[op] = true
				}
			}
		}
		if len(fuse) == 0 {
			continue
		}
		ed := ir.NewEditor(f)
		for _, op := range f.Body {
			if g, ok := fuse[op]; ok {
				if err := fuseGroup(m, ed, g); err != nil {
					return false, err
				}
			}
			// The group's results now come from the fused op's split.
			if fused[op] {
				ed.Erase(op)
			}
		}
		if err := ed.Commit(); err != nil {
			return false, err
		}
		changed = true
	}
	return changed, nil
}

// siblingKey groups fusable ops: op kind, shared operands, weight dtype,
// quantization and input dim.
func siblingKey(m *ir.Module, op *ir.Op) (string, bool) {
	spec, ok := weightOp[op.Def()]
	if !ok {
		return "", false
	}
	w := op.Args[spec.weight]
	p := paramOf(m, w)
	if p == nil || p.Attrs[FusedPartsAttr] != nil {
		return "", false
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s|%s|%s", op.Name, w.Type.DType, ir.FormatAttr(p.Attrs["quant"]))
	for _, i := range spec.shared {
		fmt.Fprintf(&b, "|%p", op.Args[i])
	}
	s := w.Type.Shape
	for i, d := range s {
		if i != spec.outAx {
			fmt.Fprintf(&b, "|%s", d)
		}
	}
	return b.String(), true
}

// paramOf returns the param v reads directly, if any.
func paramOf(m *ir.Module, v *ir.Value) *ir.Param {
	if !v.Def.Is(ir.OpParam) {
		return nil
	}
	name, _ := v.Def.Attrs.Str("name")
	return m.Param(name)
}

func blocksAlign(m *ir.Module, g []*ir.Op) bool {
	spec := weightOp[g[0].Def()]
	for _, op := range g[:len(g)-1] {
		w := op.Args[spec.weight]
		q, ok := paramOf(m, w).Attrs.Ints("quant")
		if !ok {
			continue
		}
		// quant blocks cover the last two axes; the output axis is the
		// second to last for both linear and grouped_linear weights.
		if w.Type.Shape[spec.outAx].N%q[0] != 0 {
			return false
		}
	}
	return true
}

// fuseGroup emits the fused op and splits its result among the group.
func fuseGroup(m *ir.Module, ed *ir.Editor, g []*ir.Op) error {
	spec := weightOp[g[0].Def()]
	var names []string
	var sizes []int64
	for _, op := range g {
		p := paramOf(m, op.Args[spec.weight])
		names = append(names, p.Name)
		sizes = append(sizes, p.Type.Shape[spec.outAx].N)
	}
	first := paramOf(m, g[0].Args[spec.weight])
	name := "fused(" + strings.Join(names, ",") + ")"
	p := m.Param(name)
	if p == nil {
		shape := append(ir.Shape(nil), first.Type.Shape...)
		var total int64
		for _, n := range sizes {
			total += n
		}
		shape[spec.outAx] = ir.C(total)
		attrs := first.Attrs.Clone()
		if attrs == nil {
			attrs = ir.Attrs{}
		}
		delete(attrs, "init")
		attrs[FusedPartsAttr] = strings.Join(names, ",")
		attrs[FusedAxisAttr] = int64(spec.outAx)
		p = &ir.Param{Name: name, Type: ir.Type{Shape: shape, DType: first.Type.DType}, Attrs: attrs}
		m.Params = append(m.Params, p)
	}
	b := ed.Before(g[0])
	args := append([]*ir.Value(nil), g[0].Args...)
	args[spec.weight] = b.Param(p)
	parts := b.Split(b.Op(g[0].Def(), args, nil), -1, sizes...)
	if b.Err() != nil {
		return fmt.Errorf("fuse-siblings: at %s: %w", g[0].Loc, b.Err())
	}
	for i, op := range g {
		ed.ReplaceAllUses(op.Result(), parts[i])
	}
	return nil
}
