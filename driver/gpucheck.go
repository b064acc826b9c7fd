package driver

import (
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/program"
	"github.com/deepc-dev/deepc/runtime/bundle"
	"github.com/deepc-dev/deepc/runtime/cpu"
	"github.com/deepc-dev/deepc/runtime/cuda"
	"github.com/deepc-dev/deepc/runtime/device"
	"github.com/deepc-dev/deepc/runtime/infer"
	"github.com/deepc-dev/deepc/runtime/train"
)

// GPUCheckPhases are gpu-check's parts, in the order they run: forward,
// cached (prefill/decode) and train check each program's kernels against
// the CPU backend; emu compares each kernel with the PTX emulator; model
// runs the programs on the device alone against the CPU; bench times
// DeepSeek-V3's kernels.
var GPUCheckPhases = []string{"forward", "cached", "train", "emu", "model", "bench"}

// ParsePhases reads a list of phase names.
func ParsePhases(list []string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, p := range list {
		if !slices.Contains(GPUCheckPhases, p) {
			return nil, fmt.Errorf("--phases: unknown phase %q (the phases: %s)", p, strings.Join(GPUCheckPhases, ", "))
		}
		out[p] = true
	}
	return out, nil
}

// GPUCheck checks a bundle's kernels on a device against the CPU backend,
// the programs end to end, and times the main kernels; it prints markdown
// tables to Out.
type GPUCheck struct {
	Bundle string
	// Load names the checkpoint and the reference's precision; the
	// bundle's IR is the module.
	Load Load
	// Device is cuda, emu (the PTX emulator, configured by Emu) or cpu (the
	// CPU backend standing in for the GPU: the harness checking itself).
	Device string
	Emu    EmuOptions
	// Bench is a DeepSeek-V3 prefill bundle whose kernels to time.
	Bench      string
	Batch, Seq int
	Seed       uint64
	// Phases to run (nil: all, but emu only with Device cuda).
	Phases map[string]bool
	// FailKernel makes the cpu stand-in fail this kernel's launches, as a
	// faulting GPU kernel's do: how a fault is reported.
	FailKernel string
	Out, Diag  io.Writer

	man      *bundle.Manifest
	programs map[string][]program.Step
	cand     device.Backend
	gpu      *cuda.GPU
	model    *infer.Model
	seqs     [][]int
	trainer  func(run Runner) (*train.Trainer, error)
	failed   bool
}

// Run runs the phases; an error means a check failed or could not run.
func (g *GPUCheck) Run() error {
	if g.Phases == nil {
		g.Phases, _ = ParsePhases(GPUCheckPhases)
		if g.Device != "cuda" {
			delete(g.Phases, "emu") // by default only a GPU is compared with the emulator
		}
	}
	if g.Diag == nil {
		g.Diag = io.Discard
	}
	closeDev, err := g.open()
	if err != nil {
		return err
	}
	defer closeDev()
	if err := g.loadModel(); err != nil {
		return err
	}
	for _, phase := range []func() error{g.checkKernels, g.compareEmulator, g.checkModel, g.checkTraining, g.bench} {
		if err := phase(); err != nil {
			return err
		}
	}
	if g.failed {
		return errors.New("gpu-check: some checks failed (see the table)")
	}
	return nil
}

// open reads the bundle and opens the candidate device.
func (g *GPUCheck) open() (func(), error) {
	var err error
	if g.man, err = openBundle(g.Bundle); err != nil {
		return nil, err
	}
	if g.programs, err = device.Programs(g.man); err != nil {
		return nil, err
	}
	need := []string{"forward", "prefill", "decode"}
	switch g.Device {
	case "cuda":
		if g.gpu, err = OpenGPU(g.Bundle, g.man, need); err != nil {
			return nil, err
		}
		g.cand = g.gpu
		fmt.Fprintf(g.Out, "device: %s (sm_%d%d)\n\n", g.gpu.Dev.Name, g.gpu.Dev.Major, g.gpu.Dev.Minor)
		if len(g.gpu.JIT) > 0 {
			fmt.Fprintf(g.Out, "%d kernels loaded from their PTX because the driver refused the cubin, e.g. %s\n\n", len(g.gpu.JIT), g.gpu.JIT[0])
		}
		return func() { g.gpu.Dev.Close() }, nil
	case "emu":
		be, done, err := OpenDevice("emu", g.Bundle, g.man, need, g.Emu, g.Diag)
		if err != nil {
			return nil, err
		}
		g.cand = be
		fmt.Fprintf(g.Out, "device: the PTX emulator (%s)\n\n", g.Emu)
		return done, nil
	case "cpu":
		// The stand-in computes in the reference's mode (set once the
		// model is loaded).
		g.cand = cpu.NewDevice(cpu.Options{})
		if g.FailKernel != "" {
			g.cand = failingBackend{g.cand, g.FailKernel}
		}
		fmt.Fprintf(g.Out, "device: the CPU backend standing in for the GPU (harness self-check)\n\n")
		return func() {}, nil
	}
	return nil, fmt.Errorf("--device %q: cuda, emu or cpu", g.Device)
}

// loadModel loads the checkpoint for the bundle's IR, makes the random
// token ids and, with a train program, the trainer constructor.
func (g *GPUCheck) loadModel() error {
	var err error
	l := g.Load
	if l.Module, err = BundleModule(g.Bundle, "ir/module.ir"); err != nil {
		return err
	}
	l.Quantized = true // the bundle's kernels read fp8 weights as they are
	l.Diag = g.Diag
	if g.model, err = l.Model(); err != nil {
		return err
	}
	if c, ok := g.cand.(*cpu.Device); ok {
		c.Opts = g.model.Opts
	}
	if f, ok := g.cand.(failingBackend); ok {
		f.Backend.(*cpu.Device).Opts = g.model.Opts
	}
	rng := rand.New(rand.NewPCG(g.Seed, 1))
	vocab := int(g.model.Module.Func("forward").Results[0].Type.Shape[1].N)
	g.seqs = make([][]int, g.Batch)
	for i := range g.seqs {
		g.seqs[i] = make([]int, g.Seq)
		for j := range g.seqs[i] {
			g.seqs[i][j] = rng.IntN(vocab)
		}
	}
	if _, ok := g.man.Graphs["train"]; ok {
		g.trainer, err = BundleTrainer(g.Bundle, g.Load.Checkpoint)
	}
	return err
}

// exercise runs the programs on be: forward and prefill/decode through
// one executor and, with a train program, one training step through
// another, in the train program's precision mode (the CPU backends among
// modal switched to it). A failure names its phase, "forward (label)".
func (g *GPUCheck) exercise(be device.Backend, phases map[string]bool, label string, modal ...device.Backend) error {
	ex := device.NewExecutor(be, g.programs)
	defer ex.Close()
	m := RunOn(g.model, ex.Run)
	if phases["forward"] {
		if _, err := m.Forward(g.seqs); err != nil {
			return fmt.Errorf("forward (%s): %w", label, err)
		}
	}
	if phases["cached"] {
		if _, _, err := m.PrefillDecode(g.seqs, g.Seq/2); err != nil {
			return fmt.Errorf("cached (%s): %w", label, err)
		}
	}
	if !phases["train"] || g.trainer == nil {
		return nil
	}
	probe, err := g.trainer(nil)
	if err != nil {
		return err
	}
	defer useMode(probe.Opts, modal...)()
	exT := device.NewExecutor(be, g.programs)
	defer exT.Close()
	tr, err := g.trainer(exT.Run)
	if err != nil {
		return err
	}
	if _, err := tr.TakeStep(train.Batch{Seqs: g.seqs}, checkLR); err != nil {
		return fmt.Errorf("train (%s): %w", label, err)
	}
	return nil
}

// checkKernels compares every kernel launch with the CPU backend's,
// feeding each kernel the CPU's inputs. A phase that stops (a launch
// failed) still prints what it compared.
func (g *GPUCheck) checkKernels() error {
	cmp := device.NewCompareBackend(g.cand, cpu.NewDevice(g.model.Opts))
	fp8 := fp8KernelSet(g.man)
	cmp.Tolerance = func(kernel, dtype string) float64 { return device.Tolerance(dtype, fp8[kernel]) }
	if err := g.exercise(cmp, g.Phases, "checked", cmp.Ref, g.cand); err != nil {
		kernelTable(g.Out, g.man, cmp.Results)
		return err
	}
	if len(cmp.Results) > 0 {
		g.failed = kernelTable(g.Out, g.man, cmp.Results) || g.failed
	}
	return nil
}

// compareEmulator runs the same programs on the device and the emulator,
// kernel by kernel: where their bits differ.
func (g *GPUCheck) compareEmulator() error {
	if !g.Phases["emu"] || g.Device == "emu" {
		return nil
	}
	ref, done, err := OpenDevice("emu", g.Bundle, g.man, []string{"forward", "prefill", "decode"}, g.Emu, g.Diag)
	if err != nil {
		return err
	}
	defer done()
	cmp := device.NewCompareBackend(g.cand, ref)
	err = g.exercise(cmp, map[string]bool{"forward": true, "cached": true, "train": true}, "against the emulator", g.cand)
	emuTable(g.Out, g.man, cmp.Results)
	if err != nil {
		return fmt.Errorf("emu (device against the emulator): %w", err)
	}
	return nil
}

// checkModel runs the programs on the device alone and compares their
// logits with the CPU's, position by position.
func (g *GPUCheck) checkModel() error {
	if !g.Phases["model"] {
		return nil
	}
	ex := device.NewExecutor(g.cand, g.programs)
	defer ex.Close()
	dev := RunOn(g.model, ex.Run)
	var pt infer.PhaseTimes
	fmt.Fprintf(g.Out, "\n| model check (%d sequences × %d tokens) | rel. error vs CPU | tolerance | ok |\n|---|---|---|---|\n", g.Batch, g.Seq)
	for _, c := range []struct {
		name string
		run  func(m *infer.Model, dev bool) (infer.Logits, error)
	}{
		{"forward logits", func(m *infer.Model, _ bool) (infer.Logits, error) { return m.Forward(g.seqs) }},
		{fmt.Sprintf("prefill %d + decode %d logits", g.Seq/2, g.Seq-g.Seq/2), func(m *infer.Model, dev bool) (infer.Logits, error) {
			l, t, err := m.PrefillDecode(g.seqs, g.Seq/2)
			if dev {
				pt = t
			}
			return l, err
		}},
	} {
		want, err := c.run(g.model, false)
		if err != nil {
			return err
		}
		start := time.Now()
		got, err := c.run(dev, true)
		if err != nil {
			return fmt.Errorf("%s on the device: %w", c.name, err)
		}
		el := time.Since(start)
		med, worst, over, n := positionErrors(got, want, 2e-2)
		ok := med <= 2e-2 && over*4 <= n
		g.failed = g.failed || !ok
		fmt.Fprintf(g.Out, "| %s (%.0f ms) | median %.2e over positions, worst %.2e; %d of %d positions over 2e-02 | median 2e-02, at most a quarter over | %s |\n", c.name, el.Seconds()*1000, med, worst, over, n, yes(ok))
	}
	if len(pt.Decode) > 0 {
		sorted := slices.Clone(pt.Decode)
		slices.Sort(sorted)
		fmt.Fprintf(g.Out, "| decode step on the device (%d sequences, host round trips included): median %.2f ms, prefill %.2f ms | - | - | - |\n",
			g.Batch, float64(sorted[len(sorted)/2].Microseconds())/1000, float64(pt.Prefill.Microseconds())/1000)
	}
	return nil
}

// checkTraining takes one training step on the device alone and on the
// CPU from the same weights and compares loss, gradient norm and the
// direction of the gradients.
func (g *GPUCheck) checkTraining() error {
	if !g.Phases["model"] || g.trainer == nil {
		return nil
	}
	ref, err := g.trainer(nil)
	if err != nil {
		return err
	}
	defer useMode(ref.Opts, g.cand)()
	ex := device.NewExecutor(g.cand, g.programs)
	defer ex.Close()
	devT, err := g.trainer(ex.Run)
	if err != nil {
		return err
	}
	before := map[string][]float32{}
	for name, p := range ref.Params {
		before[name] = slices.Clone(p.F)
	}
	batch := train.Batch{Seqs: g.seqs}
	mr, err := ref.TakeStep(batch, checkLR)
	if err != nil {
		return err
	}
	start := time.Now()
	md, err := devT.TakeStep(batch, checkLR)
	if err != nil {
		return fmt.Errorf("training step on the device: %w", err)
	}
	el := time.Since(start)
	le := math.Abs(md.Loss-mr.Loss) / math.Abs(mr.Loss)
	ge := math.Abs(md.GradNorm-mr.GradNorm) / math.Abs(mr.GradNorm)
	gcos := agreement(before, ref.Params, devT.Params, "optim.m.")
	ucos := agreement(before, ref.Params, devT.Params, "")
	// FP8 rounding turns the last-bit differences of the kernels that are
	// not bit-exact (attention's online softmax, f32 sums in another
	// order) into whole e4m3 steps: on the emulator the tiny model's FP8
	// step agrees to 0.987, its BF16 step to 0.99994.
	minCos := 0.99
	if ref.Opts.Mode == cpu.FP8 {
		minCos = 0.95
	}
	ok := le <= 2e-2 && ge <= 2e-2 && gcos >= minCos
	g.failed = g.failed || !ok
	fmt.Fprintf(g.Out, "| training step (%.0f ms): loss %.4f vs %.4f, gradient norm %.4g vs %.4g | %.2e (loss), %.2e (gradient norm); gradients agree to %.5f (cosine of Adam's first moments), updates to %.4f | 2e-02; gradients ≥ %g | %s |\n",
		el.Seconds()*1000, md.Loss, mr.Loss, md.GradNorm, mr.GradNorm, le, ge, gcos, ucos, minCos, yes(ok))
	return nil
}

// bench times DeepSeek-V3's kernels (a GPU only).
func (g *GPUCheck) bench() error {
	if g.Bench == "" || !g.Phases["bench"] {
		return nil
	}
	if g.gpu == nil {
		fmt.Fprintf(g.Out, "\n(timings need --device cuda)\n")
		return nil
	}
	return benchKernels(g.Out, g.gpu, g.Bench)
}

// failingBackend is a candidate whose launches of one kernel fail, as a
// faulting GPU kernel's do: the harness's reporting of it is testable
// without a GPU.
type failingBackend struct {
	device.Backend
	kernel string
}

func (b failingBackend) Launch(fn *ir.Func, st *program.Step, grid [3]uint32, args []uint64) error {
	if st.Kernel == b.kernel {
		return fmt.Errorf("CUDA_ERROR_ILLEGAL_ADDRESS (injected by --fail-kernel)")
	}
	return b.Backend.Launch(fn, st, grid, args)
}

// useMode sets the precision mode of the CPU backends among bes (the
// reference, and the candidate when the CPU stands in for the GPU) and
// returns what restores the previous ones.
func useMode(opts cpu.Options, bes ...device.Backend) func() {
	var undo []func()
	for _, be := range bes {
		if f, ok := be.(failingBackend); ok {
			be = f.Backend
		}
		if c, ok := be.(*cpu.Device); ok {
			old := c.Opts
			c.Opts = opts
			undo = append(undo, func() { c.Opts = old })
		}
	}
	return func() {
		for _, u := range undo {
			u()
		}
	}
}

// checkLR is the learning rate of gpu-check's training steps: the small
// preset's, as for run --train-steps.
var checkLR = Presets["small"].Schedule.LR
