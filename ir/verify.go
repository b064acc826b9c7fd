package ir

import (
	"errors"
	"fmt"
	"strings"
)

// Verify checks a module's invariants: every op is declared and well-typed,
// every value is defined before use, params exist with the types read, and
// symbols in shapes are bound by the function's arguments. It reports every
// problem it finds, up to a limit.
func Verify(m *Module) error {
	v := verifier{m: m}
	v.module()
	if len(v.errs) == 0 {
		return nil
	}
	return errors.Join(v.errs...)
}

type verifier struct {
	m      *Module
	params map[string]*Param
	errs   []error
}

const maxVerifyErrors = 20

func (v *verifier) errorf(format string, args ...any) {
	if len(v.errs) < maxVerifyErrors {
		v.errs = append(v.errs, fmt.Errorf(format, args...))
	}
}

func (v *verifier) typ(where string, t Type) {
	if !t.DType.Valid() {
		v.errorf("%s: invalid dtype", where)
	}
	for _, d := range t.Shape {
		if d.IsSym() {
			if !isBareName(d.Sym) || strings.Contains(d.Sym, ".") {
				v.errorf("%s: bad symbolic dim %q", where, d.Sym)
			}
			if d.Mul < 0 || d.N < 0 {
				v.errorf("%s: bad affine dim %s", where, d)
			}
		} else if d.N <= 0 {
			v.errorf("%s: dims must be positive, got %s", where, t.Shape)
		}
	}
}

// attrs checks that every attribute value is of a kind the text form prints
// and reads back (an int where int64 is meant would print as "<bad attr int>").
func (v *verifier) attrs(where string, a Attrs) {
	for _, k := range a.Keys() {
		if err := checkAttrValue(a[k]); err != nil {
			v.errorf("%s: attribute %s: %v", where, quoteName(k), err)
		}
	}
}

func checkAttrValue(x any) error {
	switch x := x.(type) {
	case int64, float64, string, bool, []int64, []float64:
	case DType:
		if !x.Valid() {
			return fmt.Errorf("invalid dtype %s", x)
		}
	case Shape:
		for _, d := range x {
			if d.IsSym() && !isBareName(d.Sym) {
				return fmt.Errorf("bad symbolic dim %q", d.Sym)
			}
		}
	case Attrs:
		for _, k := range x.Keys() {
			if err := checkAttrValue(x[k]); err != nil {
				return fmt.Errorf("%s: %w", quoteName(k), err)
			}
		}
	default:
		return fmt.Errorf("unsupported value type %T", x)
	}
	return nil
}

func (v *verifier) module() {
	v.attrs("module", v.m.Attrs)
	v.params = map[string]*Param{}
	for _, p := range v.m.Params {
		if p.Name == "" {
			v.errorf("param with an empty name")
		}
		if v.params[p.Name] != nil {
			v.errorf("param @%s declared twice", quoteName(p.Name))
		}
		v.params[p.Name] = p
		v.typ("param @"+quoteName(p.Name), p.Type)
		v.attrs("param @"+quoteName(p.Name), p.Attrs)
		if len(p.Type.Shape.Syms()) > 0 {
			v.errorf("param @%s: shape %s must be constant", quoteName(p.Name), p.Type.Shape)
		}
	}
	funcs := map[string]bool{}
	for _, f := range v.m.Funcs {
		if funcs[f.Name] {
			v.errorf("func @%s declared twice", f.Name)
		}
		funcs[f.Name] = true
		v.fn(f)
	}
}

func (v *verifier) fn(f *Func) {
	where := "func @" + f.Name
	defined := map[*Value]bool{}
	syms := map[string]bool{}
	names := map[string]bool{}
	for i, a := range f.Args {
		if a.Def != nil || a.Index != i {
			v.errorf("%s: argument %d is malformed", where, i)
		}
		if !isBareName(a.Name) || names[a.Name] {
			v.errorf("%s: argument %d has a bad or repeated name %q", where, i, a.Name)
		}
		names[a.Name] = true
		v.typ(fmt.Sprintf("%s: argument %%%s", where, a.Name), a.Type)
		for _, d := range a.Type.Shape {
			if d.IsAffine() {
				v.errorf("%s: argument %%%s: dim %s is affine; arguments bind plain symbols", where, a.Name, d)
			}
		}
		defined[a] = true
		for _, s := range a.Type.Shape.Syms() {
			syms[s] = true
		}
	}
	var printed map[*Value]string
	for i, op := range f.Body {
		// Naming values and ops costs more than checking them: name them
		// only to report what the check found.
		n := len(v.errs)
		v.op("", op, nil, defined, syms)
		if len(v.errs) > n {
			v.errs = v.errs[:n]
			if printed == nil {
				printed = ValueNames(f)
			}
			v.op(opWhere(where, i, op, printed), op, printed, defined, syms)
		}
		for _, r := range op.Results {
			defined[r] = true
		}
	}
	for i, r := range f.Results {
		if !defined[r] {
			v.errorf("%s: returned value %d is not defined", where, i)
		}
	}
}

// opWhere names an op as Print prints it, "%3 = neg", and where the model
// wrote it, so that a message leads to the line of a printed module and of
// the source.
func opWhere(fn string, i int, op *Op, names map[*Value]string) string {
	var results []string
	for _, r := range op.Results {
		results = append(results, names[r])
	}
	where := fmt.Sprintf("%s: %s = %s", fn, strings.Join(results, ", "), op.Name)
	if len(results) == 0 {
		where = fmt.Sprintf("%s: op %d (%s)", fn, i, op.Name)
	}
	if op.Loc.IsKnown() {
		where += " (at " + op.Loc.String() + ")"
	}
	return where
}

func (v *verifier) op(where string, op *Op, names map[*Value]string, defined map[*Value]bool, syms map[string]bool) {
	def := op.Def()
	if def == nil {
		v.errorf("%s: unknown op", where)
		return
	}
	for i, a := range op.Args {
		if a == nil || !defined[a] {
			name, ok := names[a]
			if !ok {
				name = "%<undefined>"
			}
			v.errorf("%s: operand %d (%s) is used before it is defined", where, i, name)
			return
		}
	}
	v.attrs(where, op.Attrs)
	if err := checkArity(def, len(op.Args), op.Attrs); err != nil {
		v.errorf("%s: %v", where, err)
		return
	}
	for i, r := range op.Results {
		if r.Def != op || r.Index != i {
			v.errorf("%s: result %d is malformed", where, i)
		}
		if defined[r] {
			v.errorf("%s: result %d is defined twice", where, i)
		}
		v.typ(fmt.Sprintf("%s: result %d", where, i), r.Type)
		for _, s := range r.Type.Shape.Syms() {
			if !syms[s] {
				v.errorf("%s: result %d uses symbol %s that no argument binds", where, i, s)
			}
		}
	}
	if def.Infer == nil {
		v.param(where, op)
		return
	}
	want, err := def.Infer(op.ArgTypes(), op.Attrs)
	if err != nil {
		v.errorf("%s: %v", where, err)
		return
	}
	got := op.ResultTypes()
	if len(want) != len(got) {
		v.errorf("%s: has %d results, want %d", where, len(got), len(want))
		return
	}
	for i := range want {
		if !want[i].Equal(got[i]) {
			v.errorf("%s: result %d has type %s, want %s", where, i, got[i], want[i])
		}
	}
}

func (v *verifier) param(where string, op *Op) {
	name, _ := op.Attrs.Str("name")
	p := v.params[name]
	switch {
	case p == nil:
		v.errorf("%s: no param @%s in the module", where, quoteName(name))
	case len(op.Results) != 1:
		v.errorf("%s: param has one result", where)
	case !p.Type.Equal(op.Results[0].Type):
		v.errorf("%s: param @%s has type %s, read as %s", where, quoteName(name), p.Type, op.Results[0].Type)
	}
}
