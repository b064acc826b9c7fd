package ir

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// Composite ops are ops declared at run time, by a plugin or a module's
// text, with a decomposition into other ops: a Func whose arguments are
// the operands (their symbolic dims are the op's type variables) and whose
// results are the op's results. The decomposition is the op's meaning:
//
//   - its type rule binds the signature's symbols to the operands' dims and
//     infers the body's types from them, so the body must be well typed for
//     every use;
//   - backends that do not know the op run its decomposition:
//     ExpandComposites inlines it (the CPU runtime, autodiff and codegen do
//     this, codegen after planning kernels, so that fusion sees the
//     composite as one region).
//
// The op table holds composites beside the built-in ops, so Lookup, Def and
// the text form work for them unchanged. A name is declared once per
// process; declaring it again with the same body is a no-op, with another
// body an error.
var composites = struct {
	sync.RWMutex
	byName map[string]*OpDef
	body   map[*OpDef]string // the printed body, to compare redeclarations
}{byName: map[string]*OpDef{}, body: map[*OpDef]string{}}

var compositeName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// maxCompositeOps bounds a decomposition fully expanded (composites in it
// counted by their own expansions): a composite using another twice, and
// that one another, would otherwise double at each level.
const maxCompositeOps = 4096

// maxInferMemo bounds the types a composite remembers inferring: a use
// with operand types seen before costs a map lookup, not an instantiation.
const maxInferMemo = 256

// DeclareComposite enters op name, computed as body, in the op table.
func DeclareComposite(name string, body *Func) (*OpDef, error) {
	if !compositeName.MatchString(name) || !isBareName(name) || len(name) > 64 {
		return nil, fmt.Errorf("composite %q: a name is a lower-case letter followed by lower-case letters, digits and _ (at most 64; not inf or nan)", name)
	}
	if opTable[name] != nil {
		return nil, fmt.Errorf("composite %s: %s is a built-in op", name, name)
	}
	if err := checkCompositeBody(name, body); err != nil {
		return nil, err
	}
	text := PrintFunc(&Func{Name: name, Args: body.Args, Body: body.Body, Results: body.Results})
	kind := compositeKind(body) // reads the table: not under its lock
	memo := &inferMemo{m: map[string][]Type{}}
	composites.Lock()
	defer composites.Unlock()
	if d := composites.byName[name]; d != nil {
		if composites.body[d] != text {
			return nil, fmt.Errorf("composite %s is already declared with another decomposition (by an earlier module or pass: composite names are one per process, so give a different op another name)", name)
		}
		return d, nil
	}
	d := &OpDef{Name: name, Kind: kind, Args: len(body.Args), Pure: true, Body: body,
		Doc: fmt.Sprintf("composite of %d ops", len(body.Body))}
	d.Infer = func(args []Type, attrs Attrs) ([]Type, error) {
		return memo.infer(args, func() ([]Type, error) {
			_, res, err := instantiate(d, placeholders(args), attrs, Loc{}, true)
			return valueTypes(res), err
		})
	}
	d.FLOPs = func(args, _ []Type, attrs Attrs, env map[string]int64) int64 {
		ops, _, err := instantiate(d, placeholders(args), attrs, Loc{}, true)
		if err != nil {
			return 0
		}
		var n int64
		for _, op := range ops {
			n += op.Cost(env).FLOPs
		}
		return n
	}
	composites.byName[name] = d
	composites.body[d] = text
	return d, nil
}

// inferMemo remembers a composite's result types by operand types.
type inferMemo struct {
	sync.Mutex
	m map[string][]Type
}

func (c *inferMemo) infer(args []Type, compute func() ([]Type, error)) ([]Type, error) {
	var key strings.Builder
	for _, t := range args {
		key.WriteString(t.String())
		key.WriteByte(';')
	}
	k := key.String()
	c.Lock()
	res, ok := c.m[k]
	c.Unlock()
	if ok {
		// A copy: the caller's values own their shapes.
		out := make([]Type, len(res))
		for i, t := range res {
			out[i] = Type{Shape: slices.Clone(t.Shape), DType: t.DType}
		}
		return out, nil
	}
	res, err := compute()
	if err == nil {
		c.Lock()
		if len(c.m) < maxInferMemo {
			c.m[k] = res
		}
		c.Unlock()
	}
	return res, err
}

// lookupComposite finds a declared composite.
func lookupComposite(name string) *OpDef {
	composites.RLock()
	defer composites.RUnlock()
	return composites.byName[name]
}

// IsComposite reports whether d is a composite op.
func (d *OpDef) IsComposite() bool { return d != nil && d.Body != nil }

// checkCompositeBody: operands defined before use, every op with a type
// rule (so a body reads nothing but its operands: no params), not too big
// once expanded, and the body a function the verifier accepts (names,
// types, result counts, symbols bound by the arguments).
func checkCompositeBody(name string, body *Func) error {
	switch {
	case len(body.Results) == 0:
		return fmt.Errorf("composite %s: the decomposition returns nothing", name)
	case len(body.Body) > maxCompositeOps:
		return fmt.Errorf("composite %s: %d ops, more than %d", name, len(body.Body), maxCompositeOps)
	}
	size := 0
	for _, op := range body.Body {
		size += expandedSize(op.Def())
	}
	if size > maxCompositeOps {
		return fmt.Errorf("composite %s: %d ops once the composites in it are expanded, more than %d", name, size, maxCompositeOps)
	}
	defined := map[*Value]bool{}
	for _, a := range body.Args {
		defined[a] = true
	}
	for _, op := range body.Body {
		d := op.Def()
		if d == nil || d.Infer == nil {
			return fmt.Errorf("composite %s: %s has no type rule (a decomposition reads only its operands)", name, op.Name)
		}
		for _, a := range op.Args {
			if !defined[a] {
				return fmt.Errorf("composite %s: %s reads a value defined outside the decomposition or after it", name, op.Name)
			}
		}
		for _, r := range op.Results {
			defined[r] = true
		}
	}
	for _, r := range body.Results {
		if !defined[r] {
			return fmt.Errorf("composite %s: returns a value defined outside the decomposition", name)
		}
	}
	v := &verifier{m: &Module{}}
	v.fn(body)
	if len(v.errs) > 0 {
		return fmt.Errorf("composite %s: %w", name, errors.Join(v.errs...))
	}
	d := &OpDef{Name: name, Body: body}
	_, res, err := instantiate(d, body.Args, nil, Loc{}, true)
	if err != nil {
		return err
	}
	for i, r := range res {
		if !r.Type.Equal(body.Results[i].Type) {
			return fmt.Errorf("composite %s: result %d is %s by its ops, the signature says %s", name, i, r.Type, body.Results[i].Type)
		}
	}
	return nil
}

// expandedSize is how many built-in ops op d stands for.
func expandedSize(d *OpDef) int {
	if !d.IsComposite() {
		return 1
	}
	n := 0
	for _, op := range d.Body.Body {
		n += expandedSize(op.Def())
	}
	return n
}

// compositeKind is elementwise when the body is a chain of elementwise ops
// with one result and every value of the shape of that result (fusion may
// then treat the composite as one elementwise op and emit it over the
// result's elements), broadcast when some operand broadcasts into that
// shape, else opaque.
func compositeKind(body *Func) Kind {
	if len(body.Results) != 1 {
		return Opaque
	}
	shape := body.Results[0].Type.Shape
	k := Elementwise
	for _, op := range body.Body {
		if len(op.Results) != 1 || !op.Results[0].Type.Shape.Equal(shape) {
			return Opaque
		}
		switch op.Def().Kind {
		case Elementwise:
		case Broadcast:
			k = Broadcast
		default:
			return Opaque
		}
	}
	return k
}

// instantiate builds d's decomposition over args: the signature's symbols
// bound to args' dims (also in the body's shape attributes), every type
// inferred again. The ops are not placed in any function. A composite
// reads no attributes; those it carries (a kernel region) are the
// passes' business. Unless strict, operands that do not fit the signature
// are taken as they are, for a pass that rebuilds the op on other shapes
// (moe-lower's rows): the body's type rules still check them.
func instantiate(d *OpDef, args []*Value, _ Attrs, loc Loc, strict bool) ([]*Op, []*Value, error) {
	body := d.Body
	if len(args) != len(body.Args) {
		return nil, nil, fmt.Errorf("%s takes %d operands, got %d", d.Name, len(body.Args), len(args))
	}
	bind := map[string]Dim{}
	for i, p := range body.Args {
		if err := bindType(bind, p.Type, args[i].Type); err != nil {
			if strict {
				return nil, nil, fmt.Errorf("%s: operand %d (%%%s): %w", d.Name, i, p.Name, err)
			}
			bind = map[string]Dim{}
			break
		}
	}
	vals := make(map[*Value]*Value, len(body.Body)+len(args))
	for i, p := range body.Args {
		vals[p] = args[i]
	}
	ops := make([]*Op, 0, len(body.Body))
	for _, op := range body.Body {
		in := make([]*Value, len(op.Args))
		for i, a := range op.Args {
			in[i] = vals[a]
		}
		at := substAttrs(op.Attrs, bind)
		res, err := InferTypes(op.Def(), in, at)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: in its decomposition: %w", d.Name, err)
		}
		if len(res) != len(op.Results) {
			return nil, nil, fmt.Errorf("%s: in its decomposition: %s has %d results, its type rule gives %d", d.Name, op.Name, len(op.Results), len(res))
		}
		l := loc
		if l == (Loc{}) {
			l = op.Loc
		}
		n := NewOp(op.Name, in, at, res, l)
		for i, r := range op.Results {
			vals[r] = n.Results[i]
		}
		ops = append(ops, n)
	}
	res := make([]*Value, len(body.Results))
	for i, r := range body.Results {
		res[i] = vals[r]
	}
	return ops, res, nil
}

// bindType matches an operand type against a signature type: the same
// dtype and rank, constant dims equal, each symbol bound to one dim.
func bindType(bind map[string]Dim, sig, t Type) error {
	if sig.DType != t.DType || len(sig.Shape) != len(t.Shape) {
		return fmt.Errorf("got %s, the signature says %s", t, sig)
	}
	for i, s := range sig.Shape {
		d := t.Shape[i]
		switch {
		case s.IsAffine():
			return fmt.Errorf("signature dim %s: write plain symbols in a signature", s)
		case !s.IsSym():
			if d != s {
				return fmt.Errorf("dim %d is %s, the signature says %s", i, d, s)
			}
		default:
			if b, ok := bind[s.Sym]; ok && b != d {
				return fmt.Errorf("%s is %s and %s", s.Sym, b, d)
			}
			bind[s.Sym] = d
		}
	}
	return nil
}

// substAttrs replaces bound symbols in shape attributes.
func substAttrs(a Attrs, bind map[string]Dim) Attrs {
	out := a.Clone()
	for k, v := range out {
		if s, ok := v.(Shape); ok {
			t := make(Shape, len(s))
			for i, d := range s {
				if b, ok := bind[d.Sym]; ok && d.IsSym() {
					d = Affine(d.mul(), b, d.N)
				}
				t[i] = d
			}
			out[k] = ShapeAttr(t)
		}
	}
	return out
}

func placeholders(ts []Type) []*Value {
	vs := make([]*Value, len(ts))
	for i, t := range ts {
		vs[i] = &Value{Type: t, Index: i}
	}
	return vs
}

func valueTypes(vs []*Value) []Type {
	ts := make([]Type, len(vs))
	for i, v := range vs {
		ts[i] = v.Type
	}
	return ts
}

// ExpandComposites inlines the composite ops of f for which which holds
// (all when which is nil), recursively, and reports whether there were
// any. inherit, if not nil, is called for each inlined op with the
// composite it came from, to carry attributes such as a kernel region over.
func ExpandComposites(f *Func, which func(*Op) bool, inherit func(from, inlined *Op)) (bool, error) {
	if !HasComposites(f) {
		return false, nil
	}
	changed := false
	ed := NewEditor(f)
	work := append([]*Op(nil), f.Body...)
	for len(work) > 0 {
		op := work[0]
		work = work[1:]
		if !op.Def().IsComposite() || which != nil && !which(op) {
			continue
		}
		changed = true
		ops, res, err := instantiate(op.Def(), op.Args, op.Attrs, op.Loc, true)
		if err != nil {
			return false, fmt.Errorf("@%s at %s: %w", f.Name, op.Loc, err)
		}
		for _, n := range ops {
			ed.InsertBefore(op, n)
			if inherit != nil {
				inherit(op, n)
			}
		}
		for i, r := range op.Results {
			ed.ReplaceAllUses(r, res[i])
		}
		ed.Erase(op)
		work = append(work, ops...) // a composite may use another
	}
	return changed, ed.Commit()
}

// Expanded returns f itself when it has no composite ops, else a copy
// with them all inlined: what a backend that knows only the built-in ops
// runs, leaving the caller's function as it was.
func Expanded(f *Func) (*Func, error) {
	if !HasComposites(f) {
		return f, nil
	}
	g := f.Clone(f.Name)
	_, err := ExpandComposites(g, nil, nil)
	return g, err
}

// HasComposites reports whether any op of f is a composite.
func HasComposites(f *Func) bool {
	for _, op := range f.Body {
		if op.Def().IsComposite() {
			return true
		}
	}
	return false
}

// usedComposites lists the composites m's functions use, each after the
// composites its own body uses, for the text form.
func usedComposites(m *Module) []*OpDef {
	var out []*OpDef
	seen := map[*OpDef]bool{}
	var visit func(ops []*Op)
	visit = func(ops []*Op) {
		for _, op := range ops {
			d := op.Def()
			if !d.IsComposite() || seen[d] {
				continue
			}
			seen[d] = true
			visit(d.Body.Body)
			out = append(out, d)
		}
	}
	for _, f := range m.Funcs {
		visit(f.Body)
	}
	return out
}
