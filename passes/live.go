package passes

import "github.com/deepc-dev/deepc/ir"

// liveOps marks the ops of f that its results depend on, plus every op that
// cannot be removed and what it depends on. The slice is indexed like f.Body.
func liveOps(f *ir.Func) []bool {
	live := map[*ir.Value]bool{}
	for _, r := range f.Results {
		live[r] = true
	}
	keep := make([]bool, len(f.Body))
	for i := len(f.Body) - 1; i >= 0; i-- {
		op := f.Body[i]
		keep[i] = !op.Pure()
		for _, r := range op.Results {
			keep[i] = keep[i] || live[r]
		}
		if keep[i] {
			for _, a := range op.Args {
				live[a] = true
			}
		}
	}
	return keep
}
