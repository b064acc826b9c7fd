package dsl

import (
	"fmt"
	"strings"

	"github.com/alecthomas/participle/v2/lexer"
	"github.com/deepc-dev/deepc/ir"
)

// call inlines block blk with positional args and keyword args, or, for a
// composite block, emits its op.
func (c *compiler) call(blk *Block, pos lexer.Position, args []any, kws map[string]any) any {
	if blk.Decl.Composite {
		return c.callComposite(blk, pos, args, kws)
	}
	return c.inline(blk, pos, args, kws)
}

// inline elaborates blk's body with its arguments bound.
func (c *compiler) inline(blk *Block, pos lexer.Position, args []any, kws map[string]any) any {
	d := blk.Decl
	if c.depth >= maxCallDepth {
		c.errorf(pos, "calls nest deeper than %d (recursive block %s?)", maxCallDepth, blk.Name)
	}
	if len(args) > len(d.Args) {
		c.errorf(pos, "%s takes %s, got %d", blk.Name, plural(len(d.Args), "argument"), len(args)+len(kws))
	}
	sc := newScope(c.globals)
	bound := map[string]any{}
	for i, v := range args {
		bound[d.Args[i].Name] = v
	}
	for k, v := range kws {
		if !slicesContainsArg(d.Args, k) {
			c.errorf(pos, "%s has no argument %s%s", blk.Name, k, suggest(k, argNames(d.Args)))
		}
		if _, dup := bound[k]; dup {
			c.errorf(pos, "argument %s of %s given twice", k, blk.Name)
		}
		bound[k] = v
	}
	for _, a := range d.Args {
		v, ok := bound[a.Name]
		if !ok {
			c.errorf(pos, "missing argument %s in call to %s", a.Name, blk.Name)
		}
		if a.Type != nil {
			v = c.checkType(a.Type, v, sc, pos, "argument "+a.Name+" of "+blk.Name)
		}
		sc.set(a.Name, v)
	}
	c.depth++
	res, returned := c.stmts(d.Body, sc)
	c.depth--
	if !returned {
		c.errorf(d.Pos, "block %s ends without return", blk.Name)
	}
	if d.Result != nil {
		c.checkResult(d.Result, res, sc, blk.Name)
	}
	return res
}

func slicesContainsArg(args []*ArgDecl, name string) bool {
	for _, a := range args {
		if a.Name == name {
			return true
		}
	}
	return false
}

func argNames(args []*ArgDecl) []string {
	var out []string
	for _, a := range args {
		out = append(out, a.Name)
	}
	return out
}

func (c *compiler) checkResult(r *ResultType, res any, sc *scope, name string) {
	if r.One != nil {
		c.checkType(r.One, res, sc, r.Pos, "result of "+name)
		return
	}
	tup, ok := res.(Tuple)
	if !ok || len(tup) != len(r.Tuple) {
		c.errorf(r.Pos, "%s must return %d values, returned %s", name, len(r.Tuple), kindOf(res))
	}
	for i, t := range r.Tuple {
		c.checkType(t, tup[i], sc, t.Pos, fmt.Sprintf("result %d of %s", i, name))
	}
}

// checkType checks v against a declared type and returns it (ints widen to
// floats). Names in a tensor type's dims that are bound to nothing bind to
// the actual dims, so `x: [T, d] bf16` binds T and d.
func (c *compiler) checkType(t *TypeExpr, v any, sc *scope, pos lexer.Position, what string) any {
	if t.Scalar != "" {
		if t.Scalar == "float" {
			if n, ok := v.(int64); ok {
				return float64(n)
			}
		}
		if d, ok := v.(ir.Dim); ok && !d.IsSym() && t.Scalar == "int" {
			return d.N
		}
		if kindOf(v) != t.Scalar {
			c.errorf(pos, "%s must be %s, got %s", what, article(t.Scalar), kindOf(v))
		}
		return v
	}
	x, ok := v.(*ir.Value)
	if !ok {
		c.errorf(pos, "%s must be a tensor, got %s", what, kindOf(v))
	}
	tt := t.Tensor
	if len(tt.Dims) != len(x.Type.Shape) {
		c.errorf(pos, "%s must have rank %d, got %s", what, len(tt.Dims), x.Type)
	}
	for i, de := range tt.Dims {
		actual := x.Type.Shape[i]
		if name, ok := bareName(de); ok {
			if _, bound := sc.lookup(name); !bound {
				sc.set(name, dimValue(actual))
				continue
			}
		}
		want, err := toDim(c.eval(de, sc))
		if err != nil {
			c.errorf(de.Pos, "%v", err)
		}
		if want != actual {
			c.errorf(pos, "%s: shape mismatch in dim %d: want %s, got %s (a %s)", what, i, want, actual, x.Type)
		}
	}
	if dt := c.dtype(tt.DType, sc); dt != x.Type.DType {
		c.errorf(pos, "%s: dtype mismatch: want %s, got %s", what, dt, x.Type.DType)
	}
	return v
}

// stmts runs statements; it reports whether a return ran, and its value.
func (c *compiler) stmts(ss []*Stmt, sc *scope) (any, bool) {
	for _, s := range ss {
		if v, ret := c.stmt(s, sc); ret {
			return v, true
		}
	}
	return nil, false
}

func (c *compiler) stmt(s *Stmt, sc *scope) (any, bool) {
	switch {
	case s.Param != nil:
		c.param(s.Param, sc)
	case s.If != nil:
		return c.ifStmt(s.If, sc)
	case s.For != nil:
		return c.forStmt(s.For, sc)
	case s.Return != nil:
		var vals Tuple
		for _, e := range s.Return.Values {
			vals = append(vals, c.eval(e, sc))
		}
		if len(vals) == 1 {
			return vals[0], true
		}
		return vals, true
	case s.Assert != nil:
		c.assert(s.Assert, sc)
	case s.Assign != nil:
		c.assign(s.Assign, sc)
	}
	return nil, false
}

func (c *compiler) ifStmt(s *IfStmt, sc *scope) (any, bool) {
	if c.cond(s.Cond, sc) {
		return c.stmts(s.Then, sc)
	}
	switch {
	case s.Else == nil:
		return nil, false
	case s.Else.If != nil:
		return c.ifStmt(s.Else.If, sc)
	}
	return c.stmts(s.Else.Body, sc)
}

func (c *compiler) forStmt(s *ForStmt, sc *scope) (any, bool) {
	from, ok1 := c.eval(s.From, sc).(int64)
	to, ok2 := c.eval(s.To, sc).(int64)
	if !ok1 || !ok2 {
		c.errorf(s.Pos, "loop bounds must be compile-time ints")
	}
	per := c.preflight(s, from, to, sc)
	for i := from; i < to; i++ {
		c.iters++
		if c.iters > maxIterations {
			c.errorf(s.Pos, "more than %d loop iterations in all%s", maxIterations, c.setsNote())
		}
		sc.set(s.Var, i)
		before := c.ops
		if v, ret := c.stmts(s.Body, sc); ret {
			return v, true
		}
		if iterationBuilt != nil {
			iterationBuilt(s, per, c.ops-before)
		}
	}
	return nil, false
}

// iterationBuilt, when set, hears the ops each loop iteration built and the
// lower bound its preflight computed (0 when it computed none): tests and
// the fuzzer check that the bound holds, since an unsound one could
// refuse a loop that fits.
var iterationBuilt func(s *ForStmt, bound int64, built int)

func (c *compiler) assign(s *AssignStmt, sc *scope) {
	v := c.eval(s.Value, sc)
	if len(s.Targets) == 1 {
		sc.set(s.Targets[0].Name, v)
		return
	}
	var items []any
	switch t := v.(type) {
	case Tuple:
		items = t
	case List:
		items = t
	}
	if len(items) != len(s.Targets) {
		c.errorf(s.Pos, "cannot unpack %s into %d names", kindOf(v), len(s.Targets))
	}
	for i, id := range s.Targets {
		sc.set(id.Name, items[i])
	}
}

// paramKeys are the attributes a param declaration accepts.
var paramKeys = []string{"ckpt", "init", "quant", "trainable"}

// param declares a module parameter (or re-reads one declared before with
// the same checkpoint name: that is how weights are shared) and binds its
// local name to a read of it.
func (c *compiler) param(s *ParamStmt, sc *scope) {
	if c.b == nil {
		c.errorf(s.Pos, "param outside a function")
	}
	t := c.tensorType(s.Type, sc, false)
	if syms := t.Shape.Syms(); len(syms) > 0 {
		c.errorf(s.Type.Pos, "param %s: shape %s must be constant", s.Name, t.Shape)
	}
	c.checkShape(s.Type.Pos, "param "+s.Name, t)
	attrs := ir.Attrs{"trainable": true}
	var ckpt string
	for _, kw := range s.Attrs {
		v := c.eval(kw.Value, sc)
		switch kw.Name {
		case "ckpt":
			str, ok := v.(string)
			if !ok || str == "" {
				c.errorf(kw.Pos, "ckpt must be a non-empty string, got %s", kindOf(v))
			}
			ckpt = str
		case "trainable":
			b, ok := v.(bool)
			if !ok {
				c.errorf(kw.Pos, "trainable must be a bool, got %s", kindOf(v))
			}
			attrs["trainable"] = b
		case "init":
			if v == nil {
				continue
			}
			if _, ok := v.(*Struct); !ok {
				c.errorf(kw.Pos, "init must be normal(std), zeros() or ones(), got %s", kindOf(v))
			}
			a, err := toAttr(v)
			if err != nil {
				c.errorf(kw.Pos, "init: %v", err)
			}
			attrs["init"] = a
		case "quant":
			if v == nil {
				continue
			}
			a, err := toAttr(v)
			blk, ok := a.([]int64)
			if err != nil || !ok || len(blk) != 2 || blk[0] <= 0 || blk[1] <= 0 {
				c.errorf(kw.Pos, "quant must be block(rows, cols), got %s", show(v))
			}
			if t.DType != ir.F8E4M3 && t.DType != ir.F8E5M2 {
				c.errorf(kw.Pos, "quant block scales need an fp8 dtype, param %s is %s", s.Name, t.DType)
			}
			if len(t.Shape) < 2 {
				c.errorf(kw.Pos, "quant block scales need a param of rank >= 2, got %s", t.Shape)
			}
			attrs["quant"] = blk
		default:
			c.errorf(kw.Pos, "unknown param attribute %s (want one of %s)%s", kw.Name, strings.Join(paramKeys, ", "), suggest(kw.Name, paramKeys))
		}
	}
	if ckpt == "" {
		c.errorf(s.Pos, "param %s needs a checkpoint name: ckpt = \"...\"", s.Name)
	}
	if strings.Contains(ckpt, "{e}") && len(t.Shape) < 2 {
		c.errorf(s.Pos, "param %s: a stacked ({e}) param needs the stacking axis first, got %s", s.Name, t.Shape)
	}
	if old, ok := c.params[ckpt]; ok {
		if !old.p.Type.Equal(t) || !old.p.Attrs.Equal(attrs) {
			c.errorf(s.Pos, "param %q redeclared as %s %s; first declared at %s:%d:%d as %s %s",
				ckpt, t, attrs, old.pos.Filename, old.pos.Line, old.pos.Column, old.p.Type, old.p.Attrs)
		}
	} else {
		p := &ir.Param{Name: ckpt, Type: t, Attrs: attrs}
		c.module.Params = append(c.module.Params, p)
		c.params[ckpt] = &paramDecl{p: p, pos: s.Pos}
	}
	v, ok := c.reads[ckpt]
	if !ok {
		c.countOp(s.Pos) // a read is an op of the function too
		c.chargeIR(s.Pos, 1+len(t.Shape)+entries(attrs)+entries(ckpt))
		c.b.Loc = c.loc(s.Pos)
		v = c.b.Param(c.params[ckpt].p)
		c.reads[ckpt] = v
	}
	sc.set(s.Name, v)
}

func (c *compiler) loc(pos lexer.Position) ir.Loc {
	return ir.Loc{File: pos.Filename, Line: pos.Line, Col: pos.Column}
}
