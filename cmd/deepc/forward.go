package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/deepc-dev/deepc/runtime/infer"
	"github.com/deepc-dev/deepc/runtime/npy"
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
		Long: `forward compiles the model (default ` + defaultModel + `) with the
checkpoint's config.json, loads its weights and runs the sequences given by
--tokens, writing a float32 NumPy file of shape [batch, seq, vocab].

--tokens takes sequences of equal length separated by commas ("1 2 3,4 5 6"),
or @file.json holding a JSON array of arrays. With --prefill N the first N
tokens of each sequence run through the prefill program and every later
token through the decode program one at a time, over the latent KV cache;
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
			return job.run(model)
		},
	}
	mf.register(cmd)
	cmd.Flags().StringVar(&tokens, "tokens", "", `token ids: "1 2 3,4 5 6" (sequences of equal length) or @file.json`)
	cmd.Flags().StringVar(&out, "out", "", "output .npy file")
	cmd.Flags().IntVar(&prefill, "prefill", 0, "prefill the first N tokens, then decode the rest one at a time with the KV cache")
	_ = cmd.MarkFlagRequired("tokens")
	return cmd
}

// cachedForward runs prefill on the first n tokens of every sequence, then
// decodes the rest one token at a time, and returns every position's logits.
func cachedForward(m *infer.Model, seqs [][]int, n int) (infer.Logits, error) {
	l, _, err := cachedForwardTimed(m, seqs, n)
	return l, err
}

// phaseTimes are the wall times of a cached run: the prefill, and each
// decode step.
type phaseTimes struct {
	prefill time.Duration
	decode  []time.Duration
}

// cachedForwardTimed is cachedForward, timing its phases.
func cachedForwardTimed(m *infer.Model, seqs [][]int, n int) (infer.Logits, phaseTimes, error) {
	var pt phaseTimes
	L := len(seqs[0])
	c, err := m.NewCache(len(seqs) * L)
	if err != nil {
		return infer.Logits{}, pt, err
	}
	ids := make([]int, len(seqs))
	heads := make([][]int, len(seqs))
	for i, s := range seqs {
		ids[i], heads[i] = i, s[:n]
	}
	out := infer.Logits{Rows: make([][][]float32, len(seqs))}
	if n > 0 {
		start := time.Now()
		l, err := m.Prefill(c, ids, heads)
		pt.prefill = time.Since(start)
		if err != nil {
			return out, pt, err
		}
		out.Vocab = l.Vocab
		for i := range seqs {
			out.Rows[i] = append(out.Rows[i], l.Rows[i]...)
		}
	}
	for p := n; p < L; p++ {
		toks := make([]int, len(seqs))
		for i, s := range seqs {
			toks[i] = s[p]
		}
		start := time.Now()
		l, err := m.Decode(c, ids, toks)
		pt.decode = append(pt.decode, time.Since(start))
		if err != nil {
			return out, pt, err
		}
		out.Vocab = l.Vocab
		for i := range seqs {
			out.Rows[i] = append(out.Rows[i], l.Rows[i]...)
		}
	}
	return out, pt, nil
}

// parseTokens reads "1 2 3,4 5 6" or @file.json (a JSON array of arrays).
func parseTokens(s string) ([][]int, error) {
	var seqs [][]int
	if path, ok := strings.CutPrefix(s, "@"); ok {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(b, &seqs); err != nil {
			return nil, fmt.Errorf("%s: want a JSON array of arrays of token ids: %v", path, err)
		}
	} else {
		for i, part := range strings.Split(s, ",") {
			var seq []int
			for _, f := range strings.Fields(part) {
				id, err := strconv.Atoi(f)
				if err != nil {
					return nil, fmt.Errorf("--tokens: sequence %d: %q is not a token id", i+1, f)
				}
				seq = append(seq, id)
			}
			seqs = append(seqs, seq)
		}
	}
	if len(seqs) == 0 || len(seqs[0]) == 0 {
		return nil, fmt.Errorf("--tokens: no tokens")
	}
	for i, seq := range seqs {
		if len(seq) != len(seqs[0]) {
			return nil, fmt.Errorf("--tokens: sequence %d has %d tokens, sequence 1 has %d (sequences must have equal length)", i+1, len(seq), len(seqs[0]))
		}
		for _, id := range seq {
			if id < 0 {
				return nil, fmt.Errorf("--tokens: sequence %d: negative token id %d", i+1, id)
			}
		}
	}
	return seqs, nil
}

// writeLogits writes every position's logits as float32 [batch, seq, vocab].
func writeLogits(out string, seqs [][]int, logits infer.Logits) error {
	data := make([]float32, 0, len(seqs)*len(seqs[0])*logits.Vocab)
	for _, s := range logits.Rows {
		for _, row := range s {
			data = append(data, row...)
		}
	}
	fh, err := os.Create(out)
	if err != nil {
		return err
	}
	if err := npy.WriteFloat32(fh, []int{len(seqs), len(seqs[0]), logits.Vocab}, data); err != nil {
		fh.Close()
		return err
	}
	return fh.Close()
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
	if j.seqs, err = parseTokens(j.tokens); err != nil {
		return err
	}
	if j.prefill < 0 || j.prefill > len(j.seqs[0]) {
		return fmt.Errorf("--prefill %d: must be in 0..%d (the sequence length)", j.prefill, len(j.seqs[0]))
	}
	if j.out == "" {
		return fmt.Errorf("--out is required")
	}
	return nil
}

// run computes the logits with model and writes them.
func (j *logitsJob) run(model *infer.Model) error {
	var logits infer.Logits
	var err error
	if j.cached {
		logits, err = cachedForward(model, j.seqs, j.prefill)
	} else {
		logits, err = model.Forward(j.seqs)
	}
	if err != nil {
		return err
	}
	return writeLogits(j.out, j.seqs, logits)
}
