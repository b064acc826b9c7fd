package plugintest

import (
	"math"
	"testing"

	"github.com/deepc-dev/deepc/driver"
	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/plugins/sdk"
	"github.com/deepc-dev/deepc/runtime/cpu"
	"github.com/deepc-dev/deepc/runtime/infer"
)

// numericsSeed seeds the random weights: every call of Numerics sees the
// same model, so a tolerance chosen once keeps meaning the same thing.
const numericsSeed = 7

// Numerics measures what pipeline (built-in passes and p's, as in --passes,
// with options) does to a model's numbers. It compiles model (a .deep
// file; a name that is not on disk is looked up among deepc's models, so
// "deepseek_v3_tiny.deep" works anywhere), writes a random f32 checkpoint
// of it as `deepc init` does, and runs its forward function on the CPU
// backend in fp32 on the same token ids twice: as the DSL compiled it, and
// after the pipeline (run as Apply runs it). It returns the logits' largest
// difference relative to their largest magnitude,
//
//	max |after − before| / max |before|
//
// (+Inf when the pipeline's logits are not finite). Whatever fails to
// compile, load or run fails t.
//
//	if e := plugintest.Numerics(t, Plugin, "my-pass", nil, "deepseek_v3_tiny.deep"); e > 1e-5 {
//		t.Errorf("my-pass changed the logits: relative error %.3g", e)
//	}
func Numerics(t testing.TB, p sdk.Plugin, pipeline string, options map[string]string, model string) float64 {
	t.Helper()
	dir := t.TempDir()
	before, err := driver.RandomCheckpoint(model, nil, dir, numericsSeed, "f32", 1, false)
	if err != nil {
		t.Fatalf("plugintest.Numerics: %v", err)
	}
	out, _, err := Apply(p, pipeline, options, model, ir.Print(before))
	if err != nil {
		t.Fatalf("plugintest.Numerics: pipeline %q: %v", pipeline, err)
	}
	after, err := ir.Parse(model, out)
	if err != nil {
		t.Fatalf("plugintest.Numerics: pipeline %q: %v", pipeline, err)
	}
	seqs := numericsTokens(before)
	want := forward(t, before, dir, seqs, "the compiled model")
	got := forward(t, after, dir, seqs, "after "+pipeline)
	if w := want.NonFinite(); w != "" {
		t.Fatalf("plugintest.Numerics: the compiled model's own logits: %s", w)
	}
	e := maxRelDiff(got, want)
	t.Logf("plugintest.Numerics: %s on %s: logits' max relative difference %.3g", pipeline, model, e)
	return e
}

// forward binds the checkpoint in dir to m and returns its logits for seqs.
func forward(t testing.TB, m *ir.Module, dir string, seqs [][]int, what string) infer.Logits {
	t.Helper()
	l := driver.Load{Module: m, Checkpoint: dir, Mode: cpu.FP32}
	model, err := l.Model()
	if err != nil {
		t.Fatalf("plugintest.Numerics: %s: %v", what, err)
	}
	logits, err := model.Forward(seqs)
	if err != nil {
		t.Fatalf("plugintest.Numerics: %s: %v", what, err)
	}
	return logits
}

// numericsTokens are two sequences of 8 token ids spread over the
// vocabulary (the last dimension of forward's first result), so that a
// pass that only misbehaves for some tokens or positions is seen.
func numericsTokens(m *ir.Module) [][]int {
	vocab := 2
	if f := m.Func("forward"); f != nil && len(f.Results) > 0 {
		if s := f.Results[0].Type.Shape; len(s) > 0 {
			if v, ok := s[len(s)-1].Eval(nil); ok && v > 1 {
				vocab = int(v)
			}
		}
	}
	seqs := make([][]int, 2)
	for i := range seqs {
		for j := 0; j < 8; j++ {
			seqs[i] = append(seqs[i], (1+31*i+97*j)%vocab)
		}
	}
	return seqs
}

// maxRelDiff is max |got − want| / max |want| over all logits.
func maxRelDiff(got, want infer.Logits) float64 {
	var diff, scale float64
	for s, seq := range want.Rows {
		for p, row := range seq {
			for v, w := range row {
				g := float64(got.Rows[s][p][v])
				if math.IsNaN(g) || math.IsInf(g, 0) {
					return math.Inf(1)
				}
				diff = max(diff, math.Abs(g-float64(w)))
				scale = max(scale, math.Abs(float64(w)))
			}
		}
	}
	if diff == 0 {
		return 0
	}
	return diff / scale
}
