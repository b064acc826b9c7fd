package main

import (
	"fmt"

	"github.com/deepc-dev/deepc/driver"
	"github.com/deepc-dev/deepc/internal/safefile"
	"github.com/deepc-dev/deepc/runtime/weights"
	"github.com/spf13/cobra"
)

func newGradCmd() *cobra.Command {
	var (
		mf     modelFlags
		tokens string
		out    string
	)
	cmd := &cobra.Command{
		Use:   "grad [MODEL.deep] --checkpoint DIR --tokens IDS --out grads.safetensors",
		Short: "Write the gradient of the next-token loss for every trainable tensor",
		Long: `grad computes the mean next-token cross-entropy of the sequences in --tokens
(position t of a sequence predicts its token t+1; no MTP, no balance loss)
and its gradient with respect to every trainable tensor of the checkpoint,
by reverse-mode autodiff over the IR. It prints the loss and writes the
gradients as f32 safetensors under the checkpoint's names (experts one
tensor each, as in the checkpoint).

--tokens takes sequences of equal length separated by commas ("1 2 3,4 5 6")
or @file.json (a JSON array of arrays).

Examples:
  deepc grad --checkpoint ckpt/ --tokens "1 2 3 4,5 6 7 8" --out grads.safetensors
  deepc grad models/deepseek_v3_tiny.deep --checkpoint tiny/ --tokens @batch.json --out g.safetensors`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return fmt.Errorf("--out is required")
			}
			seqs, err := driver.ParseTokens(tokens)
			if err != nil {
				return err
			}
			l, err := mf.spec(args, nil, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			loss, named, err := driver.Gradients(l, seqs)
			if err != nil {
				return err
			}
			if _, err := safefile.CheckOutput(out, safefile.Safetensor); err != nil {
				return err
			}
			if err := weights.WriteFile(out, named); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "loss %.9g\n", loss)
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %d gradient tensors to %s\n", len(named), out)
			return nil
		},
	}
	mf.register(cmd)
	cmd.Flags().StringVar(&tokens, "tokens", "", `token ids: "1 2 3,4 5 6" (equal-length sequences) or @file.json`)
	cmd.Flags().StringVar(&out, "out", "", "output .safetensors file")
	return cmd
}
