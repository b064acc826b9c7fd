package main

import (
	"strings"

	"github.com/deepc-dev/deepc/driver"
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
			g := &driver.GPUCheck{Bundle: args[0], Device: devName, Emu: emuFlags.driver(), Bench: bench, Batch: batch, Seq: seqLen, Seed: seed,
				FailKernel: failKernel, Out: cmd.OutOrStdout(), Diag: cmd.ErrOrStderr()}
			if cmd.Flags().Changed("phases") {
				var err error
				if g.Phases, err = driver.ParsePhases(phaseList); err != nil {
					return err
				}
			}
			if !cmd.Flags().Changed("precision") {
				// The reference computes what the kernels do: FP8 GEMMs
				// (docs/model.md §5) where the checkpoint's weights are FP8,
				// bf16 elsewhere — the CPU's fp8 mode.
				mf.precision = "fp8"
			}
			var err error
			g.Load, err = mf.spec(nil, nil, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			return g.Run()
		},
	}
	mf.register(cmd)
	cmd.Flags().StringVar(&devName, "device", "cuda", "cuda, emu (the PTX emulator, sanitizer on), or cpu (the CPU backend in the GPU's place: a self-check of the harness)")
	emuFlags.register(cmd)
	cmd.Flags().StringVar(&bench, "bench", "", "a DeepSeek-V3 bundle (--graph prefill) whose FP8 GEMMs and attention to time")
	cmd.Flags().IntVar(&batch, "batch", 2, "random sequences to run")
	cmd.Flags().IntVar(&seqLen, "seq", 24, "tokens per sequence")
	cmd.Flags().Uint64Var(&seed, "seed", 1, "seed of the random token ids")
	cmd.Flags().StringSliceVar(&phaseList, "phases", driver.GPUCheckPhases, "the parts to run: "+strings.Join(driver.GPUCheckPhases, ", "))
	cmd.Flags().StringVar(&failKernel, "fail-kernel", "", "with --device cpu: the stand-in fails this kernel's launches (how a fault is reported)")
	_ = cmd.Flags().MarkHidden("fail-kernel")
	return cmd
}
