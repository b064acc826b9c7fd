package main

import (
	"fmt"

	"github.com/deepc-dev/deepc/driver"
	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/runtime/bundle"
	"github.com/deepc-dev/deepc/runtime/device"
	"github.com/spf13/cobra"
)

// bundleFlags are compile's GPU flags.
type bundleFlags struct {
	target   string
	graphs   []string
	llc      string
	ptxas    string
	noPTXAS  bool
	trainFP8 bool
	noCache  bool
	force    bool
}

func (b *bundleFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&b.target, "target", "", "compile GPU kernels for this target (sm_90a) and write a bundle directory to -o")
	fl.StringSliceVar(&b.graphs, "graph", []string{"prefill", "decode"}, "graphs (functions) to put in the bundle: forward, prefill, decode, mtp, mtp_prefill, mtp_decode, train")
	fl.StringVar(&b.llc, "llc", "", "llc of LLVM >= 17 (default: $DEEPC_LLC, llc-19 on PATH)")
	fl.StringVar(&b.ptxas, "ptxas", "", "ptxas (default: $DEEPC_PTXAS, .cache/cuda-12.4/bin, PATH)")
	fl.BoolVar(&b.noPTXAS, "no-ptxas", false, "stop at PTX (no cubins, no resource report)")
	fl.BoolVar(&b.trainFP8, "train-fp8", true, "--graph train: FP8 training (docs/model.md §5) rather than BF16")
	fl.BoolVar(&b.force, "force", false, "replace what is at -o even when it is not a bundle deepc wrote")
	fl.BoolVar(&b.noCache, "no-cache", false, "run llc and ptxas on every kernel even when the kernel cache has it ($DEEPC_CACHE: a directory, or off)")
}

// bundle is what the flags say to build from the planned module m.
func (b *bundleFlags) bundle(m *ir.Module, source []byte, file string, sets []string, out string) *driver.Bundle {
	return &driver.Bundle{Module: m, Source: source, File: file, Sets: sets, Out: out, Target: b.target, Graphs: b.graphs,
		LLC: b.llc, PTXAS: b.ptxas, NoPTXAS: b.noPTXAS, TrainFP8: b.trainFP8, NoCache: b.noCache, Force: b.force, Compiler: "deepc " + version}
}

func newKernelsCmd() *cobra.Command {
	var bind string
	cmd := &cobra.Command{
		Use:   "kernels BUNDLE",
		Short: "List a bundle's kernels with their resources (registers, shared memory, spills)",
		Long: `kernels verifies a bundle (as deepc bundle verify does) and prints one line per
kernel: name, kind, fused ops, registers per thread, shared memory per block,
spill bytes, and how many launches of it each graph makes. Then, per graph,
the memory plan for the symbols in --bind: the arena that holds every
tensor the kernels write (laid out by liveness), against one allocation per
tensor.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return driver.KernelReport(cmd.OutOrStdout(), args[0], bind)
		},
	}
	cmd.Flags().StringVar(&bind, "bind", "T=4096,C=4096,B=1", "symbol values for the memory plan")
	return cmd
}

func newBundleCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "bundle", Short: "Work with kernel bundles (see deepc compile --target)"}
	var target string
	verify := &cobra.Command{
		Use:   "verify BUNDLE",
		Short: "Check a bundle: format version, target, every file's SHA-256, no missing or extra files",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			man, err := bundle.Open(args[0], target)
			if err != nil {
				return err
			}
			if err := device.CheckManifest(man); err != nil { // what the manifest says of its files
				return fmt.Errorf("bundle %s: %w", args[0], err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: ok (format %d, %s, target %s, %d files verified)\n", args[0], man.FormatVersion, man.Compiler, man.Target, len(man.Files))
			return nil
		},
	}
	verify.Flags().StringVar(&target, "target", "", "also require this target (e.g. sm_90a)")
	cmd.AddCommand(verify)
	return cmd
}
