package driver

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

	"github.com/deepc-dev/deepc/internal/safefile"
	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/models"
	"github.com/deepc-dev/deepc/passes"
	"github.com/deepc-dev/deepc/passes/autodiff"
	"github.com/deepc-dev/deepc/runtime"
	"github.com/deepc-dev/deepc/runtime/cpu"
	"github.com/deepc-dev/deepc/runtime/tokenizer"
	"github.com/deepc-dev/deepc/runtime/train"
	"github.com/deepc-dev/deepc/runtime/weights"
)

// TrainSettings are a run's settings, saved in every checkpoint so that a
// resumed run continues the same run.
type TrainSettings struct {
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
	// PassOptions are --pass-option's key=value pairs for the pipeline
	// the model is compiled with.
	PassOptions []string `json:"pass_options,omitempty"`
}

// LRAt is the learning rate of step n (1-based): linear warmup, then
// constant or cosine decay to MinLR at the last step.
func (s TrainSettings) LRAt(n int) float64 {
	if s.Warmup > 0 && n <= s.Warmup {
		return s.LR * float64(n) / float64(s.Warmup)
	}
	if s.Schedule != "cosine" || s.Steps <= s.Warmup {
		return s.LR
	}
	p := float64(n-s.Warmup) / float64(s.Steps-s.Warmup)
	return s.MinLR + (s.LR-s.MinLR)*(1+math.Cos(math.Pi*min(p, 1)))/2
}

// Schedule is a preset's learning-rate schedule.
type Schedule struct {
	LR, MinLR float64
	Warmup    int
}

// Preset is a named set of hyperparameters with its schedule.
type Preset struct {
	Hyper    autodiff.TrainOptions
	Schedule Schedule
}

// Presets are train's --preset values: deepseek-v3 is docs/model.md §7
// (warmup 2K steps to 2.2e-4, cosine to 2.2e-5); small is the same
// hyperparameters with a schedule for runs of a few hundred steps, and the
// learning rate of single checking steps (run --train-steps, gpu-check).
var Presets = map[string]Preset{
	"deepseek-v3": {Hyper: autodiff.DeepSeekV3, Schedule: Schedule{LR: 2.2e-4, MinLR: 2.2e-5, Warmup: 2000}},
	"small":       {Hyper: autodiff.DeepSeekV3, Schedule: Schedule{LR: 1e-3, MinLR: 1e-4, Warmup: 20}},
}

// Overrides are what a run changes of its preset; a nil field keeps the
// preset's value.
type Overrides struct {
	LR, MinLR *float64
	Warmup    *int
	BiasRate  *float64
	Recompute bool
	Moments   string // the AdamW moments' dtype: f32 (also "") or bf16
}

// Apply gives s the preset's hyperparameters and schedule with o's changes.
func (p Preset) Apply(s TrainSettings, o Overrides) (TrainSettings, error) {
	h := p.Hyper
	switch o.Moments {
	case "", "f32":
		h.MomentDType = ir.F32
	case "bf16":
		h.MomentDType = ir.BF16
	default:
		return s, fmt.Errorf("moments %q: want f32 or bf16", o.Moments)
	}
	h.Recompute = o.Recompute
	s.LR, s.MinLR, s.Warmup = p.Schedule.LR, p.Schedule.MinLR, p.Schedule.Warmup
	for _, f := range []struct {
		dst *float64
		src *float64
	}{{&s.LR, o.LR}, {&s.MinLR, o.MinLR}, {&h.BiasRate, o.BiasRate}} {
		if f.src != nil {
			*f.dst = *f.src
		}
	}
	if o.Warmup != nil {
		s.Warmup = *o.Warmup
	}
	s.Hyper = h
	return s, nil
}

// Resume reads a run's checkpoint (a step-NNNNNN directory): the settings
// the run was started with, the trainer's state and the parameters, which
// Training continues bit for bit.
func Resume(dir string) (TrainSettings, *train.State, map[string]*runtime.Tensor, error) {
	params, st, err := train.LoadState(dir)
	if err != nil {
		return TrainSettings{}, nil, nil, err
	}
	var s TrainSettings
	if err := json.Unmarshal(st.Settings, &s); err != nil {
		return TrainSettings{}, nil, nil, fmt.Errorf("resume: %s: settings: %v", dir, err)
	}
	return s, &st, params, nil
}

// DefaultData is the default corpus: the Go standard library's sources.
func DefaultData() (string, error) {
	root, err := GoRoot()
	if err != nil {
		return "", err
	}
	return train.DefaultGlob(root), nil
}

// GoRoot is the Go installation whose standard library sources are the
// default corpus.
func GoRoot() (string, error) {
	if r := os.Getenv("GOROOT"); r != "" {
		return r, nil
	}
	b, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		return "", fmt.Errorf("the default corpus is the Go standard library, but `go env GOROOT` failed (%v): give --data", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// Training is one run of deepc train.
type Training struct {
	Settings TrainSettings
	// Out is the run directory: run.json, metrics.jsonl, checkpoints.
	Out string
	// State and Params continue a run from a checkpoint (train.LoadState);
	// Resumed is that checkpoint's directory.
	State   *train.State
	Params  map[string]*runtime.Tensor
	Resumed string
	// Diag receives messages; Progress, each step's metrics and its
	// metrics.jsonl record.
	Diag     io.Writer
	Progress func(m train.Metrics, rec map[string]any)
}

// run is a training run's working state.
type run struct {
	*Training
	tr     *train.Trainer
	config []byte // the model's config.json, saved with each checkpoint
	corpus *train.Corpus
	reader *train.Reader
	val    []train.Batch
	saved  string // the last checkpoint this run saved
}

// Run trains until Settings.Steps, writing metrics every step and
// checkpoints every SaveEvery steps and at the end. A step whose loss or
// gradient is not finite stops the run with the last checkpoint intact.
func (t *Training) Run() error {
	if t.Diag == nil {
		t.Diag = io.Discard
	}
	if err := t.Settings.Check(); err != nil {
		return fmt.Errorf("train settings: %w", err)
	}
	if err := checkBatchMemory(t.Settings); err != nil {
		return err
	}
	unlock, err := claimRunDir(t.Out, t.Resumed)
	if err != nil {
		return err
	}
	defer unlock()
	r := &run{Training: t}
	if err := r.build(); err != nil {
		return err
	}
	if err := r.openData(); err != nil {
		return err
	}
	metrics, err := r.describe()
	if err != nil {
		return err
	}
	defer metrics.Close()
	return r.loop(metrics)
}

// build compiles the model's train program and makes its trainer, from
// the resumed parameters, the checkpoint's or random ones.
func (r *run) build() error {
	s := &r.Settings
	mode, err := cpu.ParseMode(s.Precision)
	if err != nil {
		return err
	}
	s.Hyper.FP8 = mode == cpu.FP8
	m, err := CompileWithCheckpoint(s.Model, s.Checkpoint, s.Sets, r.Diag)
	if err != nil {
		return err
	}
	pl, opts, err := trainPipeline(s.PassOptions)
	if err != nil {
		return err
	}
	if err := passes.Run(&passes.Context{Out: r.Diag, PassOptions: opts}, m, pl); err != nil {
		return err
	}
	if r.config, err = models.HFConfigJSON(m); err != nil {
		return err
	}
	if err := checkParamMemory(m, 4, "training "+m.Name); err != nil {
		return err
	}
	params := r.Params
	if params == nil {
		if params, err = initialWeights(m, *s); err != nil {
			return err
		}
	}
	if _, err := autodiff.NextTokenLoss(m, m.Func("forward"), "val_loss"); err != nil {
		return err
	}
	if _, err := autodiff.Train(m, s.Hyper); err != nil {
		return err
	}
	if r.State != nil {
		if err := resumeHoldsAll(m, params, r.Resumed); err != nil {
			return err
		}
	}
	r.tr, err = train.New(m, params, cpu.Options{Mode: mode})
	return err
}

// trainPipeline is the pipeline a model is compiled with for training,
// and its options, checked.
func trainPipeline(options []string) (passes.Pipeline, passes.PassOptions, error) {
	pl, err := passes.ParsePipeline(passes.CanonicalPipeline)
	if err != nil {
		return passes.Pipeline{}, nil, err
	}
	opts, err := passes.Default.ResolveFor(pl, options)
	return pl, opts, err
}

// resumeHoldsAll refuses a resume state that lacks a tensor the train
// program needs: a missing optimizer moment would otherwise start again
// at zero and the run go on silently with different numbers.
func resumeHoldsAll(m *ir.Module, params map[string]*runtime.Tensor, dir string) error {
	var missing []string
	for _, p := range m.Params {
		if params[p.Name] == nil {
			missing = append(missing, p.Name)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	more := ""
	if len(missing) > 3 {
		more = fmt.Sprintf(" and %d more", len(missing)-3)
		missing = missing[:3]
	}
	return fmt.Errorf("resume: %s/train/state.safetensors lacks %s%s, which the train program needs: the checkpoint is incomplete or from another model", dir, strings.Join(missing, ", "), more)
}

// openData opens the corpus with the tokenizer, positioned where a resumed
// run stopped, and reads the validation batches.
func (r *run) openData() error {
	s := r.Settings
	vocab := int(r.tr.Module.Func("forward").Results[0].Type.Shape[1].N)
	var tok tokenizer.Tokenizer
	var err error
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
	if r.State != nil {
		r.tr.Step, cursor = r.State.Step, r.State.Cursor
	}
	if r.reader, err = corpus.NewReader(s.Seed, cursor); err != nil {
		return fmt.Errorf("resume: %w", err)
	}
	if s.EvalEvery > 0 {
		if r.val, err = corpus.ValBatches(max(s.EvalBatch, 1), s.Batch, s.Seq); err != nil {
			return err
		}
	}
	fmt.Fprintf(r.Diag, "training %s: %d training / %d validation files, %d×%d tokens a step, steps %d→%d\n",
		r.tr.Module.Name, len(corpus.Train), len(corpus.Val), s.Batch, s.Seq, r.tr.Step, s.Steps)
	r.corpus = corpus
	return nil
}

// describe writes run.json (the settings, and the unigram entropy of the
// validation tokens: the baseline the validation loss is judged against)
// and opens metrics.jsonl for appending.
func (r *run) describe() (*os.File, error) {
	h, err := r.corpus.UnigramEntropy()
	if err != nil {
		return nil, err
	}
	desc, _ := json.MarshalIndent(map[string]any{"unigram_entropy": h, "train_files": len(r.corpus.Train), "val_files": len(r.corpus.Val), "settings": r.Settings}, "", "  ")
	if err := safefile.WriteIn(r.Out, "run.json", append(desc, '\n')); err != nil {
		return nil, err
	}
	fmt.Fprintf(r.Diag, "unigram entropy of the validation tokens: %.4f nats/token\n", h)
	return safefile.AppendIn(r.Out, "metrics.jsonl")
}

// loop takes the steps, recording each in metrics, and saves checkpoints.
func (r *run) loop(metrics io.Writer) error {
	s := r.Settings
	maxLoss := 0.0
	for r.tr.Step < s.Steps {
		batch, err := r.reader.Next(s.Batch, s.Seq)
		if err != nil {
			return err
		}
		lr := s.LRAt(r.tr.Step + 1)
		start := time.Now()
		met, err := r.tr.TakeStep(batch, lr)
		if errors.Is(err, train.ErrNotFinite) {
			if _, serr := os.Stat(filepath.Join(r.Out, "latest")); serr != nil {
				return fmt.Errorf("%w; no checkpoint was saved before it", err)
			}
			return fmt.Errorf("%w; the last checkpoint in %s is intact", err, r.Out)
		}
		if err != nil {
			return err
		}
		rec := record(met, lr, float64(s.Batch*s.Seq)/time.Since(start).Seconds())
		if maxLoss > 0 && met.Loss > 10*maxLoss {
			rec["spike"] = true
			fmt.Fprintf(r.Diag, "\nwarning: step %d: loss %.4g is more than 10x the running maximum %.4g\n", met.Step, met.Loss, maxLoss)
		}
		maxLoss = max(maxLoss, met.Loss)
		if s.EvalEvery > 0 && (met.Step%s.EvalEvery == 0 || met.Step == s.Steps) {
			vl, err := validationLoss(r.tr, r.val)
			if err != nil {
				return err
			}
			rec["val_loss"] = vl
		}
		line, _ := json.Marshal(rec)
		if _, err := metrics.Write(append(line, '\n')); err != nil {
			return err
		}
		if r.Progress != nil {
			r.Progress(met, rec)
		}
		if s.SaveEvery > 0 && met.Step%s.SaveEvery == 0 && met.Step != s.Steps {
			if err := r.save(); err != nil {
				return err
			}
		}
	}
	return r.save()
}

// record is a step's metrics.jsonl line.
func record(met train.Metrics, lr, tokensPerS float64) map[string]any {
	rec := map[string]any{
		"step": met.Step, "loss": met.Loss, "ce": met.CE, "mtp_loss": met.MTP, "balance_loss": met.Balance,
		"lr": lr, "grad_norm": met.GradNorm, "tokens_per_s": tokensPerS,
	}
	if len(met.Load) > 0 {
		ratios := map[string]float64{}
		for name, l := range met.Load {
			ratios[layerOf(name)] = maxOverMean(l)
		}
		rec["expert_load_max_mean"] = ratios
	}
	return rec
}

// save writes the checkpoint of the current step and points latest at it.
// latest names a complete checkpoint at every instant: when the step's
// directory exists already (a resumed run taking the same steps again)
// and latest names it, latest first moves to another complete one — this
// run's last save or the checkpoint it resumed from — while it is
// replaced.
func (r *run) save() error {
	settings, _ := json.Marshal(r.Settings)
	dir := filepath.Join(r.Out, fmt.Sprintf("step-%06d", r.tr.Step))
	name := filepath.Base(dir)
	if r.Resumed != "" && sameDir(r.Resumed, dir) {
		return nil // nothing new since the checkpoint this run started from
	}
	if cur, _ := os.ReadFile(filepath.Join(r.Out, "latest")); strings.TrimSpace(string(cur)) == name {
		if alt := r.otherCheckpoint(name); alt != "" {
			if err := writeLatest(r.Out, alt); err != nil {
				return err
			}
		}
	}
	st := train.State{Seed: r.Settings.Seed, Cursor: r.reader.Cursor(), Settings: settings}
	if err := r.tr.Save(dir, r.config, weights.FormatFP8, st); err != nil {
		return fmt.Errorf("saving %s: %w", dir, err)
	}
	if err := writeLatest(r.Out, name); err != nil {
		return err
	}
	r.saved = name
	fmt.Fprintf(r.Diag, "saved %s\n", dir)
	return nil
}

// otherCheckpoint is a complete checkpoint in the run directory other
// than name: this run's last save, or the one it resumed from.
func (r *run) otherCheckpoint(name string) string {
	if r.saved != "" && r.saved != name {
		return r.saved
	}
	if r.Resumed != "" && sameDir(filepath.Dir(filepath.Clean(r.Resumed)), r.Out) && filepath.Base(r.Resumed) != name {
		return filepath.Base(filepath.Clean(r.Resumed))
	}
	return ""
}

// initialWeights loads the settings' checkpoint or makes random f32
// weights from the seed (the model's init attributes), as f32 values.
func initialWeights(m *ir.Module, s TrainSettings) (map[string]*runtime.Tensor, error) {
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

// writeLatest points latest at name by renaming a synced temporary file
// over it, so that latest is always whole.
func writeLatest(out, name string) error {
	tmp := filepath.Join(out, ".tmp-latest")
	if err := train.WriteSynced(tmp, []byte(name+"\n")); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(out, "latest"))
}
