package passes

import "github.com/deepc-dev/deepc/ir"

// rewriter rebuilds one function's body in a single forward sweep. Before an
// op is visited its operands are mapped through the replacements made so
// far, so a visitor always sees the current form of its inputs and a chain
// of rewrites (folding a constant whose operands were just folded) happens in
// one sweep. Replacements are recorded, not applied to the whole function at
// once, which keeps a sweep linear in the size of the function.
type rewriter struct {
	repl    map[*ir.Value]*ir.Value
	body    []*ir.Op
	pending []*ir.Op // ops emitted while visiting the current op
	cur     *ir.Op
}

// visitor looks at one op (operands already resolved) and reports whether to
// drop it; a visitor that drops an op must first replace its used results.
type visitor func(rw *rewriter, op *ir.Op) (drop bool)

// rewriteFunc sweeps f once with visit and reports whether anything changed.
func rewriteFunc(f *ir.Func, visit visitor) bool {
	rw := &rewriter{repl: map[*ir.Value]*ir.Value{}}
	changed := false
	for _, op := range f.Body {
		for i, a := range op.Args {
			op.Args[i] = rw.resolve(a)
		}
		rw.cur = op
		drop := visit(rw, op)
		if len(rw.pending) > 0 || drop {
			changed = true
		}
		rw.body = append(rw.body, rw.pending...)
		rw.pending = nil
		if !drop {
			rw.body = append(rw.body, op)
		}
	}
	for i, r := range f.Results {
		f.Results[i] = rw.resolve(r)
	}
	f.Body = rw.body
	return changed
}

// resolve follows recorded replacements to the value now standing for v.
func (rw *rewriter) resolve(v *ir.Value) *ir.Value {
	for {
		r, ok := rw.repl[v]
		if !ok {
			return v
		}
		v = r
	}
}

// replace makes later uses of old uses of new.
func (rw *rewriter) replace(old, new *ir.Value) { rw.repl[old] = new }

// emit builds a one-result op placed before the op being visited, with its
// location, and returns the result.
func (rw *rewriter) emit(d *ir.OpDef, args []*ir.Value, attrs ir.Attrs, t ir.Type) *ir.Value {
	op := ir.NewOp(d.Name, args, attrs, []ir.Type{t}, rw.cur.Loc)
	rw.pending = append(rw.pending, op)
	return op.Result()
}

// discard drops ops emitted for the current op (a rule that built
// something and then declined).
func (rw *rewriter) discard() { rw.pending = nil }
