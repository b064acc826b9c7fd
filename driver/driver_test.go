package driver

import (
	"math"
	"strings"
	"testing"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/runtime"
	"github.com/deepc-dev/deepc/runtime/infer"
)

// The schedule: linear warmup to LR, then cosine to MinLR at the last step
// (or constant).
func TestLRAt(t *testing.T) {
	s := TrainSettings{LR: 1, MinLR: 0.1, Warmup: 10, Steps: 110, Schedule: "cosine"}
	for _, c := range []struct {
		step int
		want float64
	}{
		{1, 0.1}, {5, 0.5}, {10, 1}, // warmup
		{60, 0.55},             // half way through the decay: the mean of LR and MinLR
		{110, 0.1}, {200, 0.1}, // the end, and past it
	} {
		if got := s.LRAt(c.step); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("cosine step %d: lr %g, want %g", c.step, got, c.want)
		}
	}
	s.Schedule = "constant"
	if got := s.LRAt(100); got != 1 {
		t.Errorf("constant step 100: lr %g, want 1", got)
	}
}

// The deepseek-v3 preset is docs/model.md §7's recipe.
func TestDeepSeekV3Preset(t *testing.T) {
	p := Presets["deepseek-v3"]
	h := p.Hyper
	if h.Beta1 != 0.9 || h.Beta2 != 0.95 || h.WeightDecay != 0.1 || h.ClipNorm != 1 {
		t.Errorf("AdamW %+v: want β1 0.9, β2 0.95, decay 0.1, clip 1 (docs/model.md §7)", h)
	}
	if h.MTPWeight != 0.3 || h.BalanceWeight != 1e-4 || h.BiasRate != 0.001 {
		t.Errorf("losses %+v: want λ 0.3 (§6), α 1e-4 and γ 0.001 (§4)", h)
	}
	if sc := p.Schedule; sc.LR != 2.2e-4 || sc.MinLR != 2.2e-5 || sc.Warmup != 2000 {
		t.Errorf("schedule %+v: want warmup 2000 steps to 2.2e-4, cosine to 2.2e-5 (§7)", sc)
	}
}

// A preset's values hold unless a run overrides them.
func TestPresetApply(t *testing.T) {
	p := Presets["deepseek-v3"]
	s, err := p.Apply(TrainSettings{Steps: 10}, Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	want := p.Hyper
	want.MomentDType = ir.F32
	if s.LR != p.Schedule.LR || s.MinLR != p.Schedule.MinLR || s.Warmup != p.Schedule.Warmup || s.Hyper != want || s.Steps != 10 {
		t.Errorf("no overrides: %+v", s)
	}
	lr, gamma, warm := 5e-4, 0.0, 3
	s, err = p.Apply(TrainSettings{}, Overrides{LR: &lr, Warmup: &warm, BiasRate: &gamma, Recompute: true, Moments: "bf16"})
	if err != nil {
		t.Fatal(err)
	}
	if s.LR != lr || s.MinLR != p.Schedule.MinLR || s.Warmup != warm || s.Hyper.BiasRate != 0 || !s.Hyper.Recompute || s.Hyper.MomentDType != ir.BF16 || s.Hyper.Beta2 != p.Hyper.Beta2 {
		t.Errorf("overrides: %+v", s)
	}
	if p.Hyper.BiasRate == 0 || p.Hyper.Recompute {
		t.Errorf("Apply changed the preset: %+v", p.Hyper)
	}
	if _, err := p.Apply(TrainSettings{}, Overrides{Moments: "fp16"}); err == nil {
		t.Error("moments fp16 accepted")
	}
}

func TestParsePhases(t *testing.T) {
	got, err := ParsePhases([]string{"forward", "model"})
	if err != nil || len(got) != 2 || !got["forward"] || !got["model"] {
		t.Fatalf("%v, %v", got, err)
	}
	if _, err := ParsePhases([]string{"forward", "speed"}); err == nil || !strings.Contains(err.Error(), `unknown phase "speed"`) {
		t.Fatalf("an unknown phase: %v", err)
	}
}

// positionErrors judges each position's logits row on its own: one bad
// position shows as one, a non-finite value as +Inf.
func TestPositionErrors(t *testing.T) {
	want := infer.Logits{Vocab: 2, Rows: [][][]float32{{{1, 0}, {0, 1}, {3, 4}, {1, 1}}}}
	got := infer.Logits{Vocab: 2, Rows: [][][]float32{{{1, 0}, {0, 1.01}, {3, 4}, {float32(math.NaN()), 1}}}}
	med, worst, over, n := positionErrors(got, want, 2e-2)
	if n != 4 || over != 1 || !math.IsInf(worst, 1) {
		t.Fatalf("median %g worst %g over %d of %d: want the NaN position alone over", med, worst, over, n)
	}
	if math.Abs(med-0.01) > 1e-6 { // errors 0, 0, 0.01, +Inf
		t.Fatalf("median %g: want 0.01", med)
	}
}

// agreement is the cosine of the two steps' changes to the named
// parameters: 1 for the same direction, -1 for the opposite.
func TestAgreement(t *testing.T) {
	before := map[string][]float32{"optim.m.w": {0, 0}, "w": {1, 1}}
	ten := func(v ...float32) *runtime.Tensor { return &runtime.Tensor{F: v} }
	ref := map[string]*runtime.Tensor{"optim.m.w": ten(1, 2), "w": ten(2, 1)}
	same := map[string]*runtime.Tensor{"optim.m.w": ten(2, 4), "w": ten(0, 1)}
	if c := agreement(before, ref, same, "optim.m."); math.Abs(c-1) > 1e-12 {
		t.Errorf("moments in the same direction: cosine %g", c)
	}
	if c := agreement(before, ref, same, ""); math.Abs(c+1) > 1e-12 {
		t.Errorf("weights moved opposite ways: cosine %g", c)
	}
}

// Settings no run can use are refused before anything is compiled, each
// error naming the setting; the settings the CLI and the presets make pass.
func TestTrainSettingsCheck(t *testing.T) {
	good, err := Presets["small"].Apply(TrainSettings{Steps: 10, Batch: 2, Seq: 32, EvalBatch: 1, Schedule: "cosine", Precision: "fp8"}, Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	if err := good.Check(); err != nil {
		t.Fatalf("good settings refused: %v", err)
	}
	nan := math.NaN()
	for _, c := range []struct {
		want string
		edit func(*TrainSettings)
	}{
		{"seq -5", func(s *TrainSettings) { s.Seq = -5 }},
		{"seq 0", func(s *TrainSettings) { s.Seq = 0 }},
		{"steps -1", func(s *TrainSettings) { s.Steps = -1 }},
		{"batch 0", func(s *TrainSettings) { s.Batch = 0 }},
		{"batch × seq", func(s *TrainSettings) { s.Batch, s.Seq = 1<<20, 1<<20 }},
		{"warmup -3", func(s *TrainSettings) { s.Warmup = -3 }},
		{"save-every -1", func(s *TrainSettings) { s.SaveEvery = -1 }},
		{"eval-batches 0", func(s *TrainSettings) { s.EvalBatch = 0 }},
		{"lr NaN", func(s *TrainSettings) { s.LR = nan }},
		{"lr 0", func(s *TrainSettings) { s.LR = 0 }},
		{"lr -0.001", func(s *TrainSettings) { s.LR = -1e-3 }},
		{"lr +Inf", func(s *TrainSettings) { s.LR = math.Inf(1) }},
		{"min-lr NaN", func(s *TrainSettings) { s.MinLR = nan }},
		{"beta1 NaN", func(s *TrainSettings) { s.Hyper.Beta1 = nan }},
		{"betas", func(s *TrainSettings) { s.Hyper.Beta2 = 1 }},
		{"eps 0", func(s *TrainSettings) { s.Hyper.Eps = 0 }},
		{"weight decay -0.1", func(s *TrainSettings) { s.Hyper.WeightDecay = -0.1 }},
		{"gamma NaN", func(s *TrainSettings) { s.Hyper.BiasRate = nan }},
		{"clip norm -1", func(s *TrainSettings) { s.Hyper.ClipNorm = -1 }},
		{`schedule "zigzag"`, func(s *TrainSettings) { s.Schedule = "zigzag" }},
		{"precision", func(s *TrainSettings) { s.Precision = "fp4" }},
		{"moments", func(s *TrainSettings) { s.Hyper.MomentDType = ir.F16 }},
	} {
		s := good
		c.edit(&s)
		err := s.Check()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v", c.want, err)
		}
	}
}
