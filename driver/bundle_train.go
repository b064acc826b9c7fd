package driver

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/models"
	"github.com/deepc-dev/deepc/passes"
	"github.com/deepc-dev/deepc/passes/autodiff"
	"github.com/deepc-dev/deepc/runtime"
	"github.com/deepc-dev/deepc/runtime/bundle"
	"github.com/deepc-dev/deepc/runtime/cpu"
	"github.com/deepc-dev/deepc/runtime/infer"
	"github.com/deepc-dev/deepc/runtime/train"
	"github.com/deepc-dev/deepc/runtime/weights"
)

// Runner executes one function of a module: a device executor's Run.
type Runner = runtime.RunFunc

// RunOn returns a copy of m whose every function runs through run (nil:
// the CPU backend).
func RunOn(m *infer.Model, run Runner) *infer.Model {
	c := *m
	c.Run = run
	return &c
}

// BundleTrainer returns a constructor of trainers over the bundle's train
// program (ir/train.ir) with the checkpoint's weights as f32 masters; run
// (nil: the CPU) executes the program. Each trainer starts from the
// checkpoint afresh.
func BundleTrainer(dir, checkpoint string) (func(run Runner) (*train.Trainer, error), error) {
	if _, err := os.Stat(filepath.Join(dir, "ir", "train.ir")); err != nil {
		return nil, fmt.Errorf("bundle %s has no train program (compile it with --graph ...,train)", dir)
	}
	src, err := bundle.ReadFile(dir, "ir/train.ir")
	if err != nil {
		return nil, err
	}
	return func(run Runner) (*train.Trainer, error) {
		m, err := ir.Parse("ir/train.ir", string(src))
		if err != nil {
			return nil, err
		}
		// The checkpoint holds the model's params; the optimizer state the
		// train program declares starts at zero (train.New).
		stored := &ir.Module{Name: m.Name, Attrs: m.Attrs}
		for _, p := range passes.CheckpointParams(m) {
			if !strings.HasPrefix(p.Name, autodiff.MomentM) && !strings.HasPrefix(p.Name, autodiff.MomentV) {
				stored.Params = append(stored.Params, p)
			}
		}
		params, err := weights.Load(stored, checkpoint, weights.ExactValues(), weights.IgnoreTensors(models.CheckpointCopy))
		if err != nil {
			return nil, err
		}
		tr, err := train.New(m, params, cpu.Options{Mode: trainMode(m)})
		if err != nil {
			return nil, err
		}
		tr.Run = run
		return tr, nil
	}, nil
}

// trainMode is the precision a bundle's train program was built for: FP8
// when it quantizes weights before its GEMMs (docs/model.md §5), BF16
// otherwise.
func trainMode(m *ir.Module) cpu.Mode {
	for _, op := range m.Func("train").Body {
		if op.Is(ir.OpQuantizeBlocks) {
			return cpu.FP8
		}
	}
	return cpu.BF16
}
