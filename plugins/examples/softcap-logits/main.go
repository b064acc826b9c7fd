// Command softcap-logits is an example deepc plugin that inserts a new op
// sequence with the ir.Builder API: it caps the logits softly,
//
//	logits' = cap · tanh(logits / cap)
//
// (as Gemma 2 does), on result 0 of every function whose result 0 is a
// float tensor. The cap is the pass option cap.
package main

import (
	"fmt"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/plugins/sdk"
)

func main() { sdk.Serve(Plugin) }

// Plugin is what the binary serves (and its tests run in process).
var Plugin = sdk.Plugin{Name: "softcap-logits", Version: "1.0.0", Passes: []sdk.Pass{Pass}}

// Pass is the plugin's one pass; it runs only when named in --passes.
var Pass = sdk.Pass{
	Name:        "softcap-logits",
	Description: "replace each function's logits (result 0) by cap·tanh(logits/cap)",
	Options:     []sdk.Option{{Name: "cap", Description: "the soft cap (positive)", Default: "30"}},
	Run:         softcap,
}

func softcap(m *ir.Module, opts sdk.Options) error {
	c, err := opts.Float("cap")
	if err != nil {
		return err
	}
	if !(c > 0) {
		return fmt.Errorf("option cap = %v: want a positive number", c)
	}
	for _, f := range m.Funcs {
		if len(f.Results) == 0 || !f.Results[0].Type.DType.IsFloat() {
			continue
		}
		logits := f.Results[0]
		// A Builder appends to the function's body: the new ops go after
		// everything else, just before the return.
		loc := ir.Loc{File: "softcap-logits"}
		if logits.Def != nil {
			loc = logits.Def.Loc
		}
		b := &ir.Builder{F: f, Loc: loc}
		capped, err := emitSoftcap(b, logits, c)
		if err != nil {
			return fmt.Errorf("@%s: %w", f.Name, err)
		}
		f.Results[0] = capped
		opts.Printf("softcap-logits: @%s result 0 capped at %v\n", f.Name, c)
	}
	return nil
}

// emitSoftcap emits cap·tanh(x/cap); the builder checks every op against
// the op table and infers its type.
func emitSoftcap(b *ir.Builder, x *ir.Value, c float64) (*ir.Value, error) {
	k, err := b.Emit1("const", nil, ir.Attrs{"value": c, "dtype": x.Type.DType})
	if err != nil {
		return nil, err
	}
	scaled, err := b.Emit1("div", []*ir.Value{x, k}, nil)
	if err != nil {
		return nil, err
	}
	t, err := b.Emit1("tanh", []*ir.Value{scaled}, nil)
	if err != nil {
		return nil, err
	}
	return b.Emit1("mul", []*ir.Value{t, k}, nil)
}
