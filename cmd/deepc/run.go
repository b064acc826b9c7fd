package main

import (
	"fmt"
	"strings"

	"github.com/deepc-dev/deepc/driver"
	"github.com/deepc-dev/deepc/runtime/infer"
	"github.com/deepc-dev/deepc/runtime/train"
	"github.com/spf13/cobra"
)

func newRunCmd() *cobra.Command {
	var (
		mf       modelFlags
		tokens   string
		out      string
		devName  string
		emuFlags emuOptions
		prefill  int
		genN     int
		steps    int
		lr       float64
	)
	cmd := &cobra.Command{
		Use:   "run BUNDLE --checkpoint DIR --tokens IDS --out logits.npy [--device cpu|cuda]",
		Short: "Run a compiled bundle's programs on a checkpoint (CPU or CUDA backend)",
		Long: `run verifies a bundle (deepc bundle verify), loads the checkpoint's weights
and runs the bundle's programs on the sequences given by --tokens, writing
the logits of every position as a float32 NumPy file [batch, seq, vocab]
exactly as deepc forward does; --prefill N runs the prefill program on the
first N tokens and the decode program on each later one.

--generate N instead prints N greedily generated token ids after each
sequence (the prefill and decode programs); --train-steps N takes N
optimizer steps of the bundle's train program (compiled with --graph train)
on the sequences as one batch, from the checkpoint's weights, printing each
step's loss.

--device cpu runs the bundle's IR (ir/module.ir) on the CPU backend, the
numerical reference of every kernel. --device cuda runs the kernels on the
GPU through the CUDA driver; it needs every region of the graphs to have a
kernel (deepc kernels lists them; the manifest's "missing" lists those that
do not yet).

Examples:
  deepc compile models/deepseek_v3_tiny.deep --target sm_90a -o tiny.bundle
  deepc run tiny.bundle --checkpoint tiny/ --tokens "1 2 3 4" --out logits.npy
  deepc run tiny.bundle --checkpoint tiny/ --tokens "1 2 3 4" --out l.npy --prefill 2
  deepc run tiny.bundle --checkpoint tiny/ --tokens "1 2 3 4" --generate 16 --device cuda
  deepc run tiny.bundle --checkpoint tiny/ --tokens "1 2 3 4 5 6 7 8" --train-steps 3`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			// A bundle holds compiled IR: no pipeline runs here, so these
			// would do nothing, silently.
			if mf.plugins.given() || len(mf.options) > 0 {
				return fmt.Errorf("--plugin, --plugin-sha256 and --pass-option act when the bundle is compiled (deepc compile --target ...); deepc run runs the bundle's IR as it is")
			}
			for name, v := range map[string]int{"generate": genN, "train-steps": steps, "prefill": prefill} {
				if v < 0 {
					return fmt.Errorf("--%s %d: want 0 or more", name, v)
				}
			}
			need := []string{"forward"}
			switch {
			case steps > 0:
				need = []string{"train"}
			case genN > 0 || cmd.Flags().Changed("prefill"):
				need = []string{"prefill", "decode"}
			}
			dev, err := driver.Open(devName, args[0], need, emuFlags.driver(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer dev.Close()
			if dev.Backend != nil && !cmd.Flags().Changed("precision") {
				// The kernels read the checkpoint's own dtypes and compute the
				// FP8 recipe where its weights are FP8: the CPU's fp8 mode.
				mf.precision = "fp8"
			}
			seqs, err := driver.ParseTokens(tokens)
			if err != nil {
				return err
			}
			if steps > 0 {
				tr, done, err := dev.Trainer(mf.checkpoint)
				if err != nil {
					return err
				}
				defer done()
				for i := 0; i < steps; i++ {
					m, err := tr.TakeStep(train.Batch{Seqs: seqs}, lr)
					if err != nil {
						return err
					}
					fmt.Fprintf(cmd.OutOrStdout(), "step %d loss %.6f grad_norm %.6f\n", m.Step, m.Loss, m.GradNorm)
				}
				return nil
			}
			job := logitsJob{tokens: tokens, out: out, prefill: prefill, cached: cmd.Flags().Changed("prefill")}
			if genN == 0 {
				if err := job.parse(); err != nil {
					return err
				}
			}
			l, err := mf.spec(nil, nil, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			model, done, err := dev.Model(l)
			if err != nil {
				return err
			}
			defer done()
			if genN > 0 {
				gen, _, err := model.Generate(seqs, infer.GenerateOptions{MaxTokens: genN, EOS: -1})
				if err != nil {
					return err
				}
				for _, g := range gen {
					fmt.Fprintln(cmd.OutOrStdout(), strings.Trim(fmt.Sprint(g), "[]"))
				}
				return nil
			}
			return job.run(model, cmd.ErrOrStderr())
		},
	}
	mf.register(cmd)
	cmd.Flags().StringVar(&tokens, "tokens", "", `token ids: "1 2 3,4 5 6" (equal-length sequences) or @file.json`)
	cmd.Flags().StringVar(&out, "out", "", "where to write the logits (.npy, float32 [batch, seq, vocab])")
	cmd.Flags().StringVar(&devName, "device", "cpu", "backend: cpu, cuda (an NVIDIA GPU with its driver), or emu (the PTX emulator: the bundle's kernels on the CPU, sanitizer on)")
	emuFlags.register(cmd)
	cmd.Flags().IntVar(&prefill, "prefill", 0, "prefill the first N tokens, then decode the rest one at a time with the KV cache")
	cmd.Flags().IntVar(&genN, "generate", 0, "generate N tokens (greedy) after each sequence and print their ids, one line per sequence")
	cmd.Flags().IntVar(&steps, "train-steps", 0, "take N training steps of the bundle's train program on the sequences")
	cmd.Flags().Float64Var(&lr, "lr", driver.Presets["small"].Schedule.LR, "--train-steps: learning rate")
	_ = cmd.MarkFlagRequired("tokens")
	return cmd
}
