package passes

import (
	"fmt"
	"slices"

	"github.com/deepc-dev/deepc/ir"
)

func init() {
	Register(NewPassWithOptions("moe-lower", "lower grouped_linear experts to dispatch (slots sorted by expert, padded to option moe-block rows) → grouped GEMMs → weighted combine", []Option{
		{Name: "moe-block", Type: TypeInt, Default: fmt.Sprint(DefaultMoEBlock), Description: fmt.Sprintf("pad each expert's dispatched rows to a multiple of this (1 to %d; the GPU's GEMM tile is 128)", MaxMoEBlock)},
	}, runMoELower))
}

// DefaultMoEBlock pads each expert's rows to the GEMM tile height, which is
// also the FP8 scale group: no tile mixes two experts' weights.
const DefaultMoEBlock = 128

// MaxMoEBlock bounds moe-block: each expert's rows are padded to a
// multiple of it, so the padded row count (and every size derived from
// it) grows with the block; beyond a few thousand rows it is no tile size,
// and near 2^63 the affine sizes overflow.
const MaxMoEBlock = 4096

// The experts of one routing, before lowering:
//
//	a = grouped_linear(x [T, d], w1, idx)      [T, k, I] (one row per slot)
//	h = silu(a) * ...                          elementwise on [T, k, I]
//	y = grouped_linear(h, w2, idx)             [T, k, d]
//	out = sum(cast(y, f32) * reshape(w, [T, k, 1]), axis = 1)
//
// and after:
//
//	slot, count = moe_dispatch(idx)            [R] (slot of each row), [E]
//	xs = moe_gather(x, slot) {k}               [R, d]
//	a = grouped_gemm(xs, w1, count)            [R, I]
//	h = silu(a) * ...                          the same ops on [R, I]
//	y = grouped_gemm(h, w2, count)             [R, d]
//	out = moe_combine(cast(y, f32), slot, w)   [T, d]
//
// A slot-level value ([T, k, X] computed from the experts' outputs) is
// rebuilt on rows when every op between is elementwise (or a split or
// slice of the last axis). A routing is lowered only when all of its
// slot-level values stay inside that form and end in the weighted sum;
// otherwise it is left as it is. Both forms compute each row with the same
// ops in the same order, so lowering changes no bit of the result.
func runMoELower(ctx *Context, m *ir.Module) (bool, error) {
	block, err := ctx.IntOption("moe-block", DefaultMoEBlock)
	if err != nil || block <= 0 || block > MaxMoEBlock {
		return false, fmt.Errorf("option moe-block = %q: want an integer from 1 to %d", ctx.Option("moe-block", ""), MaxMoEBlock)
	}
	changed := false
	for _, f := range m.Funcs {
		var plans []*moePlan
		ed := ir.NewEditor(f) // once per function: per layer, use lists made the pass quadratic in layers
		for _, idx := range routings(f) {
			if p := planMoE(ed, idx); p != nil {
				plans = append(plans, p)
			}
		}
		if len(plans) == 0 {
			continue
		}
		if err := lowerMoE(ed, plans, block); err != nil {
			return false, fmt.Errorf("func @%s: %w", f.Name, err)
		}
		changed = true
	}
	return changed, nil
}

// routings lists, in order, the index tensors that grouped_linear ops read.
func routings(f *ir.Func) []*ir.Value {
	seen := map[*ir.Value]bool{}
	var out []*ir.Value
	for _, op := range f.Body {
		if op.Is(ir.OpGroupedLinear) && !seen[op.Args[2]] {
			seen[op.Args[2]] = true
			out = append(out, op.Args[2])
		}
	}
	return out
}

// moePlan is one routing's experts: the ops to rebuild on rows, in order,
// and the sums that become combines (sum op → its slot-level operand and
// the [T, k] weights).
type moePlan struct {
	idx      *ir.Value
	experts  int64
	ops      map[*ir.Op]bool
	combines map[*ir.Op][2]*ir.Value
	dropped  map[*ir.Op]bool // the muls feeding combines
}

// planMoE returns the plan for routing idx, or nil when it does not lower.
func planMoE(ed *ir.Editor, idx *ir.Value) *moePlan {
	s := idx.Type.Shape
	if len(s) != 2 || s[1].IsSym() {
		return nil
	}
	p := &moePlan{idx: idx, experts: -1, ops: map[*ir.Op]bool{}, combines: map[*ir.Op][2]*ir.Value{}, dropped: map[*ir.Op]bool{}}
	slotLevel := map[*ir.Value]bool{}
	for _, op := range ed.F.Body {
		if op.Is(ir.OpGroupedLinear) && op.Args[2] == idx {
			w := op.Args[1].Type.Shape
			if w[0].IsSym() || (p.experts >= 0 && w[0].N != p.experts) {
				return nil
			}
			x := op.Args[0]
			if !slotLevel[x] && (len(x.Type.Shape) != 2 || x.Type.Shape[0] != s[0]) {
				return nil
			}
			p.experts = w[0].N
			p.ops[op] = true
			slotLevel[op.Result()] = true
			continue
		}
		if !slices.ContainsFunc(op.Args, func(a *ir.Value) bool { return slotLevel[a] }) {
			continue // cheap: most ops touch no slot-level value (rowOp's table lookups made this scan dominate)
		}
		if rowOp(op, slotLevel) {
			p.ops[op] = true
			for _, r := range op.Results {
				slotLevel[r] = true
			}
		}
	}
	if len(p.ops) == 0 {
		return nil
	}
	// Every use of a slot-level value must be rebuilt or be a combine.
	for v := range slotLevel {
		users, result := ed.Users(v)
		if result {
			return nil
		}
		for _, u := range users {
			if p.ops[u] || p.dropped[u] {
				continue
			}
			sum, w, ok := combinePattern(ed, u, v, s)
			if !ok {
				return nil
			}
			p.dropped[u] = true
			p.combines[sum] = [2]*ir.Value{v, w}
		}
	}
	if len(p.combines) == 0 {
		return nil
	}
	return p
}

// rowOp reports whether op maps slot-level operands to slot-level results
// row by row: elementwise ops whose operands are all slot-level values of
// one shape (or scalars), and splits and slices of the last axis.
func rowOp(op *ir.Op, slotLevel map[*ir.Value]bool) bool {
	def := op.Def()
	switch {
	case def == nil || len(op.Args) == 0:
		return false
	case op.Is(ir.OpSplit) || op.Is(ir.OpSlice):
		ax, ok := op.Attrs.Int("axis")
		return slotLevel[op.Args[0]] && ok && (ax == -1 || ax == 2)
	case def.Kind != ir.Elementwise && def.Kind != ir.Broadcast:
		return false
	}
	var shape ir.Shape
	for _, a := range op.Args {
		switch {
		case slotLevel[a] && (shape == nil || a.Type.Shape.Equal(shape)):
			shape = a.Type.Shape
		case len(a.Type.Shape) == 0:
		default:
			return false
		}
	}
	return shape != nil && op.Results[0].Type.Shape.Equal(shape)
}

// combinePattern matches mul(v, reshape(w, [T, k, 1])) (either order),
// used once, by sum(axis = 1): the weighted sum over a token's experts.
func combinePattern(ed *ir.Editor, mul *ir.Op, v *ir.Value, idx ir.Shape) (*ir.Op, *ir.Value, bool) {
	if !mul.Is(ir.OpMul) || v.Type.DType != ir.F32 {
		return nil, nil, false
	}
	other := mul.Args[0]
	if other == v {
		other = mul.Args[1]
	}
	r := other.Def
	if !r.Is(ir.OpReshape) || !other.Type.Shape.Equal(ir.Shape{idx[0], idx[1], ir.C(1)}) {
		return nil, nil, false
	}
	w := r.Args[0]
	if w.Type.DType != ir.F32 || !w.Type.Shape.Equal(idx) || !mul.Result().Type.Shape.Equal(v.Type.Shape) {
		return nil, nil, false
	}
	us, result := ed.Users(mul.Result())
	if result || len(us) != 1 || !us[0].Is(ir.OpSum) {
		return nil, nil, false
	}
	sum := us[0]
	ax, _ := sum.Attrs.Int("axis")
	keep, _ := sum.Attrs.Bool("keepdim")
	if (ax != 1 && ax != -2) || keep {
		return nil, nil, false
	}
	return sum, w, true
}

// lowerMoE rebuilds the planned ops on dispatched rows in one sweep.
func lowerMoE(ed *ir.Editor, plans []*moePlan, block int64) error {
	planOf := map[*ir.Op]*moePlan{}
	for _, p := range plans {
		for op := range p.ops {
			planOf[op] = p
		}
		for op := range p.dropped {
			planOf[op] = p
		}
		for op := range p.combines {
			planOf[op] = p
		}
	}
	type dispatch struct{ slot, count *ir.Value }
	dispatched := map[*moePlan]dispatch{}
	gathered := map[[2]*ir.Value]*ir.Value{} // (x, slot) → rows
	rows := map[*ir.Value]*ir.Value{}        // slot-level value → its rows
	for _, op := range ed.F.Body {
		p := planOf[op]
		if p == nil {
			continue
		}
		b := ed.Before(op)
		d, ok := dispatched[p]
		if !ok {
			r := b.OpN(ir.OpMoEDispatch, []*ir.Value{p.idx}, ir.Attrs{"experts": p.experts, "block": block})
			d = dispatch{r[0], r[1]}
			dispatched[p] = d
		}
		k := p.idx.Type.Shape[1].N
		switch {
		case p.dropped[op]:
		case p.combines[op] != [2]*ir.Value{}:
			c := p.combines[op]
			ed.ReplaceAllUses(op.Result(), b.Op(ir.OpMoECombine, []*ir.Value{rows[c[0]], d.slot, c[1]}, nil))
		case op.Is(ir.OpGroupedLinear):
			x := op.Args[0]
			xr, ok := rows[x]
			if !ok {
				key := [2]*ir.Value{x, d.slot}
				if xr = gathered[key]; xr == nil {
					xr = b.Op(ir.OpMoEGather, []*ir.Value{x, d.slot}, ir.Attrs{"k": k})
					gathered[key] = xr
				}
			}
			rows[op.Result()] = b.Op(ir.OpGroupedGEMM, []*ir.Value{xr, op.Args[1], d.count}, ir.Attrs{"block": block})
		default:
			args := make([]*ir.Value, len(op.Args))
			for i, a := range op.Args {
				if args[i] = rows[a]; args[i] == nil {
					args[i] = a // a scalar
				}
			}
			attrs := op.Attrs.Clone()
			if op.Is(ir.OpSplit) || op.Is(ir.OpSlice) {
				attrs["axis"] = int64(-1)
			}
			var rs []*ir.Value
			if op.Def().IsComposite() {
				// Its signature is for the slot-level shapes: on rows
				// it runs as its decomposition.
				rs = b.Inline(op.Def(), args)
			} else {
				rs = b.OpN(op.Def(), args, attrs)
			}
			for i, r := range rs {
				if i < len(op.Results) {
					rows[op.Results[i]] = r
				}
			}
		}
		if b.Err() != nil {
			return fmt.Errorf("at %s: %s: %w", op.Loc, op.Name, b.Err())
		}
		ed.Erase(op)
	}
	return ed.Commit()
}
