package device_test

import (
	"context"
	"slices"
	"testing"

	"github.com/deepc-dev/deepc/codegen"
	"github.com/deepc-dev/deepc/dsl"
	"github.com/deepc-dev/deepc/models"
	"github.com/deepc-dev/deepc/passes"
	"github.com/deepc-dev/deepc/passes/autodiff"
	"github.com/deepc-dev/deepc/program"
	"github.com/deepc-dev/deepc/runtime/cpu"
	"github.com/deepc-dev/deepc/runtime/device"
	"github.com/deepc-dev/deepc/runtime/train"
	"github.com/deepc-dev/deepc/runtime/weights"
)

// tinyTrainer is the tiny model's BF16 train program with random f32
// masters, and the programs of its kernels.
func tinyTrainer(t *testing.T, fp8 bool) (*train.Trainer, map[string][]program.Step) {
	tr, programs, _ := tinyTrainerKernels(t, fp8, false)
	return tr, programs
}

// tinyTrainerKernels is tinyTrainer with the kernels, as PTX when withPTX.
func tinyTrainerKernels(t *testing.T, fp8, withPTX bool) (*train.Trainer, map[string][]program.Step, []*codegen.Kernel) {
	return trainerKernels(t, "deepseek_v3_tiny.deep", fp8, withPTX)
}

// trainerKernels is tinyTrainerKernels for a model of models/.
func trainerKernels(t *testing.T, model string, fp8, withPTX bool) (*train.Trainer, map[string][]program.Step, []*codegen.Kernel) {
	t.Helper()
	m, err := dsl.CompileFile("../../models/"+model, dsl.Options{ReadFile: models.ReadFile})
	if err != nil {
		t.Fatal(err)
	}
	pl, _ := passes.ParsePipeline(passes.CanonicalPipeline)
	if err := passes.Run(&passes.Context{}, m, pl); err != nil {
		t.Fatal(err)
	}
	ts, err := weights.RandomTensors(m, 7, weights.FormatF32)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := weights.WriteCheckpoint(dir, ts, 1); err != nil {
		t.Fatal(err)
	}
	params, err := weights.Load(m, dir, weights.ExactValues(), weights.IgnoreTensors(models.CheckpointCopy))
	if err != nil {
		t.Fatal(err)
	}
	o := autodiff.DeepSeekV3
	o.FP8 = fp8
	if err := autodiff.TrainKernels(m, o); err != nil {
		t.Fatal(err)
	}
	copts := codegen.Options{Funcs: []string{"train"}}
	if withPTX {
		copts = ptxOptions(t)
		copts.Funcs = []string{"train"}
	}
	res, err := codegen.Compile(context.Background(), m, copts)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Missing["train"]) > 0 {
		t.Fatalf("train regions without kernels: %v", res.Missing["train"])
	}
	programs := map[string][]program.Step{}
	for _, s := range res.Programs["train"] {
		programs["train"] = append(programs["train"], *s)
	}
	mode := cpu.BF16
	if fp8 {
		mode = cpu.FP8
	}
	tr, err := train.New(m, params, cpu.Options{Mode: mode, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	return tr, programs, res.Kernels
}

// Training steps through the executor (every kernel of the BF16 and the
// FP8 train program, multi-kernel regions with scratch included) take the
// CPU's steps exactly: losses and every parameter bit for bit.
func TestTrainStepsThroughExecutor(t *testing.T) {
	for _, fp8 := range []bool{false, true} {
		t.Run(map[bool]string{false: "bf16", true: "fp8"}[fp8], func(t *testing.T) { trainThroughExecutor(t, fp8) })
	}
}

func trainThroughExecutor(t *testing.T, fp8 bool) {
	ref, _ := tinyTrainer(t, fp8)
	dev, programs := tinyTrainer(t, fp8)
	ex := device.NewExecutor(cpu.NewDevice(dev.Opts), programs)
	defer ex.Close()
	dev.Run = ex.Run
	b := train.Batch{Seqs: [][]int{{1, 17, 301, 42, 7, 499, 3, 9}, {3, 3, 250, 9, 120, 64, 5, 8}}}
	for step := 0; step < 2; step++ {
		mr, err := ref.TakeStep(b, 3e-3)
		if err != nil {
			t.Fatal(err)
		}
		md, err := dev.TakeStep(b, 3e-3)
		if err != nil {
			t.Fatal(err)
		}
		if mr.Loss != md.Loss || mr.GradNorm != md.GradNorm {
			t.Fatalf("step %d: loss %v / %v, grad norm %v / %v", step, md.Loss, mr.Loss, md.GradNorm, mr.GradNorm)
		}
	}
	for name, p := range ref.Params {
		if !slices.Equal(p.F, dev.Params[name].F) || !slices.Equal(p.I, dev.Params[name].I) {
			t.Fatalf("%s differs after two steps", name)
		}
	}
	t.Logf("%d launches per step, arena %d MiB", len(programs["train"]), ex.LastPlan.Peak>>20)
}
