package main

import (
	"fmt"
	"io"

	"github.com/deepc-dev/deepc/driver"
	"github.com/deepc-dev/deepc/internal/safefile"
	"github.com/deepc-dev/deepc/runtime/infer"
	"github.com/spf13/cobra"
)

func newForwardCmd() *cobra.Command {
	var (
		mf      modelFlags
		tokens  string
		out     string
		prefill int
	)
	cmd := &cobra.Command{
		Use:   "forward [MODEL.deep] --checkpoint DIR --tokens IDS --out logits.npy",
		Short: "Run a checkpoint on token ids and write the logits of every position",
		Long: `forward compiles the model (by default the models/ file whose checkpoint
contract reads the architecture config.json names, e.g. LlamaForCausalLM →
models/llama3.deep; ` + driver.DefaultModel + ` when config.json names no
architectures) with the
checkpoint's config.json, loads its weights and runs the sequences given by
--tokens, writing a float32 NumPy file of shape [batch, seq, vocab].

--tokens takes sequences of equal length separated by commas ("1 2 3,4 5 6"),
or @file.json holding a JSON array of arrays. With --prefill N the first N
tokens of each sequence run through the prefill program and every later
token through the decode program one at a time, over the KV cache;
the output has the same shape.

Examples:
  deepc forward --checkpoint ckpt/ --tokens "1 2 3 4" --out logits.npy
  deepc forward models/deepseek_v3_tiny.deep --checkpoint tiny/ --tokens @batch.json --out l.npy --prefill 2`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			job := logitsJob{tokens: tokens, out: out, prefill: prefill, cached: cmd.Flags().Changed("prefill")}
			if err := job.parse(); err != nil {
				return err
			}
			model, err := mf.load(args, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			return job.run(model, cmd.ErrOrStderr())
		},
	}
	mf.register(cmd)
	cmd.Flags().StringVar(&tokens, "tokens", "", `token ids: "1 2 3,4 5 6" (sequences of equal length) or @file.json`)
	cmd.Flags().StringVar(&out, "out", "", "output .npy file")
	cmd.Flags().IntVar(&prefill, "prefill", 0, "prefill the first N tokens, then decode the rest one at a time with the KV cache")
	_ = cmd.MarkFlagRequired("tokens")
	return cmd
}

// logitsJob is what forward and run share: the sequences, where their
// logits go, and whether to prefill the first tokens and decode the rest.
type logitsJob struct {
	tokens, out string
	prefill     int
	cached      bool
	seqs        [][]int
}

// parse reads the token ids and checks the flags before anything loads.
func (j *logitsJob) parse() error {
	var err error
	if j.seqs, err = driver.ParseTokens(j.tokens); err != nil {
		return err
	}
	if j.prefill < 0 || j.prefill > len(j.seqs[0]) {
		return fmt.Errorf("--prefill %d: must be in 0..%d (the sequence length)", j.prefill, len(j.seqs[0]))
	}
	if j.out == "" {
		return fmt.Errorf("--out is required")
	}
	_, err = safefile.CheckOutput(j.out, safefile.NPY) // before minutes of loading
	return err
}

// run computes the logits with model and writes them; diag gets a warning
// when some are not finite.
func (j *logitsJob) run(model *infer.Model, diag io.Writer) error {
	var logits infer.Logits
	var err error
	if j.cached {
		logits, _, err = model.PrefillDecode(j.seqs, j.prefill)
	} else {
		logits, err = model.Forward(j.seqs)
	}
	if err != nil {
		return err
	}
	if w := logits.NonFinite(); w != "" {
		fmt.Fprintf(diag, "warning: %s (check the weights with deepc inspect --data)\n", w)
	}
	return driver.WriteLogits(j.out, j.seqs, logits)
}
