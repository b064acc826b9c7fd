package cpu

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/runtime"
)

// Before a run, the memory its values will hold is estimated and checked
// against the memory budget (runtime.CheckBudget): sizes come from the
// arguments, which come from input (a 1 MB --tokens file is 250,000
// tokens), and a refusal before the run beats an allocation failure or
// the OOM killer halfway through. The estimate is the peak of the live
// set in program order — each value allocated at its op, freed after its
// last use, aliasing views counted as copies — so it errs on the high
// side, as a budget check should; the kernels' scratch is a factor on
// top (scratchFactor).

// budgetCheckFrom is the smallest symbol value that triggers the check: a
// decode step (T = the number of sequences) runs thousands of times and
// is checked through its cache instead (runtime/infer).
const budgetCheckFrom = 1024

func checkRunMemory(f *ir.Func, env map[string]int64) error {
	big := false
	for _, n := range env {
		big = big || n >= budgetCheckFrom
	}
	if !big {
		return nil
	}
	peak, ok := peakBytes(f, env)
	what := fmt.Sprintf("func @%s with %s", f.Name, envString(env))
	if !ok {
		return fmt.Errorf("%s: a value's size overflows", what)
	}
	need, ok := runtime.MulSizes(peak, scratchFactor)
	if !ok {
		return fmt.Errorf("%s: a value's size overflows", what)
	}
	return runtime.CheckBudget(what, need)
}

// scratchFactor covers what the kernels hold besides the values: packed
// GEMM operands, attention's per-block scores and the buffer pool. A
// forward of 50,000 one-token sequences measured 3.5 times the estimate
// of its values.
const scratchFactor = 4

func peakBytes(f *ir.Func, env map[string]int64) (int64, bool) {
	last := map[*ir.Value]int{}
	for i, op := range f.Body {
		for _, a := range op.Args {
			last[a] = i
		}
	}
	for _, r := range f.Results {
		last[r] = len(f.Body)
	}
	sizes := map[*ir.Value]int64{}
	var live, peak int64
	add := func(v *ir.Value) bool {
		dims := make([]int64, len(v.Type.Shape))
		for i, d := range v.Type.Shape {
			n, ok := d.Eval(env)
			if !ok {
				return true // unbound here: the run itself reports it
			}
			dims[i] = n
		}
		n, ok := runtime.MulSizes(dims...)
		b, ok2 := runtime.HostBytes(v.Type.DType, n)
		if !ok || !ok2 || live > (1<<62)-b {
			return false
		}
		sizes[v] = b
		live += b
		return true
	}
	for _, a := range f.Args {
		if !add(a) {
			return 0, false
		}
	}
	for i, op := range f.Body {
		if !op.Is(ir.OpParam) { // weights are held already
			for _, r := range op.Results {
				if !add(r) {
					return 0, false
				}
			}
		}
		peak = max(peak, live)
		for _, r := range op.Results {
			if _, used := last[r]; !used {
				live -= sizes[r]
				delete(sizes, r)
			}
		}
		for _, a := range op.Args {
			if last[a] == i {
				live -= sizes[a]
				delete(sizes, a)
			}
		}
	}
	return peak, true
}

func envString(env map[string]int64) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(env)) {
		parts = append(parts, fmt.Sprintf("%s=%d", k, env[k]))
	}
	return strings.Join(parts, ", ")
}
