package main

import (
	"errors"
	"fmt"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/runtime/bundle"
	"github.com/deepc-dev/deepc/runtime/cuda"
	"github.com/deepc-dev/deepc/runtime/infer"
	"github.com/spf13/cobra"
)

func newRunCmd() *cobra.Command {
	var (
		mf      modelFlags
		tokens  string
		out     string
		device  string
		prefill int
	)
	cmd := &cobra.Command{
		Use:   "run BUNDLE --checkpoint DIR --tokens IDS --out logits.npy [--device cpu|cuda]",
		Short: "Run a compiled bundle's programs on a checkpoint (CPU or CUDA backend)",
		Long: `run verifies a bundle (deepc bundle verify), loads the checkpoint's weights
and runs the bundle's programs on the sequences given by --tokens, writing
the logits of every position as a float32 NumPy file [batch, seq, vocab]
exactly as deepc forward does; --prefill N runs the prefill program on the
first N tokens and the decode program on each later one.

--device cpu runs the bundle's IR (ir/module.ir) on the CPU backend, the
numerical reference of every kernel. --device cuda runs the kernels on the
GPU through the CUDA driver; it needs every region of the graphs to have a
kernel (deepc kernels lists them; the manifest's "missing" lists those that
do not yet).

Examples:
  deepc compile models/deepseek_v3_tiny.deep --target sm_90a -o tiny.bundle
  deepc run tiny.bundle --checkpoint tiny/ --tokens "1 2 3 4" --out logits.npy
  deepc run tiny.bundle --checkpoint tiny/ --tokens "1 2 3 4" --out l.npy --prefill 2`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			man, err := bundle.Open(args[0], "")
			if err != nil {
				return err
			}
			switch device {
			case "cpu":
			case "cuda":
				return runCUDA(man)
			default:
				return fmt.Errorf("--device %q: cpu or cuda", device)
			}
			src, err := bundle.ReadFile(args[0], "ir/module.ir")
			if err != nil {
				return err
			}
			if mf.module, err = ir.Parse("ir/module.ir", string(src)); err != nil {
				return fmt.Errorf("bundle %s: %w", args[0], err)
			}
			seqs, err := parseTokens(tokens)
			if err != nil {
				return err
			}
			if prefill < 0 || prefill > len(seqs[0]) {
				return fmt.Errorf("--prefill %d: must be in 0..%d (the sequence length)", prefill, len(seqs[0]))
			}
			if out == "" {
				return fmt.Errorf("--out is required")
			}
			model, err := mf.load(nil, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			var logits infer.Logits
			if cmd.Flags().Changed("prefill") {
				logits, err = cachedForward(model, seqs, prefill)
			} else {
				logits, err = model.Forward(seqs)
			}
			if err != nil {
				return err
			}
			return writeLogits(out, seqs, logits)
		},
	}
	mf.register(cmd)
	cmd.Flags().StringVar(&tokens, "tokens", "", `token ids: "1 2 3,4 5 6" (equal-length sequences) or @file.json`)
	cmd.Flags().StringVar(&out, "out", "", "where to write the logits (.npy, float32 [batch, seq, vocab])")
	cmd.Flags().StringVar(&device, "device", "cpu", "backend: cpu, or cuda (an NVIDIA GPU with its driver)")
	cmd.Flags().IntVar(&prefill, "prefill", 0, "prefill the first N tokens, then decode the rest one at a time with the KV cache")
	_ = cmd.MarkFlagRequired("tokens")
	return cmd
}

// runCUDA opens the GPU and checks that the bundle's graphs are complete.
func runCUDA(man *bundle.Manifest) error {
	dev, err := cuda.Open(0)
	if err != nil {
		if errors.Is(err, cuda.ErrNoDriver) {
			return fmt.Errorf("--device cuda: %v; run with --device cpu", err)
		}
		return err
	}
	defer dev.Close()
	if dev.Major != 9 {
		return fmt.Errorf("--device cuda: %s is sm_%d%d; the bundle targets %s (Hopper); run with --device cpu", dev.Name, dev.Major, dev.Minor, man.Target)
	}
	n := 0
	for _, l := range man.Missing {
		n += len(l)
	}
	if n > 0 {
		return fmt.Errorf("--device cuda: the bundle has %d regions without GPU kernels yet (see the manifest's \"missing\"), so its programs cannot run on %s; run with --device cpu", n, dev.Name)
	}
	return fmt.Errorf("--device cuda: the GPU program executor is not written yet; run with --device cpu")
}
