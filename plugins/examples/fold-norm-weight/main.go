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
		ed := ir.NewEditor(f)
		for _, norm := range f.Body {
			if !norm.Is(ir.OpRMSNorm) {
				continue
			}
			linears, result := ed.Users(norm.Result())
			if why := refuse(norm, linears, result); why != "" {
				opts.Printf("kept   %s in @%s: %s\n", name(norm.Args[1]), f.Name, why)
				kept++
				continue
			}
			if err := foldNorm(ed, norm, linears); err != nil {
				return fmt.Errorf("@%s at %s: %w", f.Name, norm.Loc, err)
			}
			opts.Printf("folded %s into %d linear(s) in @%s\n", name(norm.Args[1]), len(linears), f.Name)
			folded++
		}
		if err := ed.Commit(); err != nil {
			return err
		}
	}
	opts.Printf("fold-norm-weight: %d norms folded, %d kept\n", folded, kept)
	return nil
}

// refuse says why a norm cannot be folded, or "".
func refuse(norm *ir.Op, users []*ir.Op, result bool) string {
	switch {
	case result:
		return "it is a function result"
	case len(users) == 0:
		return "unused"
	}
	for _, u := range users {
		if !u.Is(ir.OpLinear) || u.Args[0] != norm.Result() || u.Args[1] == norm.Result() {
			return "used by " + u.Name
		}
	}
	return ""
}

// foldNorm replaces norm by rms_norm(x, ones) and each linear's weight W
// by W · w as a row (W cast to w's dtype first). A linear's weight is
// read just before the linear, after the norm, so its product is built
// there.
func foldNorm(ed *ir.Editor, norm *ir.Op, linears []*ir.Op) error {
	x, w := norm.Args[0], norm.Args[1]
	dt, d := w.Type.DType, w.Type.Shape[0]
	b := ed.Before(norm)
	ones := b.Splat(1, dt, ir.Shape{d})
	row := b.Reshape(w, ir.C(1), d)
	plain := b.Op(ir.OpRMSNorm, []*ir.Value{x, ones}, norm.Attrs.Clone())
	if b.Err() != nil {
		return b.Err()
	}
	for _, lin := range linears {
		lb := ed.Before(lin)
		W := lin.Args[1]
		if W.Type.DType != dt {
			W = lb.Cast(W, dt)
		}
		Ww := lb.Op(ir.OpMul, []*ir.Value{W, row}, nil)
		if lb.Err() != nil {
			return lb.Err()
		}
		ed.SetArg(lin, 1, Ww)
	}
	ed.ReplaceAllUses(norm.Result(), plain)
	ed.Erase(norm)
	return nil
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
