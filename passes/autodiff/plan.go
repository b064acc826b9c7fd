package autodiff

import (
	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/passes"
)

// TrainKernels adds the train program to m (Train, with o) and plans its
// kernels (passes.TrainKernelPipeline): the module a bundle's train graph,
// the kernel tests and the device executor's tests compile. m must have
// been through passes.CanonicalPipeline.
func TrainKernels(m *ir.Module, o TrainOptions) error {
	if _, err := Train(m, o); err != nil {
		return err
	}
	pl, err := passes.ParsePipeline(passes.TrainKernelPipeline)
	if err != nil {
		return err
	}
	return passes.Run(&passes.Context{}, m, pl)
}
