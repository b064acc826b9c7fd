package dsl

import "github.com/deepc-dev/deepc/ir"

// The lower bound on ops (minops.go), over expressions.

// bound is the ops an expression surely builds, and whether its value is
// surely a tensor (when it evaluates without error), or a constant: an
// expression of literals and config values (global names) with operators
// only, never a tensor, and whose value can be computed at any time.
type bound struct {
	n        int64
	tensor   bool
	constant bool
}

// op combines operands with an operator: it builds an op when one of them
// is a tensor, and a constant first when the other is not.
func op(l, r bound) bound {
	b := bound{n: satAdd(l.n, r.n), tensor: l.tensor || r.tensor, constant: l.constant && r.constant}
	if b.tensor {
		b.n = satAdd(b.n, 1)
	}
	if l.tensor && r.constant || r.tensor && l.constant {
		b.n = satAdd(b.n, 1)
	}
	return b
}

func (m *minOps) expr(e *Expr, f facts) bound {
	b := m.and(e.Left, f)
	if len(e.Right) > 0 {
		return bound{n: b.n} // `or` may stop after its left operand
	}
	return b
}

func (m *minOps) and(e *AndExpr, f facts) bound {
	b := m.not(e.Left, f)
	if len(e.Right) > 0 {
		return bound{n: b.n}
	}
	return b
}

func (m *minOps) not(e *NotExpr, f facts) bound {
	if e.Not != nil {
		return bound{n: m.not(e.Not, f).n}
	}
	b := m.sum(e.Cmp.Left, f)
	if e.Cmp.Right != nil {
		b = op(b, m.sum(e.Cmp.Right, f))
	}
	return b
}

func (m *minOps) sum(e *SumExpr, f facts) bound {
	b := m.prod(e.Left, f)
	for _, r := range e.Right {
		b = op(b, m.prod(r.Right, f))
	}
	return b
}

func (m *minOps) prod(e *ProdExpr, f facts) bound {
	b := m.unary(e.Left, f)
	for _, r := range e.Right {
		b = op(b, m.unary(r.Right, f))
	}
	return b
}

func (m *minOps) unary(e *UnaryExpr, f facts) bound {
	if e.Neg != nil {
		b := m.unary(e.Neg, f)
		if b.tensor {
			b.n = satAdd(b.n, 1)
		}
		return b
	}
	b := m.postfix(e.Power.Base, f)
	if e.Power.Exp != nil {
		b = op(b, m.unary(e.Power.Exp, f))
	}
	return b
}

func (m *minOps) postfix(e *Postfix, f facts) bound {
	p := e.Primary
	suffix := e.Suffix
	var b bound
	if p.Name != nil && len(suffix) > 0 && suffix[0].Call != nil {
		b = m.call(*p.Name, suffix[0].Call, f)
		suffix = suffix[1:]
	} else {
		b = m.primary(p, f)
	}
	for _, s := range suffix {
		if s.Call != nil {
			n, _ := m.args(s.Call, f)
			b.n = satAdd(b.n, n)
		}
		b.tensor, b.constant = false, false // a field, or a call through a value
	}
	return b
}

// call bounds a call by name: a block in scope, else a built-in.
func (m *minOps) call(name string, call *Call, f facts) bound {
	n, tensorArg := m.args(call, f)
	if f.local[name] {
		return bound{n: n} // the body may bind any block to it
	}
	if v, ok := m.c.globals.lookup(name); ok {
		blk, isBlock := v.(*Block)
		if !isBlock {
			return bound{n: n}
		}
		r := blk.Decl.Result
		return bound{n: satAdd(n, m.block(blk.Decl)), tensor: r != nil && r.One != nil && r.One.Tensor != nil}
	}
	def := ir.Lookup(name)
	op := def != nil && !internalOps[def]
	if _, ct := ctFuncs[name]; ct && (!op || !tensorArg) {
		if name == "unsqueeze" {
			return bound{n: satAdd(n, 1), tensor: true} // a reshape
		}
		return bound{n: n} // computed now, or an op: unsure
	}
	if op {
		return bound{n: satAdd(n, 1), tensor: true}
	}
	return bound{n: n}
}

// args bounds a call's arguments, and reports whether one is surely a
// tensor (which makes a name both a function and an op an op).
func (m *minOps) args(call *Call, f facts) (int64, bool) {
	var n int64
	tensor := false
	for _, a := range call.Args {
		e := a.Value
		if a.Kw != nil {
			e = a.Kw.Value
		}
		b := m.expr(e, f)
		n = satAdd(n, b.n)
		tensor = tensor || b.tensor && a.Kw == nil
	}
	return n, tensor
}

func (m *minOps) primary(p *Primary, f facts) bound {
	switch {
	case p.Name != nil:
		// A name not bound in the block is global: config, a dtype or a
		// block, never a tensor.
		return bound{tensor: f.tensors[*p.Name], constant: !f.local[*p.Name]}
	case p.Int != nil, p.Float != nil, p.Bool != nil:
		return bound{constant: true}
	case p.Paren != nil:
		return m.expr(p.Paren, f)
	case p.List != nil:
		var n int64
		for _, e := range p.List.Items {
			n = satAdd(n, m.expr(e, f).n)
		}
		return bound{n: n}
	case p.Struct != nil:
		var n int64
		for _, kw := range p.Struct.Fields {
			n = satAdd(n, m.expr(kw.Value, f).n)
		}
		return bound{n: n}
	}
	return bound{}
}
