// Command swiglu-fuse is an example deepc plugin: it declares SwiGLU as a
// composite op,
//
//	swiglu(g, u) = silu(g) · u
//
// and replaces each mul(silu(g), u) whose silu has no other use by one
// swiglu op. The op carries its decomposition, so deepc needs nothing else
// to use it: the CPU runs the decomposition, autodiff differentiates it,
// and plan-kernels puts it in one kernel region before expand-composites
// inlines it for codegen. The logits do not change by a bit.
package main

import (
	"fmt"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/plugins/sdk"
)

func main() { sdk.Serve(Plugin) }

// Plugin is what the binary serves (and its tests run in process).
var Plugin = sdk.Plugin{Name: "swiglu-fuse", Version: "1.0.0", Passes: []sdk.Pass{Pass}}

// Pass is the plugin's one pass.
var Pass = sdk.Pass{
	Name:        "swiglu-fuse",
	Description: "fuse silu(g)·u into one composite swiglu op (the MLPs' and experts' gate)",
	Anchor:      "after:canonicalize",
	Run:         fuse,
}

func fuse(m *ir.Module, opts sdk.Options) error {
	fused := 0
	rule := func(g, u int) ir.Rule {
		operands := []*ir.Pat{nil, nil}
		operands[g] = ir.P(ir.OpSilu, ir.Any("g")).As("act")
		operands[u] = ir.Any("u")
		return ir.Rule{
			Name: "swiglu",
			Pat:  ir.P(ir.OpMul, operands...),
			Rewrite: func(rw *ir.Rewriter, mt *ir.Match) *ir.Value {
				x, y := mt.V("g"), mt.V("u")
				if users, result := rw.Ed.Users(mt.V("act")); result || len(users) != 1 {
					return nil // the silu is needed on its own too
				}
				if !x.Type.Equal(y.Type) || !mt.Root.Result().Type.Equal(x.Type) {
					return nil // mul broadcasts: not a plain gate
				}
				d, err := swiglu(x.Type)
				if err != nil {
					panic(err) // the body is built from the op table: a bug, not bad input
				}
				fused++
				return rw.Op(d, []*ir.Value{x, y}, nil)
			},
		}
	}
	// mul commutes: the silu may stand on either side.
	if _, err := ir.NewRules(rule(0, 1), rule(1, 0)).ApplyModule(m); err != nil {
		return err
	}
	opts.Printf("swiglu-fuse: %d SwiGLU gates fused\n", fused)
	return nil
}

// swiglu declares the composite for operands of type t: one per dtype and
// rank, each dim a symbol, so one declaration serves every layer.
func swiglu(t ir.Type) (*ir.OpDef, error) {
	name := fmt.Sprintf("swiglu_%s_%dd", t.DType, len(t.Shape))
	s := make(ir.Shape, len(t.Shape))
	for i := range s {
		s[i] = ir.S(fmt.Sprintf("D%d", i))
	}
	st := ir.Type{Shape: s, DType: t.DType}
	b := (&ir.Module{}).NewFunc(name)
	g, u := b.Arg("g", st), b.Arg("u", st)
	b.Return(b.Op(ir.OpMul, []*ir.Value{b.Op(ir.OpSilu, []*ir.Value{g}, nil), u}, nil))
	if b.Err() != nil {
		return nil, b.Err()
	}
	return ir.DeclareComposite(name, b.F)
}
