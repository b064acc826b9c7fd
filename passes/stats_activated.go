package passes

import (
	"github.com/deepc-dev/deepc/ir"
)

// frac is the fraction num/den of a tensor's elements one token reads.
type frac struct{ num, den int64 }

var (
	none = frac{0, 1}
	all  = frac{1, 1}
)

func (a frac) less(b frac) bool { return a.num*b.den < b.num*a.den }

func maxFrac(a, b frac) frac {
	if a.less(b) {
		return b
	}
	return a
}

// use is one operand slot that reads a value.
type use struct {
	op  *ir.Op
	arg int
}

// activatedParams sums, over the params f reads, the elements one token
// reads: all of them, except for a param that reaches only operand 1 (the
// expert weights [E, out, in]) of grouped_linear ops, directly or through
// views, of which a token reads k experts of E.
func activatedParams(m *ir.Module, f *ir.Func) int64 {
	a := newActivation(f)
	fracs := map[string]frac{}
	for _, op := range a.ops {
		if !op.Is(ir.OpParam) {
			continue
		}
		name, _ := op.Attrs.Str("name")
		fr, ok := fracs[name]
		if !ok {
			fr = none
		}
		fracs[name] = maxFrac(fr, a.reach(op.Result()))
	}
	var total int64
	for name, fr := range fracs {
		if p := m.Param(name); p != nil {
			// numel*k is divisible by E when the weight is [E, out, in]
			// itself; a param reshaped or sliced on the way may not be, and
			// then the count is rounded down.
			total += numel(p) * fr.num / fr.den
		}
	}
	return total
}

// activation traces values forward through f's live ops.
type activation struct {
	ops    []*ir.Op
	uses   map[*ir.Value][]use
	result map[*ir.Value]bool
	memo   map[*ir.Value]frac
}

func newActivation(f *ir.Func) *activation {
	a := &activation{ops: live(f), uses: map[*ir.Value][]use{}, result: map[*ir.Value]bool{}, memo: map[*ir.Value]frac{}}
	for _, op := range a.ops {
		for i, v := range op.Args {
			a.uses[v] = append(a.uses[v], use{op, i})
		}
	}
	for _, r := range f.Results {
		a.result[r] = true
	}
	return a
}

// reach is the largest fraction of v any of its users reads per token.
func (a *activation) reach(v *ir.Value) frac {
	if fr, ok := a.memo[v]; ok {
		return fr
	}
	fr := none
	if a.result[v] {
		fr = all
	}
	for _, u := range a.uses[v] {
		fr = maxFrac(fr, a.useFrac(u))
	}
	a.memo[v] = fr
	return fr
}

// useFrac is the fraction of an operand one use reads per token.
func (a *activation) useFrac(u use) frac {
	switch {
	case (u.op.Is(ir.OpGroupedLinear) || u.op.Is(ir.OpGroupedGEMM)) && u.arg == 1:
		return expertFrac(u.op)
	case isView(u.op):
		fr := none
		for _, r := range u.op.Results {
			fr = maxFrac(fr, a.reach(r))
		}
		return fr
	}
	return all
}

// expertFrac is k/E for grouped_linear(x, w[E, out, in], idx[T, k]), and
// for grouped_gemm(x, w, count) whose count comes from moe_dispatch(idx).
// Symbolic k or E cannot be counted and are taken as all experts.
func expertFrac(op *ir.Op) frac {
	routing := op.Args[2]
	if op.Is(ir.OpGroupedGEMM) {
		if d := routing.Def; d.Is(ir.OpMoEDispatch) {
			routing = d.Args[0]
		} else {
			return all
		}
	}
	w, idx := op.Args[1].Type.Shape, routing.Type.Shape
	if len(w) != 3 || len(idx) != 2 || w[0].IsSym() || idx[1].IsSym() || w[0].N <= 0 || idx[1].N > w[0].N {
		return all
	}
	return frac{idx[1].N, w[0].N}
}

// isView reports ops that pass their operand's elements on without
// computing with them: data movement (the injective kind) and dtype casts.
// A weight reaches grouped_linear through these (reshaped, cast) and is
// still only read expert by expert.
func isView(op *ir.Op) bool {
	d := op.Def()
	return d != nil && (d.Kind == ir.Injective || op.Is(ir.OpCast))
}
