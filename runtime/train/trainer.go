// Package train runs a module's train program (passes/autodiff.Train) step
// after step: it keeps the f32 master weights, the optimizer moments and
// the routing biases, binds each step's updated values in place of the old
// ones, and refuses a step whose loss or gradient is not finite (leaving
// everything as it was).
package train

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/runtime"
	"github.com/deepc-dev/deepc/runtime/cpu"
)

// Trainer holds the state of a training run between steps.
type Trainer struct {
	Module *ir.Module
	Params map[string]*runtime.Tensor // masters (f32), moments, biases, and the rest
	Opts   cpu.Options
	// Beta1, Beta2 are the program's Adam betas (its adamw ops'
	// attributes), for the bias corrections it takes as arguments.
	Beta1, Beta2 float64
	Step         int // steps taken
	// Run executes the train program on another backend (a device
	// executor's Run); nil runs it on the CPU backend with Opts.
	Run runtime.RunFunc

	fn      *ir.Func
	outputs []string
	// owned are the tensors in Params the trainer made (masters, fresh
	// optimizer state, step results): when a step replaces one, its
	// storage goes to Opts.Pool for the next step's results.
	owned map[*runtime.Tensor]bool
}

// Metrics are one step's figures.
type Metrics struct {
	Step     int                  `json:"step"`
	Loss     float64              `json:"loss"`
	CE       float64              `json:"ce"`
	MTP      float64              `json:"mtp_loss"`
	Balance  float64              `json:"balance_loss"`
	GradNorm float64              `json:"grad_norm"`
	LR       float64              `json:"lr"`
	Load     map[string][]float64 `json:"-"` // tokens per expert, by routing bias
}

// ErrNotFinite is returned (wrapped) for a step whose loss or gradient
// norm is NaN or infinite; the step is not applied.
var ErrNotFinite = errors.New("not finite")

// OutputsAttr is the module attribute describing the train function's
// results (passes/autodiff.TrainOutputsAttr).
const OutputsAttr = "train_outputs"

// betas reads the Adam betas from the train program's adamw ops, so that
// the bias corrections fed to it cannot disagree with the betas it was
// built with. Every adamw op must carry the same pair.
func betas(fn *ir.Func) (b1, b2 float64, err error) {
	n := 0
	for _, op := range fn.Body {
		if !op.Is(ir.OpAdamW) {
			continue
		}
		x1, ok1 := op.Attrs.Float("beta1")
		x2, ok2 := op.Attrs.Float("beta2")
		switch {
		case !ok1 || !ok2:
			return 0, 0, fmt.Errorf("train: an adamw op without beta1 and beta2")
		case n > 0 && (x1 != b1 || x2 != b2):
			return 0, 0, fmt.Errorf("train: adamw ops disagree on their betas (%g, %g) and (%g, %g)", b1, b2, x1, x2)
		}
		b1, b2, n = x1, x2, n+1
	}
	if n == 0 {
		return 0, 0, fmt.Errorf("train: the train function has no adamw op")
	}
	return b1, b2, nil
}

// New prepares a trainer for m, which must have a train function. params
// holds the model's weights; trainable ones become f32 masters
// (dequantised), and missing optimizer state starts at zero.
func New(m *ir.Module, params map[string]*runtime.Tensor, opts cpu.Options) (*Trainer, error) {
	fn := m.Func("train")
	if fn == nil {
		return nil, fmt.Errorf("the module has no train function")
	}
	beta1, beta2, err := betas(fn)
	if err != nil {
		return nil, err
	}
	outs, _ := m.Attrs.Str(OutputsAttr)
	if opts.Pool == nil {
		opts.Pool = cpu.NewPool() // every step runs the same program
	}
	t := &Trainer{Module: m, Params: map[string]*runtime.Tensor{}, Opts: opts, Beta1: beta1, Beta2: beta2, fn: fn, outputs: strings.Split(outs, ","), owned: map[*runtime.Tensor]bool{}}
	if len(t.outputs) != len(fn.Results) {
		return nil, fmt.Errorf("the train function has %d results, its description %d", len(fn.Results), len(t.outputs))
	}
	for k, v := range params {
		if p := m.Param(k); p != nil && !slices.Equal(v.Shape, shape(p.Type.Shape)) {
			return nil, fmt.Errorf("param %s has shape %v, the model's is %v", k, v.Shape, shape(p.Type.Shape))
		}
		t.Params[k] = v
	}
	for _, o := range t.outputs {
		kind, name, _ := strings.Cut(o, ":")
		switch kind {
		case "param":
			p, ok := t.Params[name]
			if !ok {
				return nil, fmt.Errorf("param %s is missing", name)
			}
			master, err := toF32(p)
			if err != nil {
				return nil, fmt.Errorf("param %s: %v", name, err)
			}
			t.Params[name] = master
			t.owned[master] = true
		case "state":
			if _, ok := t.Params[name]; !ok {
				p := m.Param(name)
				if p == nil {
					return nil, fmt.Errorf("no optimizer state param %s", name)
				}
				t.Params[name] = runtime.NewTensor(ir.F32, shape(p.Type.Shape)...)
				t.owned[t.Params[name]] = true
			}
		}
	}
	return t, nil
}

func shape(s ir.Shape) []int {
	out := make([]int, len(s))
	for i, d := range s {
		out[i] = int(d.N)
	}
	return out
}

// toF32 returns p as plain f32 values (dequantising block-quantized fp8).
func toF32(p *runtime.Tensor) (*runtime.Tensor, error) {
	if p.Scale != nil {
		return cpu.Dequantize(p)
	}
	return &runtime.Tensor{DType: ir.F32, Shape: append([]int(nil), p.Shape...), F: append([]float32(nil), p.F...)}, nil
}

// Batch is packed sequences: tokens with their positions and sequence ids.
type Batch struct {
	Seqs [][]int
}

// Packed returns the batch as the train program's leading arguments:
// tokens, positions, sequence ids [T] and the sequence membership matrix
// segments [B, T].
func (b Batch) Packed() []*runtime.Tensor {
	n := 0
	for _, s := range b.Seqs {
		n += len(s)
	}
	tok, pos, seq := runtime.NewTensor(ir.I32, n), runtime.NewTensor(ir.I32, n), runtime.NewTensor(ir.I32, n)
	seg := runtime.NewTensor(ir.F32, len(b.Seqs), n)
	k := 0
	for i, s := range b.Seqs {
		for j, id := range s {
			tok.I[k], pos.I[k], seq.I[k] = int64(id), int64(j), int64(i)
			seg.F[i*n+k] = 1
			k++
		}
	}
	return []*runtime.Tensor{tok, pos, seq, seg}
}

// TakeStep runs one optimizer step on batch at learning rate lr. On a
// non-finite loss or gradient it returns an error wrapping ErrNotFinite
// and changes nothing.
func (t *Trainer) TakeStep(batch Batch, lr float64) (Metrics, error) {
	n := t.Step + 1
	bc1 := 1 - math.Pow(t.Beta1, float64(n))
	bc2 := 1 - math.Pow(t.Beta2, float64(n))
	args := append(batch.Packed(), scalar(lr), scalar(bc1), scalar(bc2))
	run := t.Run
	if run == nil {
		run = func(f *ir.Func, p map[string]*runtime.Tensor, a []*runtime.Tensor) ([]*runtime.Tensor, error) {
			return cpu.Run(f, p, a, t.Opts)
		}
	}
	res, err := run(t.fn, t.Params, args)
	if err != nil {
		return Metrics{}, err
	}
	m := Metrics{Step: n, LR: lr, Load: map[string][]float64{}}
	updates := map[string]*runtime.Tensor{}
	for i, o := range t.outputs {
		kind, name, _ := strings.Cut(o, ":")
		r := res[i]
		switch kind {
		case "loss":
			m.Loss = float64(r.F[0])
		case "ce":
			m.CE = float64(r.F[0])
		case "mtp":
			m.MTP = float64(r.F[0])
		case "balance":
			m.Balance = float64(r.F[0])
		case "grad_norm":
			m.GradNorm = float64(r.F[0])
		case "load":
			l := make([]float64, len(r.F))
			for j, v := range r.F {
				l[j] = float64(v)
			}
			m.Load[name] = l
		case "param", "state", "bias":
			updates[name] = r
		}
	}
	if !finite(m.Loss) || !finite(m.GradNorm) {
		return m, fmt.Errorf("step %d: loss %v, gradient norm %v: %w; weights and optimizer state left as they were", n, m.Loss, m.GradNorm, ErrNotFinite)
	}
	// A finite loss and gradient can still give non-finite weights or
	// moments (an overflowing learning rate, a huge epsilon quotient):
	// they are checked before they replace the old ones.
	for _, k := range slices.Sorted(maps.Keys(updates)) {
		if i := firstNotFinite(updates[k].F); i >= 0 {
			return m, fmt.Errorf("step %d: updated %s[%d] is %v: %w; weights and optimizer state left as they were", n, k, i, updates[k].F[i], ErrNotFinite)
		}
	}
	var replaced []*runtime.Tensor
	for k, v := range updates {
		if old := t.Params[k]; old != v && t.owned[old] {
			replaced = append(replaced, old)
		}
		t.Params[k] = v
		t.owned[v] = true
	}
	t.recycle(replaced)
	t.Step = n
	return m, nil
}

// recycle gives the storage of tensors a step replaced to the pool, unless
// something still in Params shares it.
func (t *Trainer) recycle(old []*runtime.Tensor) {
	if t.Opts.Pool == nil || len(old) == 0 {
		return
	}
	live := map[*float32]bool{}
	for _, p := range t.Params {
		if len(p.F) > 0 {
			live[&p.F[0]] = true
		}
	}
	for _, o := range old {
		delete(t.owned, o)
		if len(o.F) > 0 && !live[&o.F[0]] {
			t.Opts.Pool.Put(o)
		}
	}
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// firstNotFinite is the index of the first NaN or infinity in f, or -1.
func firstNotFinite(f []float32) int {
	for i, v := range f {
		if v-v != 0 { // NaN - NaN and Inf - Inf are NaN
			return i
		}
	}
	return -1
}

func scalar(v float64) *runtime.Tensor {
	t := runtime.NewTensor(ir.F32)
	t.F[0] = float32(v)
	return t
}
