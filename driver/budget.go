package driver

import (
	"fmt"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/runtime"
	"github.com/deepc-dev/deepc/runtime/train"
)

// checkParamMemory is the preflight before a model's weights are made or
// loaded (issue 15: sizes from config.json or --set reached the
// allocator unchecked): copies of every parameter as runtime tensors must
// fit the memory budget. Training holds four (master weights, two Adam
// moments, gradients), init two (each tensor is drawn as f32, then
// converted), inference one.
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

// checkBatchMemory is the preflight of what a step's data holds before the
// model runs (the run itself is checked by the CPU backend): the shuffle
// window of train.ShuffleWindow sequences of --seq token ids, and the
// packed batch, whose sequence membership matrix is [batch, batch×seq]
// floats — quadratic in --batch.
func checkBatchMemory(s TrainSettings) error {
	window, ok1 := runtime.MulSizes(train.ShuffleWindow, int64(s.Seq), 8)
	segments, ok2 := runtime.MulSizes(int64(s.Batch), int64(s.Batch), int64(s.Seq), 4)
	if !ok1 || !ok2 {
		return fmt.Errorf("--batch %d and --seq %d overflow a size", s.Batch, s.Seq)
	}
	return runtime.CheckBudget(fmt.Sprintf("--batch %d --seq %d (a shuffle window of %d sequences and a [%d, %d] packing matrix)", s.Batch, s.Seq, train.ShuffleWindow, s.Batch, s.Batch*s.Seq), window+segments)
}
