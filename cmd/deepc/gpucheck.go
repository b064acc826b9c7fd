package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/models"
	"github.com/deepc-dev/deepc/passes"
	"github.com/deepc-dev/deepc/passes/autodiff"
	"github.com/deepc-dev/deepc/program"
	"github.com/deepc-dev/deepc/runtime"
	"github.com/deepc-dev/deepc/runtime/bundle"
	"github.com/deepc-dev/deepc/runtime/cpu"
	"github.com/deepc-dev/deepc/runtime/cuda"
	"github.com/deepc-dev/deepc/runtime/device"
	"github.com/deepc-dev/deepc/runtime/infer"
	"github.com/deepc-dev/deepc/runtime/train"
	"github.com/deepc-dev/deepc/runtime/weights"
	"github.com/spf13/cobra"
)

// gpu-check: every kernel of a bundle against the CPU backend on the GPU
// (or, with --device cpu, the harness checking itself), the model end to
// end, and kernel timings; one markdown table on stdout.

func newGPUCheckCmd() *cobra.Command {
	var (
		mf         modelFlags
		devName    string
		bench      string
		batch      int
		seqLen     int
		seed       uint64
		phaseList  []string
		failKernel string
		emuFlags   emuOptions
	)
	cmd := &cobra.Command{
		Use:   "gpu-check BUNDLE --checkpoint DIR [--bench V3_BUNDLE]",
		Short: "Check every kernel of a bundle on the GPU against the CPU backend, and time the main kernels",
		Long: `gpu-check runs the bundle's forward and prefill/decode programs on a random
batch of token ids twice over: on the GPU and on the CPU backend. Every
kernel launch is compared (outputs poisoned with NaN first; relative
Frobenius error, tolerance by dtype; integer outputs exactly), with the CPU's
outputs copied back so each kernel sees correct inputs. Then the GPU runs
the programs alone and its logits are compared with the CPU's. With --bench,
the FP8 GEMMs of a DeepSeek-V3 bundle are checked against the CPU's FP8
recipe on random inputs at M=256 and timed at M=4096 on their real shapes
(N=24576, K=1536 and N=7168, K=16384 among them), and its prefill attention
is timed at T=4096. It prints one markdown table; a bundle with a train
program also gets a training step checked kernel by kernel and against the
CPU trainer.

--device emu runs the bundle's PTX on deepc's emulator of a Hopper GPU
instead, with its sanitizer: the same checks without a GPU, plus a report
(kernel, PTX line, thread, CTA) of any invalid access, race, divergent
barrier or wgmma protocol error, which fails the command. --device cpu runs
the CPU backend in the GPU's place: the harness checking itself.

--phases picks the parts: forward, cached (prefill/decode) and train check
each program's kernels; emu compares each kernel with the PTX emulator
(where their bits differ; not with --device emu); model runs the programs
on the device alone against the CPU; bench times DeepSeek-V3's kernels. A kernel that faults
leaves the GPU context unusable, so scripts/gpu-check.sh runs each phase
in a process of its own; a phase that stops early still prints the rows
it has, the failing kernel's among them.

scripts/gpu-check.sh prepares the bundles (on a machine with llc and ptxas)
and runs this on a Hopper machine.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			out := cmd.OutOrStdout()
			phase, err := parsePhases(phaseList)
			if err != nil {
				return err
			}
			if !cmd.Flags().Changed("phases") && devName != "cuda" {
				delete(phase, "emu") // by default only a GPU is compared with the emulator
			}
			man, err := bundle.Open(args[0], "")
			if err != nil {
				return err
			}
			programs, err := device.Programs(man)
			if err != nil {
				return err
			}
			var cand device.Backend
			var gpu *cuda.GPU
			var standIn *cpu.Device // --device cpu: computes in the reference's mode
			switch devName {
			case "cuda":
				if gpu, err = openGPU(args[0], man, []string{"forward", "prefill", "decode"}); err != nil {
					return err
				}
				defer gpu.Dev.Close()
				cand = gpu
				fmt.Fprintf(out, "device: %s (sm_%d%d)\n\n", gpu.Dev.Name, gpu.Dev.Major, gpu.Dev.Minor)
				if len(gpu.JIT) > 0 {
					fmt.Fprintf(out, "%d kernels loaded from their PTX because the driver refused the cubin, e.g. %s\n\n", len(gpu.JIT), gpu.JIT[0])
				}
			case "emu":
				be, _, err := openDevice("emu", args[0], man, []string{"forward", "prefill", "decode"}, emuFlags, cmd.ErrOrStderr())
				if err != nil {
					return err
				}
				cand = be
				fmt.Fprintf(out, "device: the PTX emulator (%s)\n\n", emuFlags)
			case "cpu":
				standIn = cpu.NewDevice(cpu.Options{})
				cand = standIn
				if failKernel != "" {
					cand = failingBackend{cand, failKernel}
				}
				fmt.Fprintf(out, "device: the CPU backend standing in for the GPU (harness self-check)\n\n")
			default:
				return fmt.Errorf("--device %q: cuda, emu or cpu", devName)
			}
			if mf.module, err = bundleModule(args[0], "ir/module.ir"); err != nil {
				return err
			}
			if !cmd.Flags().Changed("precision") {
				// The reference computes what the kernels do: FP8 GEMMs
				// (docs/model.md §5) where the checkpoint's weights are FP8, bf16
				// elsewhere — the CPU's fp8 mode.
				mf.precision = "fp8"
			}
			mf.quantized = true // the bundle's kernels read fp8 weights as they are
			model, err := mf.load(nil, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			if standIn != nil {
				standIn.Opts = model.Opts
			}
			rng := rand.New(rand.NewPCG(seed, 1))
			vocab := int(model.Module.Func("forward").Results[0].Type.Shape[1].N)
			seqs := make([][]int, batch)
			for i := range seqs {
				seqs[i] = make([]int, seqLen)
				for j := range seqs[i] {
					seqs[i][j] = rng.IntN(vocab)
				}
			}
			failed := false
			// 1. Every kernel against the CPU backend. A phase that stops
			// (a kernel's launch failed) still prints what it compared.
			cmp := device.NewCompareBackend(cand, cpu.NewDevice(model.Opts))
			fp8Kernels := fp8KernelSet(man)
			cmp.Tolerance = func(kernel, dtype string) float64 { return device.Tolerance(dtype, fp8Kernels[kernel]) }
			checkedRun := func(name string, run func() error) error {
				if !phase[name] {
					return nil
				}
				if err := run(); err != nil {
					kernelTable(out, man, cmp.Results)
					return fmt.Errorf("%s (checked): %w", name, err)
				}
				return nil
			}
			ex := device.NewExecutor(cmp, programs)
			checked := *model
			checked.Run = func(f *ir.Func, p map[string]*runtime.Tensor, a []*runtime.Tensor, _ cpu.Options) ([]*runtime.Tensor, error) {
				return ex.Run(f, p, a)
			}
			if err := checkedRun("forward", func() error { _, err := checked.Forward(seqs); return err }); err != nil {
				return err
			}
			if err := checkedRun("cached", func() error { _, err := cachedForward(&checked, seqs, seqLen/2); return err }); err != nil {
				return err
			}
			ex.Close()
			// The train program's kernels: one checked step.
			var trainer func(run runner) (*train.Trainer, error)
			var batchT train.Batch
			if _, ok := man.Graphs["train"]; ok {
				if trainer, err = bundleTrainer(args[0], mf.checkpoint); err != nil {
					return err
				}
				batchT = train.Batch{Seqs: seqs}
				err := checkedRun("train", func() error {
					// The reference runs the train program's regions in its
					// precision mode (FP8 programs quantize as the CPU's FP8 mode).
					probe, err := trainer(nil)
					if err != nil {
						return err
					}
					defer useMode(probe.Opts, cmp.Ref, cand)()
					exT := device.NewExecutor(cmp, programs)
					defer exT.Close()
					tr, err := trainer(exT.Run)
					if err != nil {
						return err
					}
					_, err = tr.TakeStep(batchT, 1e-3)
					return err
				})
				if err != nil {
					return err
				}
			}
			if len(cmp.Results) > 0 {
				failed = kernelTable(out, man, cmp.Results) || failed
			}
			// The device against the emulator, kernel by kernel: where their
			// bits differ.
			if phase["emu"] && devName != "emu" {
				ref, _, err := openDevice("emu", args[0], man, []string{"forward", "prefill", "decode"}, emuFlags, cmd.ErrOrStderr())
				if err != nil {
					return err
				}
				cmpE := device.NewCompareBackend(cand, ref)
				exE := device.NewExecutor(cmpE, programs)
				onEmu := *model
				onEmu.Run = func(f *ir.Func, p map[string]*runtime.Tensor, a []*runtime.Tensor, _ cpu.Options) ([]*runtime.Tensor, error) {
					return exE.Run(f, p, a)
				}
				err = func() error {
					defer exE.Close()
					if _, err := onEmu.Forward(seqs); err != nil {
						return err
					}
					if _, err := cachedForward(&onEmu, seqs, seqLen/2); err != nil {
						return err
					}
					if trainer == nil {
						return nil
					}
					probe, err := trainer(nil)
					if err != nil {
						return err
					}
					defer useMode(probe.Opts, cand)()
					tr, err := trainer(exE.Run)
					if err != nil {
						return err
					}
					_, err = tr.TakeStep(batchT, 1e-3)
					return err
				}()
				emuTable(out, man, cmpE.Results)
				if err != nil {
					return fmt.Errorf("emu (device against the emulator): %w", err)
				}
			}
			if !phase["model"] {
				trainer = nil
			}
			// 2. The model end to end on the device alone.
			exec := device.NewExecutor(cand, programs)
			defer exec.Close()
			dev := *model
			dev.Run = func(f *ir.Func, p map[string]*runtime.Tensor, a []*runtime.Tensor, _ cpu.Options) ([]*runtime.Tensor, error) {
				return exec.Run(f, p, a)
			}
			var pt phaseTimes
			if phase["model"] {
				fmt.Fprintf(out, "\n| model check (%d sequences × %d tokens) | rel. error vs CPU | tolerance | ok |\n|---|---|---|---|\n", batch, seqLen)
			}
			for _, c := range []struct {
				name string
				run  func(m *infer.Model, dev bool) (infer.Logits, error)
			}{
				{"forward logits", func(m *infer.Model, _ bool) (infer.Logits, error) { return m.Forward(seqs) }},
				{fmt.Sprintf("prefill %d + decode %d logits", seqLen/2, seqLen-seqLen/2), func(m *infer.Model, dev bool) (infer.Logits, error) {
					l, t, err := cachedForwardTimed(m, seqs, seqLen/2)
					if dev {
						pt = t
					}
					return l, err
				}},
			} {
				if !phase["model"] {
					break
				}
				want, err := c.run(model, false)
				if err != nil {
					return err
				}
				start := time.Now()
				got, err := c.run(&dev, true)
				if err != nil {
					return fmt.Errorf("%s on the device: %w", c.name, err)
				}
				el := time.Since(start)
				med, worst, over, n := positionErrors(got, want, 2e-2)
				ok := med <= 2e-2 && over*4 <= n
				failed = failed || !ok
				fmt.Fprintf(out, "| %s (%.0f ms) | median %.2e over positions, worst %.2e; %d of %d positions over 2e-02 | median 2e-02, at most a quarter over | %s |\n", c.name, el.Seconds()*1000, med, worst, over, n, yes(ok))
			}
			if len(pt.decode) > 0 {
				sorted := slices.Clone(pt.decode)
				slices.Sort(sorted)
				fmt.Fprintf(out, "| decode step on the device (%d sequences, host round trips included): median %.2f ms, prefill %.2f ms | - | - | - |\n",
					batch, float64(sorted[len(sorted)/2].Microseconds())/1000, float64(pt.prefill.Microseconds())/1000)
			}
			if trainer != nil {
				ref, err := trainer(nil)
				if err != nil {
					return err
				}
				defer useMode(ref.Opts, cand)()
				exT := device.NewExecutor(cand, programs)
				defer exT.Close()
				devT, err := trainer(exT.Run)
				if err != nil {
					return err
				}
				before := map[string][]float32{}
				for name, p := range ref.Params {
					before[name] = slices.Clone(p.F)
				}
				mr, err := ref.TakeStep(batchT, 1e-3)
				if err != nil {
					return err
				}
				start := time.Now()
				md, err := devT.TakeStep(batchT, 1e-3)
				if err != nil {
					return fmt.Errorf("training step on the device: %w", err)
				}
				el := time.Since(start)
				le := math.Abs(md.Loss-mr.Loss) / math.Abs(mr.Loss)
				ge := math.Abs(md.GradNorm-mr.GradNorm) / math.Abs(mr.GradNorm)
				gcos := agreement(before, ref.Params, devT.Params, "optim.m.")
				ucos := agreement(before, ref.Params, devT.Params, "")
				// FP8 rounding turns the last-bit differences of the kernels
				// that are not bit-exact (attention's online softmax, f32
				// sums in another order) into whole e4m3 steps: on the
				// emulator the tiny model's FP8 step agrees to 0.987, its
				// BF16 step to 0.99994.
				minCos := 0.99
				if ref.Opts.Mode == cpu.FP8 {
					minCos = 0.95
				}
				ok := le <= 2e-2 && ge <= 2e-2 && gcos >= minCos
				failed = failed || !ok
				fmt.Fprintf(out, "| training step (%.0f ms): loss %.4f vs %.4f, gradient norm %.4g vs %.4g | %.2e (loss), %.2e (gradient norm); gradients agree to %.5f (cosine of Adam's first moments), updates to %.4f | 2e-02; gradients ≥ %g | %s |\n",
					el.Seconds()*1000, md.Loss, mr.Loss, md.GradNorm, mr.GradNorm, le, ge, gcos, ucos, minCos, yes(ok))
			}
			// 3. Timings.
			if bench != "" && phase["bench"] {
				if gpu == nil {
					fmt.Fprintf(out, "\n(timings need --device cuda)\n")
				} else if err := benchKernels(out, gpu, bench); err != nil {
					return err
				}
			}
			if failed {
				return errors.New("gpu-check: some checks failed (see the table)")
			}
			return nil
		},
	}
	mf.register(cmd)
	cmd.Flags().StringVar(&devName, "device", "cuda", "cuda, emu (the PTX emulator, sanitizer on), or cpu (the CPU backend in the GPU's place: a self-check of the harness)")
	emuFlags.register(cmd)
	cmd.Flags().StringVar(&bench, "bench", "", "a DeepSeek-V3 bundle (--graph prefill) whose FP8 GEMMs and attention to time")
	cmd.Flags().IntVar(&batch, "batch", 2, "random sequences to run")
	cmd.Flags().IntVar(&seqLen, "seq", 24, "tokens per sequence")
	cmd.Flags().Uint64Var(&seed, "seed", 1, "seed of the random token ids")
	cmd.Flags().StringSliceVar(&phaseList, "phases", gpuCheckPhases, "the parts to run: "+strings.Join(gpuCheckPhases, ", "))
	cmd.Flags().StringVar(&failKernel, "fail-kernel", "", "with --device cpu: the stand-in fails this kernel's launches (how a fault is reported)")
	_ = cmd.Flags().MarkHidden("fail-kernel")
	return cmd
}

// agreement is the cosine between the changes two training steps made,
// from the same starting values, to the parameters named with prefix
// ("optim.m.": Adam's first moments, which after one step are the
// gradients scaled; ""; the weights, every parameter but the optimizer's
// moments): 1 when they move the same way. Gradients are the well
// conditioned comparison: Adam's first update is ±lr per element, so
// where a gradient is nearly zero its sign — and where routing flips an
// expert, the gate's gradient — differs between two correct
// implementations, FP8 rounding amplifying the smallest differences.
func agreement(before map[string][]float32, ref, dev map[string]*runtime.Tensor, prefix string) float64 {
	var dot, nr, nd float64
	for name, p0 := range before {
		switch {
		case prefix == "" && strings.HasPrefix(name, "optim."), prefix != "" && !strings.HasPrefix(name, prefix):
			continue
		case ref[name] == nil || dev[name] == nil || len(ref[name].F) != len(p0) || len(dev[name].F) != len(p0):
			continue
		}
		for i, x := range p0 {
			r, d := float64(ref[name].F[i])-float64(x), float64(dev[name].F[i])-float64(x)
			dot += r * d
			nr += r * r
			nd += d * d
		}
	}
	if nr == 0 || nd == 0 {
		return 0
	}
	return dot / math.Sqrt(nr*nd)
}

// gpuCheckPhases are gpu-check's parts, in the order they run.
var gpuCheckPhases = []string{"forward", "cached", "train", "emu", "model", "bench"}

func parsePhases(list []string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, p := range list {
		if !slices.Contains(gpuCheckPhases, p) {
			return nil, fmt.Errorf("--phases: unknown phase %q (the phases: %s)", p, strings.Join(gpuCheckPhases, ", "))
		}
		out[p] = true
	}
	return out, nil
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

func yes(ok bool) string {
	if ok {
		return "yes"
	}
	return "**NO**"
}

// manifestKernels are the manifest's kernel kinds and whether each
// multiplies on FP8 tensor cores.
func manifestKernels(man *bundle.Manifest) (kinds map[string]string, fp8 map[string]bool) {
	kinds, fp8 = map[string]string{}, map[string]bool{}
	var ks []struct {
		Name string `json:"name"`
		Kind string `json:"kind"`
		MMA  string `json:"mma"`
	}
	if err := jsonUnmarshal(man.Kernels, &ks); err == nil {
		for _, k := range ks {
			fp8[k.Name] = k.MMA == "e4m3"
			kinds[k.Name] = k.Kind
		}
	}
	return kinds, fp8
}

func fp8KernelSet(man *bundle.Manifest) map[string]bool {
	_, fp8 := manifestKernels(man)
	return fp8
}

// kernelTable prints one row per kernel and reports whether any failed.
func kernelTable(out io.Writer, man *bundle.Manifest, res map[string]*device.KernelCheck) bool {
	kinds, fp8 := manifestKernels(man)
	names := make([]string, 0, len(res))
	for n := range res {
		names = append(names, n)
	}
	sort.Strings(names)
	failed := false
	fmt.Fprintf(out, "| kernel | kind | launches | elements | max rel. error | tolerance | int mismatches | ok |\n|---|---|---|---|---|---|---|---|\n")
	for _, n := range names {
		r := res[n]
		tol := kernelTolerance(r, fp8[n])
		if r.Err != "" {
			failed = true
			fmt.Fprintf(out, "| %s | %s | %d | %d | launch failed: %s | %.0e | - | %s |\n", n, kinds[n], r.Launches, r.Elements, r.Err, tol, yes(false))
			continue
		}
		ok := r.Passed(tol)
		failed = failed || !ok
		relErr := fmt.Sprintf("%.2e (%s)", r.RelErr, orDash(r.DType))
		if r.RelErr > tol && !math.IsInf(r.ScaleErr, 1) {
			relErr += fmt.Sprintf("; %.2e of its terms' magnitude", r.ScaleErr)
		}
		fmt.Fprintf(out, "| %s | %s | %d | %d | %s | %.0e | %d | %s |\n", n, kinds[n], r.Launches, r.Elements, relErr, tol, r.Mismatch, yes(ok))
	}
	return failed
}

// kernelTolerance is the relative error allowed for a kernel: by the
// least precise dtype its ops produce, looser for FP8 GEMMs.
func kernelTolerance(r *device.KernelCheck, fp8 bool) float64 {
	p := r.Precision
	if p == "" {
		p = r.DType
	}
	return device.Tolerance(p, fp8)
}

// emuTable prints, per kernel, whether the device's outputs equal the
// emulator's bit for bit. Kernels of exact operations (.rn arithmetic,
// conversions, data movement, integer work) should; those using .approx
// functions or tensor cores (whose internal order and precision the ISA
// leaves open) may differ within the ISA's bounds.
func emuTable(out io.Writer, man *bundle.Manifest, res map[string]*device.KernelCheck) {
	kinds, _ := manifestKernels(man)
	names := make([]string, 0, len(res))
	identical := 0
	for n, r := range res {
		names = append(names, n)
		if r.Differ == 0 && r.Err == "" {
			identical++
		}
	}
	sort.Strings(names)
	fmt.Fprintf(out, "\n%d of %d kernels bit-identical to the emulator\n\n| kernel | kind | launches | elements | differing elements | max rel. error |\n|---|---|---|---|---|---|\n", identical, len(names))
	for _, n := range names {
		r := res[n]
		if r.Err != "" {
			fmt.Fprintf(out, "| %s | %s | %d | %d | launch failed: %s | - |\n", n, kinds[n], r.Launches, r.Elements, r.Err)
			continue
		}
		fmt.Fprintf(out, "| %s | %s | %d | %d | %d | %.2e |\n", n, kinds[n], r.Launches, r.Elements, r.Differ, r.RelErr)
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// positionErrors compares logits position by position (relative error of
// each position's row): their median, the worst, and how many exceed tol.
// A kernel or plumbing error shows at most positions; a near tie in MoE
// routing that the last bit of an approximate exp flips shows at one.
func positionErrors(a, b infer.Logits, tol float64) (median, worst float64, over, n int) {
	var errs []float64
	for i := range b.Rows {
		for j := range b.Rows[i] {
			var num, den float64
			bad := false
			for k, y := range b.Rows[i][j] {
				x := float64(a.Rows[i][j][k])
				if math.IsNaN(x) || math.IsInf(x, 0) {
					bad = true
				}
				num += (x - float64(y)) * (x - float64(y))
				den += float64(y) * float64(y)
			}
			e := math.Sqrt(num / max(den, 1e-30))
			if bad {
				e = math.Inf(1)
			}
			errs = append(errs, e)
			if e > tol {
				over++
			}
		}
	}
	if len(errs) == 0 {
		return 0, 0, 0, 0
	}
	slices.Sort(errs)
	return errs[len(errs)/2], errs[len(errs)-1], over, len(errs)
}

func logitsErr(a, b infer.Logits) float64 {
	var num, den float64
	for i := range b.Rows {
		for j := range b.Rows[i] {
			for k, y := range b.Rows[i][j] {
				x := float64(a.Rows[i][j][k])
				if math.IsNaN(x) || math.IsInf(x, 0) {
					return math.Inf(1)
				}
				num += (x - float64(y)) * (x - float64(y))
				den += float64(y) * float64(y)
			}
		}
	}
	return math.Sqrt(num / max(den, 1e-30))
}

// benchKernels times the FP8 GEMMs and the attention of a DeepSeek-V3
// prefill program at T = 4096 on random data (no checkpoint: the weights
// are random fp8 with unit-order scales).
func benchKernels(out io.Writer, gpu *cuda.GPU, dir string) error {
	man, err := bundle.Open(dir, "")
	if err != nil {
		return err
	}
	v3, err := cuda.LoadBundle(gpu.Dev, dir, man)
	if err != nil {
		return err
	}
	programs, err := device.Programs(man)
	if err != nil {
		return err
	}
	m, err := bundleModule(dir, "ir/module.ir")
	if err != nil {
		return err
	}
	f := m.Func("prefill")
	if f == nil {
		return fmt.Errorf("--bench %s: no prefill program", dir)
	}
	const T, checkT = 4096, 256
	env := map[string]int64{"T": T, "C": T}
	failed := false
	fmt.Fprintf(out, "\n| kernel (DeepSeek-V3 prefill, T = %d) | shape | time (ms) | TFLOP/s | rel. error vs CPU at T = %d |\n|---|---|---|---|---|\n", T, checkT)
	seen := map[string]bool{}
	rng := rand.New(rand.NewPCG(7, 7))
	for _, st := range programs["prefill"] {
		var kind string
		switch {
		case strings.HasPrefix(st.Kernel, "gemm_linear"):
			kind = "gemm"
		case strings.HasPrefix(st.Kernel, "attention_attention_"):
			kind = "attention"
		default:
			continue
		}
		shape := describeStep(st)
		if seen[shape] {
			continue
		}
		seen[shape] = true
		ptrs, flops, free, err := randomArgs(gpu, st, env, rng)
		if err != nil {
			return err
		}
		var grid [3]uint32
		for i, g := range st.Launch.Grid {
			n, err := g.Eval(env)
			if err != nil {
				return err
			}
			grid[i] = uint32(n)
		}
		// Numerics first, at a size the CPU reference (FP8 mode: the
		// recipe the kernel implements) computes in seconds.
		check := "-"
		if kind == "gemm" {
			r, err := checkStep(v3, f, st, map[string]int64{"T": checkT, "C": checkT}, rng)
			if err != nil {
				return err
			}
			ok := r.RelErr <= device.Tolerance(r.DType, strings.Contains(shape, "f8e4m3"))
			failed = failed || !ok
			check = fmt.Sprintf("%.2e %s", r.RelErr, yes(ok))
		}
		launch := func() error { return v3.Launch(f, &st, grid, ptrs) }
		if err := launch(); err != nil { // warm-up
			return err
		}
		const reps = 10
		ms, err := gpu.Dev.Time(func() error {
			for range reps {
				if err := launch(); err != nil {
					return err
				}
			}
			return nil
		})
		free()
		if err != nil {
			return err
		}
		ms /= reps
		tf := "-"
		if flops > 0 {
			tf = fmt.Sprintf("%.1f", flops/(ms*1e-3)/1e12)
		}
		fmt.Fprintf(out, "| %s (%s) | %s | %.3f | %s | %s |\n", st.Kernel, kind, shape, ms, tf, check)
	}
	if failed {
		return errors.New("gpu-check: a DeepSeek-V3 GEMM differs from the CPU reference (see the table)")
	}
	return nil
}

func describeStep(st program.Step) string {
	var parts []string
	for _, a := range st.Args {
		if a.ScaleOf == "" {
			parts = append(parts, fmt.Sprintf("%s[%s]", a.DType, strings.Join(a.Shape, ",")))
		}
	}
	return strings.Join(parts, " ")
}

// randomArgs allocates a step's tensors with random contents at the given
// symbols; flops is 2·M·N·K for a GEMM (x [M, K], w [N, K]).
func randomArgs(gpu device.Backend, st program.Step, env map[string]int64, rng *rand.Rand) ([]uint64, float64, func(), error) {
	var ptrs []uint64
	var bufs []device.Buffer
	free := func() {
		for _, b := range bufs {
			gpu.Free(b)
		}
	}
	var shapes [][]int
	for _, a := range st.Args {
		var shape []int
		for _, d := range a.Shape {
			dd, err := program.ParseDim(d)
			if err != nil {
				return nil, 0, free, err
			}
			v, _ := dd.Eval(env)
			shape = append(shape, int(v))
		}
		if a.ScaleOf != "" {
			// The scaled tensor's grid: the scaled argument precedes it.
			for i, b := range st.Args {
				if b.Value == a.ScaleOf && b.ScaleOf == "" {
					shape = runtime.ScaleGrid(shapes[i], [2]int{int(a.Block[0]), int(a.Block[1])})
				}
			}
		}
		shapes = append(shapes, shape)
		dt, _ := ir.ParseDType(a.DType)
		t := runtime.NewTensor(dt, shape...)
		for i := range t.F {
			switch {
			case a.ScaleOf != "":
				t.F[i] = 1.0 / 448
			case dt == ir.F8E4M3:
				t.F[i] = runtime.RoundE4M3(float32(rng.NormFloat64() * 64))
			default:
				t.F[i] = float32(rng.NormFloat64())
			}
		}
		for i := range t.I { // positions and sequence ids: one causal sequence
			t.I[i] = int64(i % max(1, shape[0]))
			if strings.Contains(a.Value, "seq") {
				t.I[i] = 0
			}
		}
		data, err := device.Encode(t, dt)
		if err != nil {
			return nil, 0, free, err
		}
		b, err := gpu.Alloc(uint64(len(data)))
		if err != nil {
			return nil, 0, free, err
		}
		bufs = append(bufs, b)
		if err := gpu.Upload(b, data); err != nil {
			return nil, 0, free, err
		}
		ptrs = append(ptrs, b.Ptr)
	}
	for _, s := range st.Symbols {
		ptrs = append(ptrs, uint64(env[s]))
	}
	var flops float64
	if len(shapes) >= 2 && len(shapes[1]) == 2 && strings.HasPrefix(st.Kernel, "gemm_") {
		M := 1
		for _, d := range shapes[0][:len(shapes[0])-1] {
			M *= d
		}
		flops = 2 * float64(M) * float64(shapes[1][0]) * float64(shapes[1][1])
	}
	return ptrs, flops, free, nil
}

func jsonUnmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

type runner = func(f *ir.Func, params map[string]*runtime.Tensor, args []*runtime.Tensor) ([]*runtime.Tensor, error)

// bundleTrainer returns a constructor of trainers over the bundle's train
// program (ir/train.ir) with the checkpoint's weights as f32 masters; run
// (nil: the CPU) executes the program.
func bundleTrainer(dir, checkpoint string) (func(run runner) (*train.Trainer, error), error) {
	if _, err := os.Stat(filepath.Join(dir, "ir", "train.ir")); err != nil {
		return nil, fmt.Errorf("bundle %s has no train program (compile it with --graph ...,train)", dir)
	}
	src, err := bundle.ReadFile(dir, "ir/train.ir")
	if err != nil {
		return nil, err
	}
	return func(run runner) (*train.Trainer, error) {
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
		mode := cpu.BF16
		for _, op := range m.Func("train").Body {
			if op.Name == "quantize_blocks" {
				mode = cpu.FP8
				break
			}
		}
		o := presets["small"]
		tr, err := train.New(m, params, cpu.Options{Mode: mode}, o.Beta1, o.Beta2)
		if err != nil {
			return nil, err
		}
		if run != nil {
			tr.Run = func(f *ir.Func, p map[string]*runtime.Tensor, a []*runtime.Tensor, _ cpu.Options) ([]*runtime.Tensor, error) {
				return run(f, p, a)
			}
		}
		return tr, nil
	}, nil
}

// useMode sets the precision mode of the CPU backends among bes (the
// reference, and the candidate when the CPU stands in for the GPU) and
// returns what restores the previous ones.
func useMode(opts cpu.Options, bes ...device.Backend) func() {
	var undo []func()
	for _, be := range bes {
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

// checkStep runs one step of f on random inputs at the symbols in env on
// cand and on the CPU backend (FP8 mode: the recipe the GEMMs implement)
// and returns the comparison.
func checkStep(cand device.Backend, f *ir.Func, st program.Step, env map[string]int64, rng *rand.Rand) (*device.KernelCheck, error) {
	cmp := device.NewCompareBackend(cand, cpu.NewDevice(cpu.Options{Mode: cpu.FP8}))
	ptrs, _, free, err := randomArgs(cmp, st, env, rng)
	defer free()
	if err != nil {
		return nil, err
	}
	var grid [3]uint32
	for i, g := range st.Launch.Grid {
		n, err := g.Eval(env)
		if err != nil {
			return nil, err
		}
		grid[i] = uint32(n)
	}
	if err := cmp.Launch(f, &st, grid, ptrs); err != nil {
		return nil, err
	}
	return cmp.Results[st.Kernel], nil
}
