// Command fold-norm-weight is an example deepc plugin: it folds an RMSNorm's
// weight into the linears that consume the normalised value,
//
//	linear(rms_norm(x, w), W)  →  linear(rms_norm(x, 1), W · diag(w))
//
// (W'[o, i] = W[o, i] · w[i]), so the norm no longer scales and the weight
// product is a weight-only expression that a backend can compute once at
// load time. It is valid only when every use of the norm is the input of a
// linear: a norm with any other consumer (a router, a residual) is kept
// and reported.
package main

import (
	"fmt"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/plugins/sdk"
)

func main() { sdk.Serve(Plugin) }

// Plugin is what the binary serves (and its tests run in process).
var Plugin = sdk.Plugin{Name: "fold-norm-weight", Version: "1.0.0", Passes: []sdk.Pass{Pass}}

// Pass is the plugin's one pass.
var Pass = sdk.Pass{
	Name:        "fold-norm-weight",
	Description: "fold each RMSNorm weight into the linears that consume the norm (only when all its consumers are linears)",
	Anchor:      "after:canonicalize",
	Run:         fold,
}

func fold(m *ir.Module, opts sdk.Options) error {
	folded, kept := 0, 0
	for _, f := range m.Funcs {
		users := map[*ir.Value][]*ir.Op{}
		for _, op := range f.Body {
			for _, a := range op.Args {
				users[a] = append(users[a], op)
			}
		}
		for _, r := range f.Results {
			users[r] = append(users[r], nil)
		}
		// A linear's weight is read just before the linear, after the
		// norm: its folded weight is built there.
		pending := map[*ir.Op]*plainNorm{}
		var body []*ir.Op
		for _, op := range f.Body {
			if p := pending[op]; p != nil {
				ops, err := p.foldInto(op)
				if err != nil {
					return fmt.Errorf("@%s at %s: %w", f.Name, op.Loc, err)
				}
				body = append(body, ops...)
			}
			if !op.Is(ir.OpRMSNorm) {
				body = append(body, op)
				continue
			}
			us := users[op.Result()]
			if why := refuse(op, us); why != "" {
				opts.Printf("kept   %s in @%s: %s\n", name(op.Args[1]), f.Name, why)
				kept++
				body = append(body, op)
				continue
			}
			p, err := newPlainNorm(op)
			if err != nil {
				return fmt.Errorf("@%s at %s: %w", f.Name, op.Loc, err)
			}
			body = append(body, p.ops...)
			for _, u := range us {
				pending[u] = p
			}
			opts.Printf("folded %s into %d linear(s) in @%s\n", name(op.Args[1]), len(us), f.Name)
			folded++
		}
		f.Body = body
	}
	opts.Printf("fold-norm-weight: %d norms folded, %d kept\n", folded, kept)
	return nil
}

// refuse says why a norm cannot be folded, or "".
func refuse(norm *ir.Op, users []*ir.Op) string {
	if len(users) == 0 {
		return "unused"
	}
	for _, u := range users {
		switch {
		case u == nil:
			return "it is a function result"
		case !u.Is(ir.OpLinear) || u.Args[0] != norm.Result():
			return "used by " + u.Name
		}
	}
	return ""
}

// plainNorm is a folded norm: rms_norm(x, ones), and its weight as a row
// [1, d] for the linears to multiply in.
type plainNorm struct {
	ops   []*ir.Op // replacing the norm
	row   *ir.Value
	plain *ir.Value
	dt    ir.DType
	loc   ir.Loc
}

func newPlainNorm(norm *ir.Op) (*plainNorm, error) {
	x, w := norm.Args[0], norm.Args[1]
	p := &plainNorm{dt: w.Type.DType, loc: norm.Loc}
	d := w.Type.Shape[0]
	one, err := p.emit(&p.ops, ir.OpConst, nil, ir.Attrs{"value": 1.0, "dtype": p.dt})
	if err != nil {
		return nil, err
	}
	ones, err := p.emit(&p.ops, ir.OpExpand, []*ir.Value{one}, ir.Attrs{"shape": ir.ShapeAttr(ir.Shape{d})})
	if err != nil {
		return nil, err
	}
	if p.row, err = p.emit(&p.ops, ir.OpReshape, []*ir.Value{w}, ir.Attrs{"shape": ir.ShapeAttr(ir.Shape{ir.C(1), d})}); err != nil {
		return nil, err
	}
	p.plain, err = p.emit(&p.ops, ir.OpRMSNorm, []*ir.Value{x, ones}, norm.Attrs.Clone())
	return p, err
}

// foldInto returns the ops computing lin's folded weight W·w (W cast to
// the norm weight's dtype first) and points lin at it and the plain norm.
func (p *plainNorm) foldInto(lin *ir.Op) ([]*ir.Op, error) {
	var ops []*ir.Op
	W := lin.Args[1]
	var err error
	if W.Type.DType != p.dt {
		if W, err = p.emit(&ops, ir.OpCast, []*ir.Value{W}, ir.Attrs{"dtype": p.dt}); err != nil {
			return nil, err
		}
	}
	if lin.Args[1], err = p.emit(&ops, ir.OpMul, []*ir.Value{W, p.row}, nil); err != nil {
		return nil, err
	}
	lin.Args[0] = p.plain
	return ops, nil
}

// emit appends an op (types from the op table) to ops.
func (p *plainNorm) emit(ops *[]*ir.Op, d *ir.OpDef, args []*ir.Value, attrs ir.Attrs) (*ir.Value, error) {
	types := make([]ir.Type, len(args))
	for i, a := range args {
		types[i] = a.Type
	}
	res, err := d.Infer(types, attrs)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d.Name, err)
	}
	op := ir.NewOp(d.Name, args, attrs, res, p.loc)
	*ops = append(*ops, op)
	return op.Result(), nil
}

// name is the checkpoint name of a param read, for the report.
func name(v *ir.Value) string {
	if v.Def.Is(ir.OpParam) {
		if n, ok := v.Def.Attrs.Str("name"); ok {
			return n
		}
	}
	return "%" + v.Name
}
