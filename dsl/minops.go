package dsl

import (
	"math/bits"

	"github.com/deepc-dev/deepc/ir"
)

// A lower bound on the ops that running some statements builds, if they run
// without error: what a loop's preflight multiplies by its trip count
// (preflight.go). It is read off the AST without running anything: every
// call of a built-in op builds one; a block call builds what its body
// does; an arithmetic operator or a negation builds one when an operand is
// surely a tensor (a tensor argument or param, the result of an op or of a
// block declared to return a tensor, or of such arithmetic); an `if`
// builds the fewer of its branches, `and`/`or` only their left operand, a
// nested loop its trip count times its body when its bounds are constant
// (else nothing: it may run no iteration). Anything unsure counts zero,
// so the bound never refuses a loop that would fit.

// minOps holds what the bound knows of the blocks in scope.
type minOps struct {
	c      *compiler
	blocks map[*BlockAST]int64
	busy   map[*BlockAST]bool // being measured: a recursive call counts 0
	depth  int                // blocks being measured, at most maxCallDepth
	work   int                // statements visited (maxBoundWork)
}

// maxBoundWork bounds the statements the preflights of one compile visit:
// a loop finds its facts as a fixpoint (loop), a pass per name lost, over
// a body whose loops do the same, and a loop in a loop is preflighted at
// each iteration of the outer one. Past this the bound gives up on loops
// (counts them zero), which keeps it sound.
const maxBoundWork = 1 << 20

func (c *compiler) minOps() *minOps {
	if c.bound == nil {
		c.bound = &minOps{c: c, blocks: map[*BlockAST]int64{}, busy: map[*BlockAST]bool{}}
	}
	return c.bound
}

// facts is what the bound knows at a point of a body: the names surely
// bound to tensors, and the names the body binds (a call through one of
// them may reach any block).
type facts struct {
	tensors map[string]bool
	local   map[string]bool
}

func (f facts) clone() facts {
	t := make(map[string]bool, len(f.tensors))
	for k, v := range f.tensors {
		t[k] = v
	}
	return facts{tensors: t, local: f.local}
}

// meet keeps the tensors that both branches leave.
func (f facts) meet(g facts) facts {
	out := facts{tensors: map[string]bool{}, local: f.local}
	for k := range f.tensors {
		if g.tensors[k] {
			out.tensors[k] = true
		}
	}
	return out
}

// loopBody bounds one iteration of a loop running in scope sc.
func (m *minOps) loopBody(s *ForStmt, sc *scope) int64 {
	local := map[string]bool{s.Var: true}
	boundNames(s.Body, local)
	for k := range sc.vars {
		local[k] = true
	}
	f := facts{tensors: map[string]bool{}, local: local}
	for k, v := range sc.vars {
		if _, ok := v.(*ir.Value); ok {
			f.tensors[k] = true
		}
	}
	n, _ := m.loop(s, f)
	return n
}

// loop bounds one iteration of a loop entered with facts f, and returns
// the facts that hold at the start of every iteration, and so after the
// loop: found as a fixpoint, the names bound to tensors on entry that the
// body leaves bound to tensors (it may reassign them: `h = layer(h)`).
func (m *minOps) loop(s *ForStmt, f facts) (int64, facts) {
	f = f.clone()
	delete(f.tensors, s.Var)
	for {
		if m.work > maxBoundWork {
			inBody := map[string]bool{}
			boundNames(s.Body, inBody)
			for k := range inBody {
				delete(f.tensors, k)
			}
			return 0, f
		}
		n, end := m.stmts(s.Body, f.clone())
		next := f.meet(end)
		delete(next.tensors, s.Var)
		if len(next.tensors) == len(f.tensors) {
			return n, f
		}
		f = next
	}
}

// block bounds one call of a block (its body; arguments are the caller's).
func (m *minOps) block(d *BlockAST) int64 {
	if n, ok := m.blocks[d]; ok {
		return n
	}
	if m.busy[d] || m.depth >= maxCallDepth {
		return 0 // a recursive call, or a chain deeper than any call may run
	}
	m.busy[d] = true
	m.depth++
	defer func() { m.depth-- }()
	f := facts{tensors: map[string]bool{}, local: map[string]bool{}}
	for _, a := range d.Args {
		f.local[a.Name] = true
		if a.Type != nil && a.Type.Tensor != nil {
			f.tensors[a.Name] = true
		}
	}
	boundNames(d.Body, f.local)
	n, _ := m.stmts(d.Body, f)
	delete(m.busy, d)
	m.blocks[d] = n
	return n
}

// stmts bounds statements and returns the facts after them when they run
// to their end.
func (m *minOps) stmts(ss []*Stmt, f facts) (int64, facts) {
	var n int64
	counting := true
	for _, s := range ss {
		var k int64
		k, f = m.stmt(s, f)
		if counting {
			n = satAdd(n, k)
		}
		if mayReturn([]*Stmt{s}) {
			counting = false // what follows may not run
		}
	}
	return n, f
}

func (m *minOps) stmt(s *Stmt, f facts) (int64, facts) {
	m.work++
	var n int64
	switch {
	case s.Param != nil:
		for _, d := range s.Param.Type.Dims {
			n = satAdd(n, m.expr(d, f).n)
		}
		for _, kw := range s.Param.Attrs {
			n = satAdd(n, m.expr(kw.Value, f).n)
		}
		f = f.clone()
		f.tensors[s.Param.Name] = true
	case s.If != nil:
		return m.ifStmt(s.If, f)
	case s.For != nil:
		from, to := m.expr(s.For.From, f), m.expr(s.For.To, f)
		n = satAdd(from.n, to.n)
		per, after := m.loop(s.For, f)
		if from.constant && to.constant && !mayReturn(s.For.Body) {
			// Constant bounds give the trips: `for j in 0..n_heads`.
			a, ok1 := m.c.tryEval(s.For.From)
			b, ok2 := m.c.tryEval(s.For.To)
			lo, ok3 := a.(int64)
			hi, ok4 := b.(int64)
			if ok1 && ok2 && ok3 && ok4 && hi > lo {
				n = satAdd(n, satMul(uint64(hi)-uint64(lo), per))
			}
		}
		f = after
	case s.Return != nil:
		for _, e := range s.Return.Values {
			n = satAdd(n, m.expr(e, f).n)
		}
	case s.Assert != nil:
		n = m.expr(s.Assert.Cond, f).n
	case s.Assign != nil:
		v := m.expr(s.Assign.Value, f)
		n = v.n
		f = f.clone()
		for _, t := range s.Assign.Targets {
			delete(f.tensors, t.Name)
		}
		if len(s.Assign.Targets) == 1 && v.tensor {
			f.tensors[s.Assign.Targets[0].Name] = true
		}
	}
	return n, f
}

func (m *minOps) ifStmt(s *IfStmt, f facts) (int64, facts) {
	n := m.expr(s.Cond, f).n
	thenN, thenF := m.stmts(s.Then, f.clone())
	elseN, elseF := int64(0), f
	switch {
	case s.Else == nil:
	case s.Else.If != nil:
		elseN, elseF = m.ifStmt(s.Else.If, f.clone())
	default:
		elseN, elseF = m.stmts(s.Else.Body, f.clone())
	}
	return satAdd(n, min(thenN, elseN)), thenF.meet(elseF)
}

// boundNames adds the names statements bind (assignments, params, loop
// variables), at any depth, to names.
func boundNames(ss []*Stmt, names map[string]bool) {
	for _, s := range ss {
		switch {
		case s.Param != nil:
			names[s.Param.Name] = true
		case s.Assign != nil:
			for _, t := range s.Assign.Targets {
				names[t.Name] = true
			}
		case s.For != nil:
			names[s.For.Var] = true
			boundNames(s.For.Body, names)
		case s.If != nil:
			for i := s.If; i != nil; {
				boundNames(i.Then, names)
				if i.Else == nil {
					break
				}
				boundNames(i.Else.Body, names)
				i = i.Else.If
			}
		}
	}
}

// mayReturn reports whether statements hold a return at any depth.
func mayReturn(ss []*Stmt) bool {
	for _, s := range ss {
		switch {
		case s.Return != nil:
			return true
		case s.For != nil:
			if mayReturn(s.For.Body) {
				return true
			}
		case s.If != nil:
			for i := s.If; i != nil; {
				if mayReturn(i.Then) {
					return true
				}
				if i.Else == nil {
					break
				}
				if mayReturn(i.Else.Body) {
					return true
				}
				i = i.Else.If
			}
		}
	}
	return false
}

// satMul multiplies a trip count by a non-negative count, stopping at 2^62.
func satMul(trips uint64, n int64) int64 {
	if hi, lo := bits.Mul64(trips, uint64(n)); hi != 0 || lo > 1<<62 {
		return 1 << 62
	}
	return int64(trips) * n
}

// satAdd adds two non-negative counts, stopping at 2^62.
func satAdd(a, b int64) int64 {
	if a > 1<<62 || b > 1<<62 || a+b > 1<<62 {
		return 1 << 62
	}
	return a + b
}
