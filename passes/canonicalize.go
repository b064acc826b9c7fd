package passes

import (
	"fmt"

	"github.com/deepc-dev/deepc/ir"
)

func init() {
	Register(NewPass("canonicalize", "fold constants, drop no-op shape ops and algebraic identities (rules to a fixed point)", canonicalize))
}

// rule is one small rewrite. apply returns the value that replaces op's
// (single) result, or nil when the rule does not apply. It may emit new ops
// through rw; they are kept only if it returns a value.
type rule struct {
	name  string
	ops   []*ir.OpDef // the ops the rule looks at
	apply func(rw *rewriter, op *ir.Op) *ir.Value
}

// maxSweeps bounds the fixed-point loop. Every rule makes the function
// strictly simpler, so a well-formed rule set converges in a few sweeps;
// hitting the bound means two rules undo each other.
const maxSweeps = 100

// rulesByOp indexes canonRules by op, keeping table order so that the
// first rule listed for an op is tried first.
var rulesByOp = func() map[*ir.OpDef][]rule {
	idx := map[*ir.OpDef][]rule{}
	for _, r := range canonRules {
		for _, d := range r.ops {
			idx[d] = append(idx[d], r)
		}
	}
	return idx
}()

func canonicalize(_ *Context, m *ir.Module) (bool, error) { return applyToFixedPoint(m, rulesByOp) }

// applyToFixedPoint sweeps each function with the rules until a sweep
// changes nothing.
func applyToFixedPoint(m *ir.Module, rules map[*ir.OpDef][]rule) (bool, error) {
	changed := false
	for _, f := range m.Funcs {
		for sweep := 0; ; sweep++ {
			if sweep == maxSweeps {
				return changed, fmt.Errorf("func @%s: rules did not reach a fixed point in %d sweeps", f.Name, maxSweeps)
			}
			if !rewriteFunc(f, func(rw *rewriter, op *ir.Op) bool { return applyRules(rw, op, rules) }) {
				break
			}
			changed = true
		}
	}
	return changed, nil
}

// applyRules tries op's rules in table order; the first that applies
// replaces op.
func applyRules(rw *rewriter, op *ir.Op, rules map[*ir.OpDef][]rule) bool {
	if len(op.Results) != 1 || !removable(op) {
		return false
	}
	for _, r := range rules[op.Def()] {
		if v := r.apply(rw, op); v != nil {
			rw.replace(op.Result(), v)
			return true
		}
		rw.discard()
	}
	return false
}
