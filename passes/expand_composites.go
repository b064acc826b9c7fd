package passes

import "github.com/deepc-dev/deepc/ir"

func init() {
	Register(NewPass("expand-composites", "inline composite ops (declared by plugins or the module text) into their decompositions, keeping their kernel regions", PerFunc(expandComposites)))
}

// expandComposites runs after plan-kernels: the planner sees a composite
// as one op, so its decomposition lands in one region, and the inlined ops
// inherit that region for codegen, which knows only built-in ops.
func expandComposites(_ *Context, f *ir.Func) (bool, error) {
	return ir.ExpandComposites(f, nil, func(from, inlined *ir.Op) {
		for _, k := range []string{KernelAttr, KernelKindAttr} {
			if v, ok := from.Attrs[k]; ok {
				if inlined.Attrs == nil {
					inlined.Attrs = ir.Attrs{}
				}
				inlined.Attrs[k] = v
			}
		}
	})
}
