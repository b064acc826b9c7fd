package driver

import (
	"fmt"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/runtime"
)

// checkParamMemory is the preflight before a model's weights are made or
// loaded (issue 15: sizes from config.json or --set reached the
// allocator unchecked): copies of every parameter as runtime tensors must
// fit the memory budget. Training holds four (master weights, two Adam
// moments, gradients), inference one.
func checkParamMemory(m *ir.Module, copies int64, what string) error {
	var total int64
	for _, p := range m.Params {
		if len(p.Type.Shape.Syms()) > 0 {
			continue // a symbolic param is sized by its arguments
		}
		dims := make([]int64, len(p.Type.Shape))
		for i, d := range p.Type.Shape {
			dims[i] = d.N
		}
		n, ok := runtime.MulSizes(dims...)
		b, ok2 := runtime.HostBytes(p.Type.DType, n)
		ok = ok && ok2
		if !ok || total > (1<<62)-b {
			return fmt.Errorf("%s: param %s of %d elements overflows a size", what, p.Name, n)
		}
		total += b
	}
	need, ok := runtime.MulSizes(total, copies)
	if !ok {
		return fmt.Errorf("%s: %d copies of %d bytes of parameters overflow a size", what, copies, total)
	}
	return runtime.CheckBudget(fmt.Sprintf("%s (%d parameters' bytes × %d)", what, total, copies), need)
}
