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
	Options:     []sdk.Option{{Name: "cap", Type: sdk.Float, Description: "the soft cap (positive)", Default: "30"}},
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
		// The new ops go after everything else, just before the return.
		ed := ir.NewEditor(f)
		b := ed.AtEnd(ir.Loc{File: "softcap-logits"})
		logits := f.Results[0]
		if logits.Def != nil {
			b.Loc = logits.Def.Loc
		}
		// cap·tanh(x/cap); the builder checks every op against the op
		// table, infers its type and keeps the first error.
		k := b.Op(ir.OpConst, nil, ir.Attrs{"value": c, "dtype": logits.Type.DType})
		scaled := b.Op(ir.OpDiv, []*ir.Value{logits, k}, nil)
		t := b.Op(ir.OpTanh, []*ir.Value{scaled}, nil)
		capped := b.Op(ir.OpMul, []*ir.Value{t, k}, nil)
		if b.Err() != nil {
			return fmt.Errorf("@%s: %w", f.Name, b.Err())
		}
		ed.SetResult(0, capped)
		if err := ed.Commit(); err != nil {
			return err
		}
		opts.Printf("softcap-logits: @%s result 0 capped at %v\n", f.Name, c)
	}
	return nil
}
