package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/deepc-dev/deepc/driver"
	"github.com/deepc-dev/deepc/runtime"
	"github.com/deepc-dev/deepc/runtime/train"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

func newTrainCmd() *cobra.Command {
	var (
		s       driver.TrainSettings
		preset  string
		out     string
		resume  string
		gamma   float64
		recomp  bool
		moments string
	)
	cmd := &cobra.Command{
		Use:   "train [MODEL.deep] [flags]",
		Short: "Train a model on the CPU: next-token + MTP + balance losses, AdamW, bias balancing, checkpoints",
		Long: `train compiles the model's train program (forward, losses, backward by
autodiff, gradient clipping, AdamW, auxiliary-loss-free bias update, all IR)
and runs it step after step on packed sequences of a text corpus.

Model: MODEL.deep when given; with --checkpoint DIR and no model, the
models/ file whose checkpoint contract reads the architecture DIR's
config.json names (docs/models.md); else models/deepseek_v3.deep.

Data: --data GLOB (a "**" element matches any directories; default: the Go
standard library sources of the installed toolchain), split into training
and validation by file, read in a seeded order, byte-level tokens unless
--tokenizer names a tokenizer.json.

Output (--out DIR): metrics.jsonl (one line per step: step, loss, ce,
mtp_loss, balance_loss, lr, grad_norm, tokens_per_s, expert load max/mean
per MoE layer, val_loss on evaluation steps) and checkpoints step-NNNNNN/
(config.json + model.safetensors that deepc forward/generate load, plus
train/ with the exact trainer state), written atomically; out/latest names
the newest. --resume DIR continues a run from a checkpoint bit for bit.

A step whose loss or gradient is NaN or infinite stops the run with a
message, leaving the weights as they were; a loss above 10x the running
maximum is flagged.

Examples:
  deepc train models/deepseek_v3_tiny.deep --steps 200 --out runs/tiny
  deepc train models/deepseek_v3_tiny.deep --data 'corpus/**/*.txt' --batch 8 --seq 128 --lr 1e-3
  deepc train --resume runs/tiny/step-000200 --steps 400 --out runs/tiny`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			diag := cmd.ErrOrStderr()
			var state *train.State
			var resumed map[string]*runtime.Tensor
			if resume != "" {
				saved, st, p, err := driver.Resume(resume)
				if err != nil {
					return err
				}
				// The checkpoint's settings name the files the run reads:
				// flags given now take precedence, and what will be read
				// is said, since a checkpoint may come from elsewhere.
				fl := cmd.Flags()
				for flag, set := range map[string]func(){"steps": func() { saved.Steps = s.Steps }, "data": func() { saved.Data = s.Data }, "tokenizer": func() { saved.Tokenizer = s.Tokenizer },
					"pass-option": func() { saved.PassOptions = s.PassOptions }} {
					if fl.Changed(flag) {
						set()
					}
				}
				if len(args) > 0 {
					saved.Model = args[0]
				}
				if st.Step < 0 || st.Step > saved.Steps {
					return fmt.Errorf("--resume %s: the checkpoint is at step %d; --steps %d must not be before it", resume, st.Step, saved.Steps)
				}
				s, state, resumed = saved, st, p
				fmt.Fprintf(diag, "resuming %s at step %d: model %s, data %q, tokenizer %q\n", resume, st.Step, orDefault(s.Model, driver.DefaultModel), s.Data, orDefault(s.Tokenizer, "byte-level"))
			} else {
				if len(args) > 0 {
					s.Model = args[0]
				}
				p, ok := driver.Presets[preset]
				if !ok {
					return fmt.Errorf("--preset %q: want deepseek-v3 or small", preset)
				}
				// The preset's values, where the flags do not say otherwise.
				o := driver.Overrides{Recompute: recomp, Moments: moments}
				fl := cmd.Flags()
				for flag, set := range map[string]func(){"lr": func() { o.LR = &s.LR }, "min-lr": func() { o.MinLR = &s.MinLR }, "warmup": func() { o.Warmup = &s.Warmup }, "gamma": func() { o.BiasRate = &gamma }} {
					if fl.Changed(flag) {
						set()
					}
				}
				var err error
				if s, err = p.Apply(s, o); err != nil {
					return fmt.Errorf("--%w", err)
				}
				if s.Data == "" {
					if s.Data, err = driver.DefaultData(); err != nil {
						return err
					}
				}
			}
			if out == "" {
				return fmt.Errorf("--out is required (the run directory)")
			}
			tty := isTerminal(diag)
			t := &driver.Training{Settings: s, Out: out, State: state, Params: resumed, Resumed: resume, Diag: diag,
				Progress: func(m train.Metrics, rec map[string]any) { progress(diag, tty, m, s.Steps, rec) }}
			return t.Run()
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&s.Sets, "set", nil, "override a config value: key=value (repeatable)")
	fl.StringVar(&s.Checkpoint, "checkpoint", "", "start from this checkpoint (default: random weights from --seed)")
	fl.StringVar(&s.Data, "data", "", "corpus glob (default: $(go env GOROOT)/src/**/*.go)")
	fl.StringVar(&s.Tokenizer, "tokenizer", "", "tokenizer.json (default: byte-level, for models with vocabularies of 258+ ids)")
	fl.IntVar(&s.Steps, "steps", 100, "optimizer steps in all (with --resume: the new total)")
	fl.IntVar(&s.Batch, "batch", 8, "sequences per step")
	fl.IntVar(&s.Seq, "seq", 128, "tokens per sequence")
	fl.Float64Var(&s.LR, "lr", driver.Presets["small"].Schedule.LR, "peak learning rate (unset: the --preset's; the value shown is small's)")
	fl.Float64Var(&s.MinLR, "min-lr", driver.Presets["small"].Schedule.MinLR, "final learning rate of the cosine schedule (unset: the --preset's; the value shown is small's)")
	fl.IntVar(&s.Warmup, "warmup", driver.Presets["small"].Schedule.Warmup, "linear warmup steps (unset: the --preset's; the value shown is small's)")
	fl.StringVar(&s.Schedule, "schedule", "cosine", "after warmup: cosine (to --min-lr at the last step) or constant")
	fl.StringVar(&s.Precision, "precision", "fp32", "fp32, bf16 (activations rounded as on the GPU) or fp8 (docs/model.md §5: the fp8 weights' linears quantized forward and backward); f32 master weights")
	fl.Uint64Var(&s.Seed, "seed", 1, "seed of the initial weights and of the data order")
	fl.IntVar(&s.EvalEvery, "eval-every", 50, "validation loss every N steps (0: never)")
	fl.IntVar(&s.EvalBatch, "eval-batches", 4, "batches of held-out tokens the validation loss averages")
	fl.IntVar(&s.SaveEvery, "save-every", 100, "checkpoint every N steps (and at the end; 0: only at the end)")
	fl.StringVar(&preset, "preset", "small", "hyperparameters: deepseek-v3 (docs/model.md §7) or small")
	fl.Float64Var(&gamma, "gamma", driver.Presets["small"].Hyper.BiasRate, "bias update speed γ of auxiliary-loss-free balancing (0 disables it; unset: the --preset's)")
	fl.StringVar(&moments, "moments", "f32", "AdamW moments kept in f32 or bf16 (rounded in the bf16 and fp8 modes)")
	fl.BoolVar(&recomp, "recompute", false, "recompute RMSNorm outputs and up-projections in the backward instead of keeping them (less memory, more compute)")
	fl.StringVar(&out, "out", "", "run directory: metrics.jsonl and checkpoints")
	fl.StringVar(&resume, "resume", "", "continue from this checkpoint (a step-NNNNNN directory)")
	registerPassOption(cmd, &s.PassOptions)
	return cmd
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// progress prints a step: a bar redrawn in place on a terminal, a line
// otherwise.
func progress(w io.Writer, tty bool, m train.Metrics, total int, rec map[string]any) {
	val := ""
	if v, ok := rec["val_loss"]; ok {
		val = fmt.Sprintf(" val %.4f", v)
	}
	msg := fmt.Sprintf("step %d/%d loss %.4f (ce %.4f mtp %.4f bal %.2g)%s lr %.3g |g| %.3g %.0f tok/s",
		m.Step, total, m.Loss, m.CE, m.MTP, m.Balance, val, m.LR, m.GradNorm, rec["tokens_per_s"])
	if !tty {
		fmt.Fprintln(w, msg)
		return
	}
	const width = 24
	done := width * m.Step / max(total, 1)
	fmt.Fprintf(w, "\r[%s%s] %s\x1b[K", strings.Repeat("=", done), strings.Repeat(" ", width-done), msg)
	if val != "" || m.Step == total {
		fmt.Fprintln(w)
	}
}
