package driver

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/runtime/cpu"
)

// maxTrainTokens bounds batch × seq: one step's activations grow with it,
// and a run of more than 2^24 tokens a step is no CPU run (a typo, or a
// hostile resume state, should fail here, not in the allocator).
const maxTrainTokens = 1 << 24

// Check refuses settings no run can use, before anything is compiled or
// allocated: counts out of range, learning rates and hyperparameters that
// are not finite or out of their domain, unknown names. Settings come from
// flags and from a resumed run's state.json, so they are input like any
// other. Each error names the setting.
func (s TrainSettings) Check() error {
	var errs []error
	bad := func(name string, v any, want string) {
		errs = append(errs, fmt.Errorf("%s %v: want %s", name, v, want))
	}
	for _, c := range []struct {
		name string
		v    int
		min  int
	}{{"steps", s.Steps, 1}, {"batch", s.Batch, 1}, {"seq", s.Seq, 2}, {"warmup", s.Warmup, 0},
		{"eval-every", s.EvalEvery, 0}, {"eval-batches", s.EvalBatch, 1}, {"save-every", s.SaveEvery, 0}} {
		if c.v < c.min {
			bad(c.name, c.v, fmt.Sprintf("at least %d", c.min))
		}
	}
	if s.Batch > 0 && s.Seq > 0 && s.Batch > maxTrainTokens/s.Seq {
		bad("batch × seq", fmt.Sprintf("%d × %d", s.Batch, s.Seq), fmt.Sprintf("at most %d tokens a step", maxTrainTokens))
	}
	h := s.Hyper
	for _, c := range []struct {
		name     string
		v        float64
		min, max float64
		open     bool // min excluded
	}{
		{"lr", s.LR, 0, 1, true},
		{"min-lr", s.MinLR, 0, 1, false},
		{"beta1", h.Beta1, 0, 1, false},
		{"beta2", h.Beta2, 0, 1, false},
		{"eps", h.Eps, 0, 1, true},
		{"weight decay", h.WeightDecay, 0, 1, false},
		{"clip norm", h.ClipNorm, 0, math.MaxFloat64, false},
		{"gamma", h.BiasRate, 0, 1, false},
		{"mtp weight", h.MTPWeight, 0, math.MaxFloat64, false},
		{"balance weight", h.BalanceWeight, 0, math.MaxFloat64, false},
	} {
		if math.IsNaN(c.v) || c.v > c.max || c.v < c.min || (c.open && c.v == c.min) {
			want := fmt.Sprintf("%g ≤ x ≤ %g", c.min, c.max)
			if c.open {
				want = fmt.Sprintf("%g < x ≤ %g", c.min, c.max)
			}
			bad(c.name, c.v, want)
		}
	}
	if h.Beta1 >= 1 || h.Beta2 >= 1 {
		bad("betas", fmt.Sprintf("%g, %g", h.Beta1, h.Beta2), "below 1 (the bias corrections divide by 1 − β^t)")
	}
	if !slices.Contains([]string{"cosine", "constant"}, s.Schedule) {
		bad("schedule", fmt.Sprintf("%q", s.Schedule), "cosine or constant")
	}
	if _, err := cpu.ParseMode(s.Precision); err != nil {
		errs = append(errs, fmt.Errorf("precision: %w", err))
	}
	if !slices.Contains([]ir.DType{ir.Invalid, ir.F32, ir.BF16}, h.MomentDType) { // unset: f32
		bad("moments", h.MomentDType, "f32 or bf16")
	}
	if _, _, err := trainPipeline(s.PassOptions); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
