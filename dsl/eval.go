package dsl

import (
	"math"
	"strconv"
	"strings"

	"github.com/alecthomas/participle/v2/lexer"
	"github.com/deepc-dev/deepc/ir"
)

func (c *compiler) eval(e *Expr, sc *scope) any {
	v := c.and(e.Left, sc)
	for _, r := range e.Right {
		b := c.truth(v, e.Pos)
		if b {
			return true // short-circuit: `x == none or x.f` is safe
		}
		v = c.truth(c.and(r.Right, sc), r.Pos)
	}
	return v
}

func (c *compiler) truth(v any, pos lexer.Position) bool {
	b, ok := v.(bool)
	if !ok {
		c.errorf(pos, "expected a compile-time bool, got %s", kindOf(v))
	}
	return b
}

func (c *compiler) and(e *AndExpr, sc *scope) any {
	v := c.not(e.Left, sc)
	for _, r := range e.Right {
		if !c.truth(v, e.Pos) {
			return false
		}
		v = c.truth(c.not(r.Right, sc), r.Pos)
	}
	return v
}

func (c *compiler) not(e *NotExpr, sc *scope) any {
	if e.Not != nil {
		return !c.truth(c.not(e.Not, sc), e.Not.Pos)
	}
	return c.cmp(e.Cmp, sc)
}

func (c *compiler) cmp(e *CmpExpr, sc *scope) any {
	l := c.sum(e.Left, sc)
	if e.Right == nil {
		return l
	}
	return c.binary(e.Op, l, c.sum(e.Right, sc), e.Pos)
}

func (c *compiler) sum(e *SumExpr, sc *scope) any {
	v := c.prod(e.Left, sc)
	for _, r := range e.Right {
		v = c.binary(r.Op, v, c.prod(r.Right, sc), r.Pos)
	}
	return v
}

func (c *compiler) prod(e *ProdExpr, sc *scope) any {
	v := c.unary(e.Left, sc)
	for _, r := range e.Right {
		v = c.binary(r.Op, v, c.unary(r.Right, sc), r.Pos)
	}
	return v
}

func (c *compiler) unary(e *UnaryExpr, sc *scope) any {
	if e.Neg == nil {
		return c.pow(e.Power, sc)
	}
	v := c.unary(e.Neg, sc)
	switch x := v.(type) {
	case int64:
		if x == math.MinInt64 {
			c.errorf(e.Pos, "integer overflow")
		}
		return -x
	case float64:
		return -x
	case *ir.Value:
		return c.emit1(e.Pos, ir.OpNeg, []*ir.Value{x}, nil)
	}
	c.errorf(e.Pos, "cannot negate a %s", kindOf(v))
	return nil
}

func (c *compiler) pow(e *PowExpr, sc *scope) any {
	v := c.postfix(e.Base, sc)
	if e.Exp == nil {
		return v
	}
	return c.binary("**", v, c.unary(e.Exp, sc), e.Pos)
}

func (c *compiler) postfix(e *Postfix, sc *scope) any {
	// Every operand of every operator comes through here: counting them
	// bounds the work of the evaluation (each is constant work, or counted
	// by charge).
	c.steps++
	if c.steps > maxSteps {
		c.errorf(e.Pos, "more than %d operands evaluated: a loop does too much (%d iterations so far)%s", maxSteps, c.iters, c.setsNote())
	}
	var v any
	p := e.Primary
	if p.Name != nil && len(e.Suffix) > 0 && e.Suffix[0].Call != nil {
		// A call by name: blocks in scope first, then built-ins.
		name := *p.Name
		call := e.Suffix[0].Call
		if f, ok := sc.lookup(name); ok {
			blk, isBlock := f.(*Block)
			if !isBlock {
				c.errorf(p.Pos, "%s is a %s, not a block", name, kindOf(f))
			}
			args, kws := c.args(call, sc)
			v = c.call(blk, p.Pos, args, kws)
		} else {
			v = c.builtin(name, p.Pos, call, sc)
		}
		return c.suffixes(v, e.Suffix[1:], sc)
	}
	return c.suffixes(c.primary(p, sc), e.Suffix, sc)
}

func (c *compiler) suffixes(v any, ss []*Suffix, sc *scope) any {
	for _, s := range ss {
		if s.Call != nil {
			blk, ok := v.(*Block)
			if !ok {
				c.errorf(s.Pos, "cannot call a %s", kindOf(v))
			}
			args, kws := c.args(s.Call, sc)
			v = c.call(blk, s.Pos, args, kws)
			continue
		}
		v = c.field(v, *s.Field, s.Pos)
	}
	return v
}

// field reads a struct field, or a tensor's shape or dtype.
func (c *compiler) field(v any, name string, pos lexer.Position) any {
	switch x := v.(type) {
	case *Struct:
		f, ok := x.Get(name)
		if !ok {
			c.errorf(pos, "no field %s in %s%s", name, show(x), suggest(name, x.Keys))
		}
		return f
	case *ir.Value:
		switch name {
		case "dtype":
			return x.Type.DType
		case "shape":
			l := List{}
			for _, d := range x.Type.Shape {
				l = append(l, dimValue(d))
			}
			return l
		case "rank":
			return int64(len(x.Type.Shape))
		}
		c.errorf(pos, "a tensor has fields shape, dtype and rank, not %s", name)
	}
	c.errorf(pos, "a %s has no field %s", kindOf(v), name)
	return nil
}

func (c *compiler) args(call *Call, sc *scope) ([]any, map[string]any) {
	var args []any
	var kws map[string]any
	for _, a := range call.Args {
		if a.Kw != nil {
			if kws == nil {
				kws = map[string]any{}
			}
			if _, dup := kws[a.Kw.Name]; dup {
				c.errorf(a.Pos, "keyword argument %s given twice", a.Kw.Name)
			}
			kws[a.Kw.Name] = c.eval(a.Kw.Value, sc)
			continue
		}
		if kws != nil {
			c.errorf(a.Pos, "positional argument after keyword arguments")
		}
		args = append(args, c.eval(a.Value, sc))
	}
	return args, kws
}

func (c *compiler) primary(p *Primary, sc *scope) any {
	switch {
	case p.Float != nil:
		return *p.Float
	case p.Int != nil:
		return *p.Int
	case p.String != nil:
		return c.interpolate(*p.String, p.Pos, sc)
	case p.Bool != nil:
		return *p.Bool == "true"
	case p.None:
		return nil
	case p.Name != nil:
		v, ok := sc.lookup(*p.Name)
		if !ok {
			c.errorf(p.Pos, "unknown name %s%s", *p.Name, suggest(*p.Name, c.visible(sc)))
		}
		return v
	case p.Paren != nil:
		return c.eval(p.Paren, sc)
	case p.List != nil:
		l := List{}
		for _, e := range p.List.Items {
			l = append(l, c.eval(e, sc))
		}
		return l
	case p.Struct != nil:
		s := newStruct()
		for _, f := range p.Struct.Fields {
			if _, dup := s.Get(f.Name); dup {
				c.errorf(f.Pos, "field %s given twice", f.Name)
			}
			s.Set(f.Name, c.eval(f.Value, sc))
		}
		return s
	}
	c.errorf(p.Pos, "empty expression")
	return nil
}

func (c *compiler) visible(sc *scope) []string {
	var names []string
	for ; sc != nil; sc = sc.parent {
		for k := range sc.vars {
			names = append(names, k)
		}
	}
	return names
}

// interpolate replaces {name} in a string with the name's value. {e} stays:
// in a checkpoint name it marks the axis a param is stacked along.
func (c *compiler) interpolate(s string, pos lexer.Position, sc *scope) string {
	c.charge(len(s), pos)
	if !strings.Contains(s, "{") {
		return s
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			c.errorf(pos, "unclosed { in string")
		}
		name := s[i+1 : i+j]
		b.WriteString(s[:i])
		s = s[i+j+1:]
		if name == "e" {
			b.WriteString("{e}")
			continue
		}
		v, ok := sc.lookup(name)
		switch v := v.(type) {
		case int64:
			b.WriteString(strconv.FormatInt(v, 10))
		case string:
			c.charge(len(v), pos)
			b.WriteString(v)
		default:
			if !ok {
				c.errorf(pos, "unknown name %s in string%s", name, suggest(name, c.visible(sc)))
			}
			c.errorf(pos, "{%s} in a string must be an int or a string, got %s", name, kindOf(v))
		}
	}
}
