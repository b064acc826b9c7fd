package driver

import (
	"fmt"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/passes"
	"github.com/deepc-dev/deepc/passes/autodiff"
	"github.com/deepc-dev/deepc/runtime"
	"github.com/deepc-dev/deepc/runtime/weights"
)

// Gradients is deepc grad: the model l loads, in its training form (the
// canonical pipeline), with a grad function of its next-token loss over
// every trainable param, run on seqs. It returns the loss and the
// gradients named as the checkpoint names their params (f32, each expert
// its own tensor), ready for weights.WriteFile.
func Gradients(l Load, seqs [][]int) (float64, []weights.NamedTensor, error) {
	var wrt []string
	l.Pipeline = passes.CanonicalPipeline
	l.Extend = func(m *ir.Module) error {
		fwd := m.Func("forward")
		if fwd == nil {
			return fmt.Errorf("the model has no forward function")
		}
		loss, err := autodiff.NextTokenLoss(m, fwd, "loss")
		if err != nil {
			return err
		}
		wrt = autodiff.Trainable(m, loss)
		_, err = autodiff.Grad(m, loss, 0, wrt, "grad")
		return err
	}
	model, err := l.Model()
	if err != nil {
		return 0, nil, err
	}
	res, err := model.Grad(seqs)
	if err != nil {
		return 0, nil, err
	}
	grads := map[string]*runtime.Tensor{}
	for i, name := range wrt {
		grads[name] = res[1+i]
	}
	named, err := weights.StoredTensors(model.Module, grads, weights.FormatF32, nil)
	if err != nil {
		return 0, nil, err
	}
	return float64(res[0].F[0]), named, nil
}
