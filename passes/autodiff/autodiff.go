// Package autodiff is reverse-mode differentiation over the IR: from a
// function and a scalar loss it builds a function that returns the loss
// and its gradient with respect to chosen params, as ordinary IR ops that
// every backend runs. Each op's vector-Jacobian product is one entry of the
// rules table (rules.go); ops without a gradient say why (noGradient).
package autodiff

import (
	"fmt"
	"slices"

	"github.com/deepc-dev/deepc/ir"
)

// Grad adds to m a function named name that computes result lossIdx of f
// (a scalar float) and the gradients of it with respect to each param in
// wrt, in that order, as f32 tensors of the params' shapes. A param that
// the loss does not depend on gets zeros.
func Grad(m *ir.Module, f *ir.Func, lossIdx int, wrt []string, name string) (*ir.Func, error) {
	if lossIdx < 0 || lossIdx >= len(f.Results) {
		return nil, fmt.Errorf("func @%s has no result %d", f.Name, lossIdx)
	}
	if m.Func(name) != nil {
		return nil, fmt.Errorf("module already has a func @%s", name)
	}
	g := f.Clone(name)
	// Gradients are defined on built-in ops: a composite is differentiated
	// through its decomposition.
	if _, err := ir.ExpandComposites(g, nil, nil); err != nil {
		return nil, err
	}
	loss := g.Results[lossIdx]
	if len(loss.Type.Shape) != 0 || !loss.Type.DType.IsFloat() {
		return nil, fmt.Errorf("the loss must be a float scalar, got %s", loss.Type)
	}
	b := newBuilder(g)
	grads, err := backward(b, g, loss, wrt, m)
	if err != nil {
		return nil, err
	}
	results := append([]*ir.Value{loss}, grads...)
	g.Results = results
	m.Funcs = append(m.Funcs, g)
	if err := ir.Verify(m); err != nil {
		return nil, fmt.Errorf("the gradient function does not verify (an autodiff bug): %w", err)
	}
	return g, nil
}

// backward appends to f (through b) the gradient of the scalar loss with
// respect to each param in wrt, as f32 values of the params' shapes.
func backward(b *builder, f *ir.Func, loss *ir.Value, wrt []string, m *ir.Module) ([]*ir.Value, error) {
	return backwardWith(b, f, loss, wrt, m, nil)
}

// backwardWith is backward where the forward values for which recompute
// is true are not read by the gradient ops: they are computed again (their
// op cloned, recursively) where the backward first needs them, so the
// forward ones can be freed once the forward is done with them.
func backwardWith(b *builder, f *ir.Func, loss *ir.Value, wrt []string, m *ir.Module, recompute func(*ir.Value) bool) ([]*ir.Value, error) {
	again := map[*ir.Value]*ir.Value{}
	var fresh func(v *ir.Value) *ir.Value
	fresh = func(v *ir.Value) *ir.Value {
		if recompute == nil || v.Def == nil || !recompute(v) {
			return v
		}
		if r, ok := again[v]; ok {
			return r
		}
		b.copyOp(v.Def, fresh, again)
		return again[v]
	}
	ct := map[*ir.Value]*ir.Value{loss: b.constant(1, loss.Type.DType)}
	// Params: cotangents of every read of each one.
	reads := map[string][]*ir.Value{}
	live := liveOps(f, loss)
	active := activeOps(f, wrt)
	body := slices.Clone(f.Body)
	for i := len(body) - 1; i >= 0; i-- {
		op := body[i]
		if !live[op] || !active[op] {
			continue
		}
		dys := make([]*ir.Value, len(op.Results))
		any := false
		for j, r := range op.Results {
			dys[j] = ct[r]
			any = any || dys[j] != nil
		}
		if !any {
			continue
		}
		if op.Is(ir.OpParam) {
			pname, _ := op.Attrs.Str("name")
			reads[pname] = append(reads[pname], dys[0])
			continue
		}
		rule, ok := rules[op.Def()]
		if !ok && !hasFloatArg(op) {
			continue // a leaf (a constant): nothing to pass the gradient to
		}
		if !ok {
			why := noGradient[op.Def()]
			if why == "" {
				why = "no gradient rule"
			}
			return nil, fmt.Errorf("op %s at %s: cannot differentiate: %s", op.Name, op.Loc, why)
		}
		b.loc = op.Loc
		view := op
		if recompute != nil { // the rule reads recomputed operands and results
			view = &ir.Op{Name: op.Name, Attrs: op.Attrs, Loc: op.Loc, Args: make([]*ir.Value, len(op.Args)), Results: make([]*ir.Value, len(op.Results))}
			for i, a := range op.Args {
				view.Args[i] = fresh(a)
			}
			for i, r := range op.Results {
				view.Results[i] = fresh(r)
			}
		}
		dxs := rule(b, view, dys)
		if b.err != nil {
			return nil, fmt.Errorf("gradient of %s at %s: %w", op.Name, op.Loc, b.err)
		}
		for j, dx := range dxs {
			if dx == nil || j >= len(op.Args) {
				continue
			}
			a := op.Args[j]
			if !a.Type.DType.IsFloat() {
				continue
			}
			if !dx.Type.Shape.Equal(a.Type.Shape) {
				return nil, fmt.Errorf("gradient of %s at %s: operand %d gets %s, want %s", op.Name, op.Loc, j, dx.Type.Shape, a.Type.Shape)
			}
			if want := cotangentDType(a.Type.DType); dx.Type.DType != want {
				dx = b.cast(dx, want)
			}
			if prev := ct[a]; prev != nil {
				dx = b.op1(ir.OpAdd, []*ir.Value{prev, dx}, nil)
			}
			ct[a] = dx
		}
	}
	var grads []*ir.Value
	for _, pn := range wrt {
		p := m.Param(pn)
		if p == nil {
			return nil, fmt.Errorf("no param %q", pn)
		}
		var sum *ir.Value
		for _, d := range reads[pn] {
			d = b.cast(d, ir.F32)
			if sum == nil {
				sum = d
			} else {
				sum = b.op1(ir.OpAdd, []*ir.Value{sum, d}, nil)
			}
		}
		if sum == nil {
			sum = b.zeros(p.Type.Shape, ir.F32)
		}
		grads = append(grads, sum)
	}
	return grads, b.err
}

// activeOps marks the ops that depend on a param in wrt: only they pass
// gradients on (a constant subgraph, such as one-hot expert counts, needs
// no rule).
func activeOps(f *ir.Func, wrt []string) map[*ir.Op]bool {
	want := map[string]bool{}
	for _, n := range wrt {
		want[n] = true
	}
	active := map[*ir.Op]bool{}
	act := map[*ir.Value]bool{}
	for _, op := range f.Body {
		on := false
		if op.Is(ir.OpParam) {
			n, _ := op.Attrs.Str("name")
			on = want[n]
		}
		for _, a := range op.Args {
			on = on || act[a]
		}
		if on {
			active[op] = true
			for _, r := range op.Results {
				act[r] = r.Type.DType.IsFloat() // indices carry no gradient
			}
		}
	}
	return active
}

// liveOps marks the ops the value v depends on.
func liveOps(f *ir.Func, v *ir.Value) map[*ir.Op]bool {
	live := map[*ir.Op]bool{}
	need := map[*ir.Value]bool{v: true}
	for i := len(f.Body) - 1; i >= 0; i-- {
		op := f.Body[i]
		for _, r := range op.Results {
			if need[r] {
				live[op] = true
				break
			}
		}
		if live[op] {
			for _, a := range op.Args {
				need[a] = true
			}
		}
	}
	return live
}

// Trainable lists the params of m that f reads and that are trainable
// (no trainable = false attribute), in declaration order.
func Trainable(m *ir.Module, f *ir.Func) []string {
	read := map[string]bool{}
	for _, op := range f.Body {
		if op.Is(ir.OpParam) {
			n, _ := op.Attrs.Str("name")
			read[n] = true
		}
	}
	var out []string
	for _, p := range m.Params {
		if t, ok := p.Attrs["trainable"].(bool); ok && !t {
			continue
		}
		if read[p.Name] && p.Type.DType.IsFloat() {
			out = append(out, p.Name)
		}
	}
	return out
}

func hasFloatArg(op *ir.Op) bool {
	for _, a := range op.Args {
		if a.Type.DType.IsFloat() {
			return true
		}
	}
	return false
}

// cotangentDType is the dtype a value's gradient is kept in: the value's
// own, except f32 for fp8 values (the fp8 weights): docs/model.md §5 keeps
// weight gradients in FP32, and an unscaled fp8 gradient would flush most
// of them to zero.
func cotangentDType(dt ir.DType) ir.DType {
	if dt == ir.F8E4M3 || dt == ir.F8E5M2 {
		return ir.F32
	}
	return dt
}
