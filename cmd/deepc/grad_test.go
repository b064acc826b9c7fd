package main

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/deepc-dev/deepc/internal/reference"
	"github.com/deepc-dev/deepc/runtime/weights"
)

// referenceLoss is the mean next-token cross-entropy of the float64
// reference implementation over packed sequences.
func referenceLoss(t *testing.T, cfg reference.Config, w reference.Weights, seqs [][]int) float64 {
	t.Helper()
	var tok, pos, seq []int
	for i, s := range seqs {
		for j, id := range s {
			tok, pos, seq = append(tok, id), append(pos, j), append(seq, i)
		}
	}
	logits, _, err := reference.Forward(cfg, w, tok, pos, seq)
	if err != nil {
		t.Fatal(err)
	}
	return ceOf(logits, tok, seq)
}

// deepc grad against central differences of the independent float64
// reference's loss, on coordinates of every kind of tensor: embedding,
// attention (q LoRA, kv LoRA with its norm, output), dense and expert
// MLPs, router, norms, head. YaRN on, group-limited routing with bias.
func TestGradMatchesReferenceFiniteDifferences(t *testing.T) {
	dir := writeCheckpoint(t, nil, "f32", 1, 51)
	seqs := [][]int{{1, 17, 301, 42, 7, 499}, {3, 3, 250, 9, 120, 64}}
	out := filepath.Join(t.TempDir(), "grads.safetensors")
	stdout := mustDeepc(t, "grad", tinyModel, "--checkpoint", dir, "--tokens", "1 17 301 42 7 499,3 3 250 9 120 64", "--out", out)
	f := strings.Fields(stdout)
	if len(f) != 2 || f[0] != "loss" {
		t.Fatalf("output %q, want \"loss X\"", stdout)
	}
	loss, err := strconv.ParseFloat(f[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	cfg, w := referenceWeights(t, dir)
	want := referenceLoss(t, cfg, w, seqs)
	if e := math.Abs(loss-want) / want; e > 1e-6 {
		t.Errorf("loss %.9g, reference %.9g (relative error %.3g)", loss, want, e)
	}
	g, err := weights.OpenCheckpoint(out)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if n := len(g.Names()); n != 198 {
		t.Errorf("%d gradient tensors, want 198 (every trainable tensor the loss reads, experts one each)", n)
	}
	rel := checkGradFD(t, g, w, seqs, func() float64 { return referenceLoss(t, cfg, w, seqs) }, []string{
		"model.embed_tokens.weight",
		"model.layers.0.self_attn.q_a_proj.weight",
		"model.layers.0.self_attn.q_b_proj.weight",
		"model.layers.0.self_attn.kv_a_proj_with_mqa.weight",
		"model.layers.0.self_attn.kv_a_layernorm.weight",
		"model.layers.0.self_attn.kv_b_proj.weight",
		"model.layers.0.self_attn.o_proj.weight",
		"model.layers.0.mlp.up_proj.weight",
		"model.layers.1.input_layernorm.weight",
		"model.layers.1.mlp.gate.weight",
		"model.layers.2.mlp.experts.3.down_proj.weight",
		"model.layers.3.mlp.shared_experts.gate_proj.weight",
		"model.norm.weight",
		"lm_head.weight",
	})
	t.Logf("loss %.9g (reference %.9g); gradient vs float64 finite differences: relative error %.3g", loss, want, rel)
}

// checkGradFD compares, at 4 coordinates of each named tensor, deepc's
// gradient g with the central difference of the float64 loss over the
// weights w (which it perturbs and restores), and returns the relative
// error over all of them. Embedding coordinates are taken in rows of
// tokens in the batch (the others have zero gradient).
func checkGradFD(t *testing.T, g *weights.Checkpoint, w reference.Weights, seqs [][]int, loss func() float64, names []string) float64 {
	t.Helper()
	rng := rand.New(rand.NewPCG(5, 1))
	const h = 1e-4
	var num, den float64
	for _, name := range names {
		gt, err := g.Tensor(name)
		if err != nil {
			t.Fatal(err)
		}
		p := w[name]
		if p == nil || len(p.Data) != len(gt.F) {
			t.Fatalf("%s: gradient of %d values for a tensor of %v", name, len(gt.F), p)
		}
		for k := 0; k < 4; k++ {
			j := rng.IntN(len(p.Data))
			if name == "model.embed_tokens.weight" {
				j = seqs[k%2][k]*p.Shape[1] + rng.IntN(p.Shape[1])
			}
			v := p.Data[j]
			p.Data[j] = v + h
			lp := loss()
			p.Data[j] = v - h
			lm := loss()
			p.Data[j] = v
			fd := (lp - lm) / (2 * h)
			d := float64(gt.F[j]) - fd
			num += d * d
			den += fd * fd
			if math.Abs(d) > 1e-3*math.Abs(fd)+1e-6 {
				t.Errorf("%s[%d]: deepc %.6g, float64 finite difference %.6g", name, j, gt.F[j], fd)
			}
		}
	}
	return math.Sqrt(num / den)
}
