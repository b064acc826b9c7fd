package ir

import (
	"errors"
	"fmt"
)

// Rule is one rewrite: where Pat matches an op's result, Rewrite builds
// the value that replaces it (through rw, which inserts before the op) or
// returns nil (or the op's own result) to decline, and whatever it built
// is removed.
//
// The root, the op Pat's top level names, is replaced and erased, so it
// must be a pure op with one result; rules are never tried on others.
type Rule struct {
	Name    string
	Pat     *Pat
	Rewrite func(rw *Rewriter, m *Match) *Value
}

// Rewriter is what a rule builds with: a Builder inserting before the
// matched op, with its location, and the function's Editor for rules that
// look at uses.
type Rewriter struct {
	*Builder
	Ed    *Editor
	added []*Op
}

// Rules is a rule set, indexed by the root's op. For one op, rules are
// tried in the order given.
type Rules struct {
	byOp map[*OpDef][]*Rule
}

// NewRules indexes rules by their roots' ops. A rule whose pattern names
// no op at its top is a programming error and panics.
func NewRules(rules ...Rule) *Rules {
	rs := &Rules{byOp: map[*OpDef][]*Rule{}}
	for i := range rules {
		r := &rules[i]
		if r.Pat == nil || r.Rewrite == nil || !r.Pat.wellFormed() {
			panic(fmt.Sprintf("ir: rule %s: a nil pattern, sub-pattern or rewrite", r.Name))
		}
		if len(r.Pat.Ops) == 0 {
			panic(fmt.Sprintf("ir: rule %s: the pattern's root must name its op", r.Name))
		}
		for _, d := range r.Pat.Ops {
			rs.byOp[d] = append(rs.byOp[d], r)
		}
	}
	return rs
}

// rewritesPerOp bounds the greedy driver: every sound rule set makes a
// function simpler, so a few rewrites per op reach the fixed point; more
// means two rules undo each other.
const rewritesPerOp = 100

// ApplyModule applies the rules to every function of m.
func (rs *Rules) ApplyModule(m *Module) (bool, error) {
	changed := false
	for _, f := range m.Funcs {
		c, err := rs.Apply(f)
		if err != nil {
			return changed, err
		}
		changed = changed || c
	}
	return changed, nil
}

// Apply rewrites f with the rules until none applies. It is a greedy
// worklist driver: ops are visited in body order, so operands are
// simplified before their users, and after a rewrite the new ops and the
// users of the replacement are visited again. A rule's Builder error
// stops the driver and is returned with the rule's name and location.
func (rs *Rules) Apply(f *Func) (bool, error) {
	ed := NewEditor(f)
	work := newWorklist(f.Body)
	budget := rewritesPerOp * (len(f.Body) + 1)
	changed := false
	for op := work.pop(); op != nil; op = work.pop() {
		if !ed.Live(op) || len(op.Results) != 1 || !op.Pure() {
			continue
		}
		rule, rw, v, err := rs.first(ed, op)
		if err != nil {
			return changed, errors.Join(err, ed.Commit())
		}
		if v == nil {
			continue
		}
		if !v.Type.Equal(op.Result().Type) {
			return changed, errors.Join(fmt.Errorf("func @%s: rule %s at %s replaces a %s value by a %s one", f.Name, rule.Name, op.Loc, op.Result().Type, v.Type), ed.Commit())
		}
		if budget--; budget < 0 {
			return changed, errors.Join(fmt.Errorf("func @%s: rules did not reach a fixed point (rule %s still applies at %s)", f.Name, rule.Name, op.Loc), ed.Commit())
		}
		users, _ := ed.Users(op.Result())
		ed.ReplaceAllUses(op.Result(), v)
		ed.Erase(op)
		work.push(rw.added...)
		work.push(users...)
		changed = true
	}
	return changed, ed.Commit()
}

// first tries op's rules in order and returns the first that applies,
// with its replacement; rules that decline leave nothing behind.
func (rs *Rules) first(ed *Editor, op *Op) (*Rule, *Rewriter, *Value, error) {
	for _, r := range rs.byOp[op.Def()] {
		m, ok := r.Pat.Match(op.Result())
		if !ok {
			continue
		}
		rw := &Rewriter{Ed: ed}
		rw.Builder = &Builder{F: ed.F, Loc: op.Loc, insert: func(n *Op) { ed.InsertBefore(op, n); rw.added = append(rw.added, n) }}
		v := r.Rewrite(rw, m)
		if v == op.Result() {
			v = nil
		}
		err := rw.Err()
		if v != nil && err == nil {
			return r, rw, v, nil
		}
		for i := len(rw.added) - 1; i >= 0; i-- {
			ed.Erase(rw.added[i])
		}
		if err != nil {
			return r, nil, nil, fmt.Errorf("func @%s: rule %s at %s: %w", ed.F.Name, r.Name, op.Loc, err)
		}
	}
	return nil, nil, nil, nil
}

// worklist is a FIFO of ops, each queued at most once at a time.
type worklist struct {
	q      []*Op
	queued map[*Op]bool
}

func newWorklist(ops []*Op) *worklist {
	w := &worklist{queued: map[*Op]bool{}}
	w.push(ops...)
	return w
}

func (w *worklist) push(ops ...*Op) {
	for _, op := range ops {
		if !w.queued[op] {
			w.queued[op] = true
			w.q = append(w.q, op)
		}
	}
}

func (w *worklist) pop() *Op {
	if len(w.q) == 0 {
		return nil
	}
	op := w.q[0]
	w.q = w.q[1:]
	delete(w.queued, op)
	return op
}
