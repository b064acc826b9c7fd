package dsl

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/alecthomas/participle/v2/lexer"
	suggestpkg "github.com/deepc-dev/deepc/internal/suggest"
	"github.com/deepc-dev/deepc/ir"
)

// Block is a callable block declaration.
type Block struct {
	Name string
	Decl *BlockAST
	op   *ir.OpDef // a composite block's op, once declared
}

type compiler struct {
	opts    Options
	sources map[string]string
	globals *scope
	module  *ir.Module
	params  map[string]*paramDecl
	b       *ir.Builder // function being built
	reads   map[string]*ir.Value
	depth   int
	iters   int
	ops     int
	steps   int               // expressions evaluated (maxSteps)
	built   int               // list elements and string bytes gone through (maxBuilt)
	entries int               // dims and attribute entries of the module (maxEntries)
	bound   *minOps           // lower bounds on the ops of loop bodies
	setText map[string]string // config key → the --set that replaced it
	derived map[string]bool   // config keys whose value is computed from other names
}

type paramDecl struct {
	p   *ir.Param
	pos lexer.Position
}

// errorf aborts compilation with an error at pos.
func (c *compiler) errorf(pos lexer.Position, format string, args ...any) {
	panic(newError(pos, c.sources[pos.Filename], format, args...))
}

// elaborate runs the model files (root first) into a module.
func (c *compiler) elaborate(files []*File) *ir.Module {
	root := files[len(files)-1]
	c.module = &ir.Module{Name: root.Model}
	c.params = map[string]*paramDecl{}
	c.globals = newScope(nil)
	for _, d := range ir.DTypes {
		c.globals.set(d.String(), d)
	}
	cfg := c.config(files)
	c.module.Attrs = ir.Attrs{}
	if a, err := toAttr(cfg); err == nil {
		c.module.Attrs["config"] = a
	}
	var decls []*Decl
	for _, f := range files {
		decls = append(decls, f.Decls...)
	}
	if ck := c.checkpoint(files, cfg); ck != nil {
		c.module.Attrs[CheckpointAttr] = ck
	}
	var exports []*BlockAST
	c.declare(decls, &exports)
	for _, blk := range exports {
		c.export(blk)
	}
	return c.module
}

// declare binds blocks (later files override earlier ones), runs top-level
// asserts and takes top-level ifs, collecting exported blocks in order.
func (c *compiler) declare(decls []*Decl, exports *[]*BlockAST) {
	for _, d := range decls {
		switch {
		case d.Block != nil:
			c.globals.set(d.Block.Name, &Block{Name: d.Block.Name, Decl: d.Block})
			if d.Block.Export {
				*exports = slices.DeleteFunc(*exports, func(b *BlockAST) bool { return b.Name == d.Block.Name })
				*exports = append(*exports, d.Block)
			}
		case d.Assert != nil:
			c.assert(d.Assert, c.globals)
		case d.If != nil:
			if c.cond(d.If.Cond, c.globals) {
				c.declare(d.If.Decls, exports)
			} else {
				c.declare(d.If.Else, exports)
			}
		}
	}
}

// config evaluates the config entries of every file in order: a child's
// entry replaces its parent's expression in place, then --set overrides
// replace either, so derived entries recompute from overridden inputs.
func (c *compiler) config(files []*File) *Struct {
	type entry struct {
		name string
		expr *Expr
		pos  lexer.Position
		orig *Expr
	}
	var order []*entry
	byName := map[string]*entry{}
	for fi, f := range files {
		seen := map[string]bool{}
		for _, d := range f.Decls {
			if d.Config == nil {
				continue
			}
			for _, e := range d.Config.Entries {
				if seen[e.Name] {
					c.errorf(e.Pos, "config key %s is set twice in this file", e.Name)
				}
				seen[e.Name] = true
				if old, ok := byName[e.Name]; ok {
					if d.Config.New {
						c.errorf(e.Pos, "config new: %s is already a config key (set it in a plain config block)", e.Name)
					}
					old.expr, old.pos = e.Value, e.Pos
					continue
				}
				if fi > 0 && !d.Config.New {
					c.errorf(e.Pos, "unknown config key %s: %s does not define it%s; a model adds its own keys in a `config new { ... }` block", e.Name, files[0].Pos.Filename, suggest(e.Name, slices.Collect(maps.Keys(byName))))
				}
				en := &entry{name: e.Name, expr: e.Value, pos: e.Pos, orig: e.Value}
				order = append(order, en)
				byName[e.Name] = en
			}
		}
	}
	sets := c.parseSets()
	c.setText = map[string]string{}
	kept := sets[:0]
	for _, o := range sets {
		en, ok := byName[o.key]
		switch {
		case !ok && o.optional:
			continue // a default for a key the file lacks, and so does the model
		case !ok && o.from != "":
			c.errorf(o.expr.Pos, "%s sets %s, which is not a config key of %s%s", o.from, o.key, files[len(files)-1].Pos.Filename, suggest(o.key, slices.Collect(maps.Keys(byName))))
		case !ok:
			c.errorf(o.expr.Pos, "unknown config key %s%s", o.key, suggest(o.key, slices.Collect(maps.Keys(byName))))
		}
		kept = append(kept, o)
		if o.field == "" {
			en.expr = o.expr
			c.setText[o.key] = o.text
		}
	}
	sets = kept
	cfg := newStruct()
	c.derived = map[string]bool{}
	for _, en := range order {
		if namesIn(en.expr) {
			c.derived[en.name] = true
		}
		v := c.eval(en.expr, c.globals)
		if en.expr != en.orig {
			// An override must keep the kind of the value it replaces.
			if def, ok := c.tryEval(en.orig); ok {
				w, fits := sameKind(def, v)
				if !fits {
					c.errorf(en.expr.Pos, "config %s must be %s, got %s %s", en.name, article(kindOf(def)), kindOf(v), show(v))
				}
				v = w
			}
		}
		for _, o := range sets {
			if o.key == en.name && o.field != "" {
				v = c.setField(en.name, v, o)
			}
		}
		c.globals.set(en.name, v)
		cfg.Set(en.name, v)
	}
	return cfg
}

func (c *compiler) setField(name string, v any, o *override) any {
	s, ok := v.(*Struct)
	if !ok {
		c.errorf(o.expr.Pos, "config %s is a %s, it has no field %s", name, kindOf(v), o.field)
	}
	def, ok := s.Get(o.field)
	if !ok {
		c.errorf(o.expr.Pos, "config %s has no field %s%s", name, o.field, suggest(o.field, s.Keys))
	}
	nv := c.eval(o.expr, c.globals)
	w, fits := sameKind(def, nv)
	if !fits {
		c.errorf(o.expr.Pos, "config %s.%s must be %s, got %s %s", name, o.field, article(kindOf(def)), kindOf(nv), show(nv))
	}
	cp := &Struct{Keys: slices.Clone(s.Keys), Fields: maps.Clone(s.Fields)}
	cp.Set(o.field, w)
	return cp
}

// tryEval evaluates e, reporting failure instead of aborting.
func (c *compiler) tryEval(e *Expr) (v any, ok bool) {
	defer func() {
		if r := recover(); r != nil {
			if _, isErr := r.(*Error); !isErr {
				panic(r)
			}
			ok = false
		}
	}()
	return c.eval(e, c.globals), true
}

// suggest returns ` (did you mean x?)` for the closest known name.
func suggest(name string, known []string) string {
	if best := suggestpkg.Closest(name, known); best != "" {
		return fmt.Sprintf(" (did you mean %s?)", best)
	}
	return ""
}

func (c *compiler) assert(a *AssertStmt, sc *scope) {
	if !c.cond(a.Cond, sc) {
		c.errorf(a.Pos, "assertion failed: %s", a.Message)
	}
}

// cond evaluates a compile-time condition.
func (c *compiler) cond(e *Expr, sc *scope) bool {
	v := c.eval(e, sc)
	b, ok := v.(bool)
	if !ok {
		c.errorf(e.Pos, "condition must be a compile-time bool, got %s", kindOf(v))
	}
	return b
}

// export builds one module function from an exported block.
func (c *compiler) export(blk *BlockAST) {
	if c.module.Func(blk.Name) != nil {
		c.errorf(blk.Pos, "function %s is exported twice", blk.Name)
	}
	c.b = c.module.NewFunc(blk.Name)
	c.reads = map[string]*ir.Value{}
	args := c.signatureArgs(blk, "exported block")
	res := c.call(&Block{Name: blk.Name, Decl: blk}, blk.Pos, args, nil)
	c.b.Return(c.tensors(blk.Pos, "exported block "+blk.Name, res)...)
	c.b = nil
}

// signatureArgs adds blk's arguments to the function being built, each
// with its declared tensor type (names bound to nothing become symbols).
func (c *compiler) signatureArgs(blk *BlockAST, what string) []any {
	sc := newScope(c.globals)
	var args []any
	for _, a := range blk.Args {
		if a.Type == nil || a.Type.Tensor == nil {
			c.errorf(a.Pos, "argument %s of %s %s must have a tensor type", a.Name, what, blk.Name)
		}
		args = append(args, c.b.Arg(a.Name, c.tensorType(a.Type.Tensor, sc, true)))
	}
	return args
}

// tensors is what a block that becomes a function (exported, composite)
// returns: one tensor or a tuple of tensors.
func (c *compiler) tensors(pos lexer.Position, what string, res any) []*ir.Value {
	var outs []*ir.Value
	switch r := res.(type) {
	case *ir.Value:
		outs = []*ir.Value{r}
	case Tuple:
		for i, x := range r {
			v, ok := x.(*ir.Value)
			if !ok {
				c.errorf(pos, "%s must return tensors; result %d is a %s", what, i, kindOf(x))
			}
			outs = append(outs, v)
		}
	default:
		c.errorf(pos, "%s must return tensors, got %s", what, kindOf(res))
	}
	return outs
}

// tensorType evaluates a tensor type. With bindSyms, names bound to nothing
// become symbolic dims (and are bound in sc).
func (c *compiler) tensorType(t *TensorType, sc *scope, bindSyms bool) ir.Type {
	var out ir.Type
	out.Shape = ir.Shape{}
	for _, d := range t.Dims {
		if name, ok := bareName(d); ok && bindSyms {
			if _, bound := sc.lookup(name); !bound {
				sc.set(name, ir.S(name))
			}
		}
		v := c.eval(d, sc)
		dim, err := toDim(v)
		if err != nil {
			c.errorf(d.Pos, "%v", err)
		}
		out.Shape = append(out.Shape, dim)
	}
	out.DType = c.dtype(t.DType, sc)
	c.checkShape(t.Pos, "tensor type", out)
	return out
}

func (c *compiler) dtype(id *Ident, sc *scope) ir.DType {
	v, ok := sc.lookup(id.Name)
	dt, isDT := v.(ir.DType)
	if !ok || !isDT {
		c.errorf(id.Pos, "unknown dtype %s (want one of %s)", id.Name, dtypeNames())
	}
	return dt
}

func dtypeNames() string {
	var s []string
	for _, d := range ir.DTypes {
		s = append(s, d.String())
	}
	return strings.Join(s, ", ")
}

// bareName reports whether e is just a name.
func bareName(e *Expr) (string, bool) {
	pf := lonePostfix(e)
	if pf == nil || len(pf.Suffix) > 0 || pf.Primary.Name == nil {
		return "", false
	}
	return *pf.Primary.Name, true
}

// lonePostfix returns e's postfix expression when e has no operator.
func lonePostfix(e *Expr) *Postfix {
	if e == nil || len(e.Right) > 0 || len(e.Left.Right) > 0 || e.Left.Left.Cmp == nil {
		return nil
	}
	cmp := e.Left.Left.Cmp
	if cmp.Right != nil || len(cmp.Left.Right) > 0 || len(cmp.Left.Left.Right) > 0 {
		return nil
	}
	u := cmp.Left.Left.Left
	if u.Power == nil || u.Power.Exp != nil {
		return nil
	}
	return u.Power.Base
}
