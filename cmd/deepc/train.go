package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/deepc-dev/deepc/dsl"
	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/models"
	"github.com/deepc-dev/deepc/passes"
	"github.com/deepc-dev/deepc/passes/autodiff"
	"github.com/deepc-dev/deepc/runtime"
	"github.com/deepc-dev/deepc/runtime/cpu"
	"github.com/deepc-dev/deepc/runtime/tokenizer"
	"github.com/deepc-dev/deepc/runtime/train"
	"github.com/deepc-dev/deepc/runtime/weights"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// trainSettings are a run's settings, saved in every checkpoint so that
// --resume continues the same run.
type trainSettings struct {
	Model      string                `json:"model"`
	Sets       []string              `json:"sets"`
	Checkpoint string                `json:"checkpoint,omitempty"`
	Data       string                `json:"data"`
	Tokenizer  string                `json:"tokenizer"`
	Steps      int                   `json:"steps"`
	Batch      int                   `json:"batch"`
	Seq        int                   `json:"seq"`
	LR         float64               `json:"lr"`
	MinLR      float64               `json:"min_lr"`
	Warmup     int                   `json:"warmup"`
	Schedule   string                `json:"schedule"`
	Precision  string                `json:"precision"`
	Seed       uint64                `json:"seed"`
	EvalEvery  int                   `json:"eval_every"`
	EvalBatch  int                   `json:"eval_batches"`
	SaveEvery  int                   `json:"save_every"`
	Hyper      autodiff.TrainOptions `json:"hyper"`
}

// lrAt is the learning rate of step n (1-based): linear warmup, then
// constant or cosine decay to MinLR at the last step.
func (s trainSettings) lrAt(n int) float64 {
	if s.Warmup > 0 && n <= s.Warmup {
		return s.LR * float64(n) / float64(s.Warmup)
	}
	if s.Schedule != "cosine" || s.Steps <= s.Warmup {
		return s.LR
	}
	p := float64(n-s.Warmup) / float64(s.Steps-s.Warmup)
	return s.MinLR + (s.LR-s.MinLR)*(1+math.Cos(math.Pi*min(p, 1)))/2
}

// presetSchedules are the presets' learning-rate schedules (docs/model.md §7:
// warmup 2K steps to 2.2e-4, cosine to 2.2e-5).
var presetSchedules = map[string]map[string]float64{
	"deepseek-v3": {"lr": 2.2e-4, "min-lr": 2.2e-5, "warmup": 2000},
}

// presets are named hyperparameter sets (docs/model.md §7 for deepseek-v3).
var presets = map[string]autodiff.TrainOptions{
	"deepseek-v3": {MTPWeight: 0.3, BalanceWeight: 1e-4, Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: 0.1, ClipNorm: 1, BiasRate: 0.001},
	"small":       {MTPWeight: 0.3, BalanceWeight: 1e-4, Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: 0.1, ClipNorm: 1, BiasRate: 0.001},
}

func newTrainCmd() *cobra.Command {
	var (
		s       trainSettings
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
				p, st, err := train.LoadState(resume)
				if err != nil {
					return err
				}
				var saved trainSettings
				if err := json.Unmarshal(st.Settings, &saved); err != nil {
					return fmt.Errorf("resume: %s: settings: %v", resume, err)
				}
				if cmd.Flags().Changed("steps") {
					saved.Steps = s.Steps
				}
				s, state, resumed = saved, &st, p
				fmt.Fprintf(diag, "resuming %s at step %d\n", resume, st.Step)
			} else {
				if len(args) > 0 {
					s.Model = args[0]
				}
				h, ok := presets[preset]
				if !ok {
					return fmt.Errorf("--preset %q: want deepseek-v3 or small", preset)
				}
				if cmd.Flags().Changed("gamma") {
					h.BiasRate = gamma
				}
				h.Recompute = recomp
				switch moments {
				case "f32":
					h.MomentDType = ir.F32
				case "bf16":
					h.MomentDType = ir.BF16
				default:
					return fmt.Errorf("--moments %q: want f32 or bf16", moments)
				}
				// The preset's schedule, where the flags do not say otherwise.
				if sched, ok := presetSchedules[preset]; ok {
					for flag, v := range map[string]*float64{"lr": &s.LR, "min-lr": &s.MinLR} {
						if !cmd.Flags().Changed(flag) {
							*v = sched[flag]
						}
					}
					if !cmd.Flags().Changed("warmup") {
						s.Warmup = int(sched["warmup"])
					}
				}
				s.Hyper = h
				if s.Data == "" {
					root, err := goroot()
					if err != nil {
						return err
					}
					s.Data = train.DefaultGlob(root)
				}
			}
			if out == "" {
				return fmt.Errorf("--out is required (the run directory)")
			}
			return runTraining(cmd, s, state, resumed, out)
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
	fl.Float64Var(&s.LR, "lr", 1e-3, "peak learning rate")
	fl.Float64Var(&s.MinLR, "min-lr", 1e-4, "final learning rate of the cosine schedule")
	fl.IntVar(&s.Warmup, "warmup", 20, "linear warmup steps")
	fl.StringVar(&s.Schedule, "schedule", "cosine", "after warmup: cosine (to --min-lr at the last step) or constant")
	fl.StringVar(&s.Precision, "precision", "fp32", "fp32, bf16 (activations rounded as on the GPU) or fp8 (docs/model.md §5: the fp8 weights' linears quantized forward and backward); f32 master weights")
	fl.Uint64Var(&s.Seed, "seed", 1, "seed of the initial weights and of the data order")
	fl.IntVar(&s.EvalEvery, "eval-every", 50, "validation loss every N steps (0: never)")
	fl.IntVar(&s.EvalBatch, "eval-batches", 4, "batches of held-out tokens the validation loss averages")
	fl.IntVar(&s.SaveEvery, "save-every", 100, "checkpoint every N steps (and at the end; 0: only at the end)")
	fl.StringVar(&preset, "preset", "small", "hyperparameters: deepseek-v3 (docs/model.md §7) or small")
	fl.Float64Var(&gamma, "gamma", 0.001, "bias update speed γ of auxiliary-loss-free balancing (0 disables it)")
	fl.StringVar(&moments, "moments", "f32", "AdamW moments kept in f32 or bf16 (rounded in the bf16 and fp8 modes)")
	fl.BoolVar(&recomp, "recompute", false, "recompute RMSNorm outputs and up-projections in the backward instead of keeping them (less memory, more compute)")
	fl.StringVar(&out, "out", "", "run directory: metrics.jsonl and checkpoints")
	fl.StringVar(&resume, "resume", "", "continue from this checkpoint (a step-NNNNNN directory)")
	return cmd
}

func goroot() (string, error) {
	if r := os.Getenv("GOROOT"); r != "" {
		return r, nil
	}
	b, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		return "", fmt.Errorf("the default corpus is the Go standard library, but `go env GOROOT` failed (%v): give --data", err)
	}
	return strings.TrimSpace(string(b)), nil
}

func runTraining(cmd *cobra.Command, s trainSettings, state *train.State, resumed map[string]*runtime.Tensor, out string) error {
	diag := cmd.ErrOrStderr()
	mode, err := cpu.ParseMode(s.Precision)
	if err != nil {
		return err
	}
	s.Hyper.FP8 = mode == cpu.FP8
	model := s.Model
	if model == "" {
		model = defaultModel
	}
	sets := s.Sets
	if s.Checkpoint != "" {
		cfg, err := os.ReadFile(filepath.Join(s.Checkpoint, "config.json"))
		if err != nil {
			return fmt.Errorf("checkpoint: %w", err)
		}
		hf, err := models.SetsFromHFConfig(cfg)
		if err != nil {
			return err
		}
		sets = append(hf, sets...)
	}
	m, err := dsl.CompileFile(model, dsl.Options{Sets: sets, ReadFile: models.ReadFile})
	if err != nil {
		return err
	}
	pl, _ := passes.ParsePipeline(gradPipeline)
	if err := passes.Run(&passes.Context{Out: diag}, m, pl); err != nil {
		return err
	}
	config, err := models.HFConfigJSON(m)
	if err != nil {
		return err
	}
	params := resumed
	if params == nil {
		if params, err = initialWeights(m, s); err != nil {
			return err
		}
	}
	fwd := m.Func("forward")
	if _, err := autodiff.NextTokenLoss(m, fwd, "val_loss"); err != nil {
		return err
	}
	if _, err := autodiff.Train(m, s.Hyper); err != nil {
		return err
	}
	opts := cpu.Options{Mode: mode}
	tr, err := train.New(m, params, opts, s.Hyper.Beta1, s.Hyper.Beta2)
	if err != nil {
		return err
	}
	var tok tokenizer.Tokenizer
	vocab := int(fwd.Results[0].Type.Shape[1].N)
	if s.Tokenizer != "" {
		tok, err = tokenizer.Open(s.Tokenizer)
	} else {
		tok, err = tokenizer.NewByteLevel(vocab)
	}
	if err != nil {
		return err
	}
	if tok.VocabSize() > vocab {
		return fmt.Errorf("the tokenizer has %d ids, the model's vocabulary %d", tok.VocabSize(), vocab)
	}
	corpus, err := train.OpenCorpus(s.Data, tok)
	if err != nil {
		return err
	}
	cursor := train.Cursor{}
	if state != nil {
		tr.Step, cursor = state.Step, state.Cursor
	}
	reader := corpus.NewReader(s.Seed, cursor)
	var val []train.Batch
	if s.EvalEvery > 0 {
		if val, err = corpus.ValBatches(max(s.EvalBatch, 1), s.Batch, s.Seq); err != nil {
			return err
		}
	}
	fmt.Fprintf(diag, "training %s: %d training / %d validation files, %d×%d tokens a step, steps %d→%d\n",
		m.Name, len(corpus.Train), len(corpus.Val), s.Batch, s.Seq, tr.Step, s.Steps)
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	// The baseline the validation loss is judged against.
	h, err := corpus.UnigramEntropy()
	if err != nil {
		return err
	}
	run, _ := json.MarshalIndent(map[string]any{"unigram_entropy": h, "train_files": len(corpus.Train), "val_files": len(corpus.Val), "settings": s}, "", "  ")
	if err := os.WriteFile(filepath.Join(out, "run.json"), append(run, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(diag, "unigram entropy of the validation tokens: %.4f nats/token\n", h)
	mf, err := os.OpenFile(filepath.Join(out, "metrics.jsonl"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer mf.Close()
	settings, _ := json.Marshal(s)
	save := func() error {
		dir := filepath.Join(out, fmt.Sprintf("step-%06d", tr.Step))
		st := train.State{Seed: s.Seed, Cursor: reader.Cursor(), Settings: settings}
		if err := tr.Save(dir, config, weights.FormatFP8, st); err != nil {
			return fmt.Errorf("saving %s: %w", dir, err)
		}
		if err := writeLatest(out, filepath.Base(dir)); err != nil {
			return err
		}
		fmt.Fprintf(diag, "saved %s\n", dir)
		return nil
	}
	tty := isTerminal(diag)
	maxLoss := 0.0
	for tr.Step < s.Steps {
		batch, err := reader.Next(s.Batch, s.Seq)
		if err != nil {
			return err
		}
		lr := s.lrAt(tr.Step + 1)
		start := time.Now()
		met, err := tr.TakeStep(batch, lr)
		if errors.Is(err, train.ErrNotFinite) {
			return fmt.Errorf("%w; the last checkpoint in %s is intact", err, out)
		}
		if err != nil {
			return err
		}
		rec := map[string]any{
			"step": met.Step, "loss": met.Loss, "ce": met.CE, "mtp_loss": met.MTP, "balance_loss": met.Balance,
			"lr": lr, "grad_norm": met.GradNorm, "tokens_per_s": float64(s.Batch*s.Seq) / time.Since(start).Seconds(),
		}
		if len(met.Load) > 0 {
			ratios := map[string]float64{}
			for name, l := range met.Load {
				ratios[layerOf(name)] = maxOverMean(l)
			}
			rec["expert_load_max_mean"] = ratios
		}
		if maxLoss > 0 && met.Loss > 10*maxLoss {
			rec["spike"] = true
			fmt.Fprintf(diag, "\nwarning: step %d: loss %.4g is more than 10x the running maximum %.4g\n", met.Step, met.Loss, maxLoss)
		}
		maxLoss = max(maxLoss, met.Loss)
		if s.EvalEvery > 0 && (met.Step%s.EvalEvery == 0 || met.Step == s.Steps) {
			vl, err := validationLoss(tr, val)
			if err != nil {
				return err
			}
			rec["val_loss"] = vl
		}
		line, _ := json.Marshal(rec)
		if _, err := mf.Write(append(line, '\n')); err != nil {
			return err
		}
		progress(diag, tty, met, s.Steps, rec)
		if s.SaveEvery > 0 && met.Step%s.SaveEvery == 0 && met.Step != s.Steps {
			if err := save(); err != nil {
				return err
			}
		}
	}
	if tty {
		fmt.Fprintln(diag)
	}
	return save()
}

// initialWeights loads --checkpoint or makes random f32 weights from the
// seed (the model's init attributes), as f32 values.
func initialWeights(m *ir.Module, s trainSettings) (map[string]*runtime.Tensor, error) {
	dir := s.Checkpoint
	if dir == "" {
		tmp, err := os.MkdirTemp("", "deepc-init-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		ts, err := weights.RandomTensors(m, int64(s.Seed), weights.FormatF32)
		if err != nil {
			return nil, err
		}
		if err := weights.WriteCheckpoint(tmp, ts, 1); err != nil {
			return nil, err
		}
		dir = tmp
	}
	return weights.Load(m, dir, weights.ExactValues(), weights.IgnoreTensors(models.CheckpointCopy))
}

func validationLoss(tr *train.Trainer, val []train.Batch) (float64, error) {
	f := tr.Module.Func("val_loss")
	var sum float64
	for _, b := range val {
		res, err := cpu.Run(f, tr.Params, b.Packed()[:3], tr.Opts)
		if err != nil {
			return 0, err
		}
		sum += float64(res[0].F[0])
	}
	return sum / float64(len(val)), nil
}

// layerOf names a routing bias's layer: "model.layers.3".
func layerOf(bias string) string {
	if i := strings.Index(bias, ".mlp."); i > 0 {
		return bias[:i]
	}
	return bias
}

func maxOverMean(l []float64) float64 {
	var mx, sum float64
	for _, v := range l {
		mx = max(mx, v)
		sum += v
	}
	if sum == 0 {
		return 0
	}
	return mx / (sum / float64(len(l)))
}

func writeLatest(out, name string) error {
	tmp := filepath.Join(out, ".latest.tmp")
	if err := os.WriteFile(tmp, []byte(name+"\n"), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(out, "latest"))
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
	if val != "" {
		fmt.Fprintln(w)
	}
}
