package train

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/deepc-dev/deepc/dsl"
	"github.com/deepc-dev/deepc/internal/reference"
	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/models"
	"github.com/deepc-dev/deepc/passes"
	"github.com/deepc-dev/deepc/passes/autodiff"
	"github.com/deepc-dev/deepc/runtime"
	"github.com/deepc-dev/deepc/runtime/cpu"
	"github.com/deepc-dev/deepc/runtime/weights"
)

var v3 = autodiff.DeepSeekV3

// tinyTrainer compiles the tiny model with a train program and random f32
// weights.
func tinyTrainer(t *testing.T, o autodiff.TrainOptions) *Trainer {
	t.Helper()
	return modelTrainer(t, "deepseek_v3_tiny.deep", o)
}

// modelTrainer is tinyTrainer for a model of models/.
func modelTrainer(t *testing.T, model string, o autodiff.TrainOptions) *Trainer {
	t.Helper()
	m, err := dsl.CompileFile("../../models/"+model, dsl.Options{ReadFile: models.ReadFile})
	if err != nil {
		t.Fatal(err)
	}
	pl, _ := passes.ParsePipeline(passes.CanonicalPipeline)
	if err := passes.Run(&passes.Context{}, m, pl); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ts, err := weights.RandomTensors(m, 7, weights.FormatF32)
	if err != nil {
		t.Fatal(err)
	}
	if err := weights.WriteCheckpoint(dir, ts, 1); err != nil {
		t.Fatal(err)
	}
	params, err := weights.Load(m, dir, weights.ExactValues(), weights.IgnoreTensors(models.CheckpointCopy))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := autodiff.Train(m, o); err != nil {
		t.Fatal(err)
	}
	tr, err := New(m, params, cpu.Options{Mode: cpu.FP32, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func batch() Batch {
	return Batch{Seqs: [][]int{
		{1, 17, 301, 42, 7, 499, 3, 9, 88, 100, 12, 5},
		{3, 3, 250, 9, 120, 64, 5, 8, 33, 2, 1, 1},
	}}
}

// On one fixed batch the loss must fall fast (memorising), with the first
// step's update of every weight element AdamW's ±lr (plus decay).
func TestTrainingStepsLowerTheLoss(t *testing.T) {
	tr := tinyTrainer(t, v3)
	const lr = 3e-3
	name := "model.layers.0.self_attn.o_proj.weight"
	before := append([]float32(nil), tr.Params[name].F...)
	first, err := tr.TakeStep(batch(), lr)
	if err != nil {
		t.Fatal(err)
	}
	// Step 1: m̂ = g, v̂ = g², so the Adam step is g/(|g| + ε) ≈ sign(g)
	// where g ≠ 0 (within ε/|g| and f32 rounding).
	after := tr.Params[name].F
	full := 0
	for i, p := range before {
		d := math.Abs(float64(after[i]) - float64(p) + lr*0.1*float64(p))
		if d > lr*(1+1e-4) {
			t.Fatalf("%s[%d] moved by %g (decay removed), more than lr = %g", name, i, d, lr)
		}
		if d > lr*(1-1e-3) {
			full++
		}
	}
	if full < len(before)*9/10 {
		t.Errorf("only %d of %d elements moved by ±lr", full, len(before))
	}
	if first.MTP <= 0 || first.Balance <= 0 || first.CE <= 0 || first.GradNorm <= 0 {
		t.Errorf("first step metrics %+v: want positive CE, MTP, balance and grad norm", first)
	}
	if math.Abs(first.Loss-(first.CE+first.MTP+first.Balance)) > 1e-5*first.Loss {
		t.Errorf("loss %v is not CE + MTP + balance = %v", first.Loss, first.CE+first.MTP+first.Balance)
	}
	// Loads: every routing layer routes K = 4 experts for each of 24 tokens.
	if len(first.Load) != 4 { // 3 MoE layers + the MTP layer
		t.Errorf("%d routing loads, want 4", len(first.Load))
	}
	for bias, l := range first.Load {
		var sum float64
		for _, v := range l {
			sum += v
		}
		if sum != 24*4 {
			t.Errorf("%s: loads sum to %v, want 96", bias, sum)
		}
	}
	var last Metrics
	for i := 0; i < 20; i++ {
		if last, err = tr.TakeStep(batch(), lr); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("loss %.4f → %.4f (CE %.4f → %.4f) in 21 steps", first.Loss, last.Loss, first.CE, last.CE)
	if last.CE > first.CE/3 {
		t.Errorf("CE fell from %.4f to %.4f only", first.CE, last.CE)
	}
}

// The routing bias moves by γ toward balance: up for experts below the
// mean load, down for those above.
func TestBiasUpdate(t *testing.T) {
	tr := tinyTrainer(t, v3)
	name := "model.layers.1.mlp.gate.e_score_correction_bias"
	before := append([]float32(nil), tr.Params[name].F...)
	m, err := tr.TakeStep(batch(), 1e-3)
	if err != nil {
		t.Fatal(err)
	}
	load := m.Load[name]
	var mean float64
	for _, v := range load {
		mean += v / float64(len(load))
	}
	for i, v := range load {
		want := float64(before[i])
		switch {
		case v < mean:
			want += 0.001
		case v > mean:
			want -= 0.001
		}
		if got := float64(tr.Params[name].F[i]); math.Abs(got-want) > 1e-7 {
			t.Errorf("bias %d (load %v, mean %v): %v → %v, want %v", i, v, mean, before[i], got, want)
		}
	}
}

// Mixtral's load-balancing loss (route balance = "batch") is Hugging
// Face's load_balancing_loss_func over every layer's router, times
// router_aux_loss_coef, computed by the float64 reference from the weights
// before the step; DeepSeek's per-sequence form is off (α = 0) and would
// not change it.
func TestMixtralBalanceLoss(t *testing.T) {
	o := v3
	o.BalanceWeight = 0
	tr := modelTrainer(t, "mixtral_tiny.deep", o)
	w := reference.Weights{}
	for name, x := range tr.Params {
		if strings.HasPrefix(name, autodiff.MomentM) || strings.HasPrefix(name, autodiff.MomentV) {
			continue
		}
		d := make([]float64, len(x.F))
		for i, v := range x.F {
			d[i] = float64(v)
		}
		if !strings.Contains(name, "{e}") {
			w[name] = &reference.Tensor{Shape: x.Shape, Data: d}
			continue
		}
		// Stacked experts: one tensor per expert under its checkpoint name.
		n := len(d) / x.Shape[0]
		for e := 0; e < x.Shape[0]; e++ {
			w[strings.Replace(name, "{e}", fmt.Sprint(e), 1)] = &reference.Tensor{Shape: x.Shape[1:], Data: d[e*n : (e+1)*n]}
		}
	}
	data, err := models.HFConfigJSON(tr.Module)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := reference.LlamaConfigFromHF(data)
	if err != nil {
		t.Fatal(err)
	}
	var tok, pos, seq []int
	for i, s := range batch().Seqs {
		for j, id := range s {
			tok, pos, seq = append(tok, id), append(pos, j), append(seq, i)
		}
	}
	_, aux, err := reference.LlamaForwardAux(cfg, w, tok, pos, seq)
	if err != nil {
		t.Fatal(err)
	}
	m, err := tr.TakeStep(batch(), 1e-3)
	if err != nil {
		t.Fatal(err)
	}
	want := 0.02 * aux
	if math.Abs(m.Balance-want) > 1e-6*want {
		t.Errorf("balance loss %.9g, want 0.02 × %.9g = %.9g", m.Balance, aux, want)
	}
	t.Logf("balance loss %.6g (HF form %.6g; %d experts, top-%d)", m.Balance, aux, cfg.Experts, cfg.TopK)
}

// A NaN in a weight makes the loss NaN: the step is refused and nothing
// changes.
func TestNonFiniteStepChangesNothing(t *testing.T) {
	tr := tinyTrainer(t, v3)
	name := "model.layers.0.mlp.down_proj.weight"
	tr.Params[name].F[3] = float32(math.NaN())
	snapshot := map[string]*runtime.Tensor{}
	for k, v := range tr.Params {
		snapshot[k] = v
	}
	_, err := tr.TakeStep(batch(), 1e-3)
	if !errors.Is(err, ErrNotFinite) {
		t.Fatalf("err = %v, want ErrNotFinite", err)
	}
	for k, v := range tr.Params {
		if snapshot[k] != v {
			t.Errorf("param %s was replaced by a refused step", k)
		}
	}
	if tr.Step != 0 {
		t.Errorf("step count %d after a refused step", tr.Step)
	}
}

// Steps recycle the storage of the tensors they replace, but never that of
// the caller's tensors: after several steps those hold what they held.
func TestStepsLeaveCallersTensors(t *testing.T) {
	tr := tinyTrainer(t, v3)
	callers := map[string][]float32{}
	kept := map[string]*runtime.Tensor{}
	for k, v := range tr.Params {
		if !tr.owned[v] {
			callers[k] = append([]float32(nil), v.F...)
			kept[k] = v
		}
	}
	if len(kept) == 0 {
		t.Fatal("the trainer owns every tensor; the test needs some of the caller's")
	}
	replaced := 0
	for i := 0; i < 3; i++ {
		if _, err := tr.TakeStep(batch(), 1e-3); err != nil {
			t.Fatal(err)
		}
	}
	for k, v := range kept {
		if tr.Params[k] != v {
			replaced++
		}
		for i, x := range v.F {
			if math.Float32bits(x) != math.Float32bits(callers[k][i]) {
				t.Fatalf("the caller's %s[%d] changed from %v to %v", k, i, callers[k][i], x)
			}
		}
	}
	if replaced == 0 {
		t.Error("no caller's tensor was replaced by a step (the routing biases should be)")
	}
}

// Recomputing norms and up-projections in the backward gives the same
// step, bit for bit, holding less at once.
func TestRecomputeSavesMemory(t *testing.T) {
	run := func(recompute bool) (Metrics, *Trainer, int64) {
		o := v3
		o.Recompute = recompute
		tr := tinyTrainer(t, o)
		var st cpu.RunStats
		tr.Opts.Stats = &st
		var big Batch // enough tokens for activations to count
		for i := 0; i < 8; i++ {
			s := make([]int, 128)
			for j := range s {
				s[j] = (i*131 + j*7) % 256
			}
			big.Seqs = append(big.Seqs, s)
		}
		m, err := tr.TakeStep(big, 1e-3)
		if err != nil {
			t.Fatal(err)
		}
		return m, tr, st.PeakLiveBytes
	}
	m0, t0, peak0 := run(false)
	m1, t1, peak1 := run(true)
	if m0.Loss != m1.Loss || m0.GradNorm != m1.GradNorm {
		t.Errorf("recompute changed the step: loss %v vs %v, grad norm %v vs %v", m0.Loss, m1.Loss, m0.GradNorm, m1.GradNorm)
	}
	name := "model.layers.0.self_attn.q_b_proj.weight"
	for i, v := range t0.Params[name].F {
		if t1.Params[name].F[i] != v {
			t.Fatalf("%s[%d] differs: %v vs %v", name, i, v, t1.Params[name].F[i])
		}
	}
	t.Logf("peak live bytes: %d without, %d with recomputation", peak0, peak1)
	if peak1 >= peak0 {
		t.Errorf("recomputation did not lower the peak (%d vs %d bytes)", peak1, peak0)
	}
}

// The bias corrections use the betas the program was built with, read
// from its adamw ops; a program whose adamw ops disagree, or that has none,
// is refused.
func TestBetasComeFromTheProgram(t *testing.T) {
	o := v3
	o.Beta1, o.Beta2 = 0.8, 0.99
	tr := tinyTrainer(t, o)
	if tr.Beta1 != 0.8 || tr.Beta2 != 0.99 {
		t.Fatalf("betas %g, %g; the program was built with 0.8, 0.99", tr.Beta1, tr.Beta2)
	}
	fn := tr.Module.Func("train")
	var adam []*ir.Op
	for _, op := range fn.Body {
		if op.Is(ir.OpAdamW) {
			adam = append(adam, op)
		}
	}
	if len(adam) < 2 {
		t.Fatalf("%d adamw ops", len(adam))
	}
	adam[1].Attrs["beta2"] = 0.9
	if _, err := New(tr.Module, tr.Params, tr.Opts); err == nil || !strings.Contains(err.Error(), "disagree") {
		t.Errorf("adamw ops with different betas: %v", err)
	}
	fn.Body = slices.DeleteFunc(fn.Body, func(op *ir.Op) bool { return op.Is(ir.OpAdamW) })
	if _, err := New(tr.Module, tr.Params, tr.Opts); err == nil || !strings.Contains(err.Error(), "no adamw") {
		t.Errorf("no adamw op: %v", err)
	}
}
