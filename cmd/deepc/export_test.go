package main

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/deepc-dev/deepc/internal/llamacpp"
	"github.com/deepc-dev/deepc/runtime/gguf"
	"github.com/deepc-dev/deepc/runtime/tokenizer"
	"github.com/deepc-dev/deepc/runtime/weights"
)

// randomizeBias gives every layer's routing correction bias random values
// (deepc init writes zeros, which would make a file without the bias
// compute the same thing).
func randomizeBias(t *testing.T, dir string) {
	t.Helper()
	ck, err := weights.OpenCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(17, 3))
	var ts []weights.NamedTensor
	for _, n := range ck.Names() {
		x, err := ck.Tensor(n)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(n, "e_score_correction_bias") {
			for i := range x.F {
				x.F[i] = float32(r.NormFloat64() * 0.05)
			}
		}
		ts = append(ts, weights.NamedTensor{Name: n, T: x})
	}
	ck.Close()
	if err := os.Remove(filepath.Join(dir, "model.safetensors")); err != nil {
		t.Fatal(err)
	}
	if err := weights.WriteFile(filepath.Join(dir, "model.safetensors"), ts); err != nil {
		t.Fatal(err)
	}
}

// rewriteGGUF copies a GGUF file, leaving out the metadata keys and
// tensors drop names.
func rewriteGGUF(t *testing.T, from, to string, drop ...string) {
	t.Helper()
	f, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	g, err := gguf.Read(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	var kvs []gguf.KV
	for _, kv := range g.KVs {
		if !slices.Contains(drop, kv.Key) {
			kvs = append(kvs, kv)
		}
	}
	var ts []gguf.TensorSpec
	for _, ti := range g.Tensors {
		if slices.ContainsFunc(drop, func(d string) bool { return strings.HasSuffix(ti.Name, d) }) {
			continue
		}
		ti := ti
		ts = append(ts, gguf.TensorSpec{Name: ti.Name, Dims: ti.Dims, Type: ti.Type, Values: func() ([]float32, error) { return g.Values(ti) }})
	}
	out, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if err := gguf.Write(out, kvs, ts); err != nil {
		t.Fatal(err)
	}
}

// TestExportGGUFMatchesLlamaCpp exports the tiny DeepSeek-V3 (sigmoid
// routing with a nonzero correction bias, expert groups, YaRN, MLA) and
// runs the file in llama.cpp's prebuilt CPU library: every position's
// logits must equal deepc forward's (fp32) within 1e-5 relative, on the
// full pass and with a prefill/decode split; a file whose routing metadata
// is wrong must not.
func TestExportGGUFMatchesLlamaCpp(t *testing.T) {
	if _, err := llamacpp.Harness(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ck := filepath.Join(dir, "tiny")
	mustDeepc(t, "init", tinyModel, "--out", ck, "--format", "f32")
	randomizeBias(t, ck)
	r := rand.New(rand.NewPCG(5, 8))
	tokens := make([][]int, 3)
	for i := range tokens {
		for range 16 {
			tokens[i] = append(tokens[i], r.IntN(512))
		}
	}
	js, _ := json.Marshal(tokens)
	tf := filepath.Join(dir, "tokens.json")
	if err := os.WriteFile(tf, js, 0o644); err != nil {
		t.Fatal(err)
	}
	const prefill = 6
	compare := func(file string, prefill int, want []float32) float64 {
		t.Helper()
		got, V, err := llamacpp.Logits(file, tokens, prefill)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("%s: %d logits from llama.cpp, %d from deepc", filepath.Base(file), len(got), len(want))
		}
		return llamacpp.MaxRelDiff(got, want, V)
	}
	// roundTrip exports checkpoint ck and compares llama.cpp's logits with
	// deepc's, full pass and prefill + decode; it returns the file and
	// deepc's full-pass logits.
	roundTrip := func(what, ck string) (string, []float32) {
		t.Helper()
		full, cached := filepath.Join(dir, what+"-full.npy"), filepath.Join(dir, what+"-cached.npy")
		mustDeepc(t, "forward", tinyModel, "--checkpoint", ck, "--precision", "fp32", "--tokens", "@"+tf, "--out", full)
		mustDeepc(t, "forward", tinyModel, "--checkpoint", ck, "--precision", "fp32", "--tokens", "@"+tf, "--out", cached, "--prefill", "6")
		_, want := readNPY(t, full)
		_, wantCached := readNPY(t, cached)
		model := filepath.Join(dir, what+".gguf")
		mustDeepc(t, "export", ck, "--model", tinyModel, "-o", model)
		if d := compare(model, -1, want); d > 1e-5 {
			t.Errorf("%s, full pass: llama.cpp's logits differ from deepc's by %.3g (max |diff| / max |logit| per position), want <= 1e-5", what, d)
		} else {
			t.Logf("%s, full pass: llama.cpp vs deepc %.2g", what, d)
		}
		if d := compare(model, prefill, wantCached); d > 1e-5 {
			t.Errorf("%s, prefill %d + decode: llama.cpp's logits differ from deepc's by %.3g, want <= 1e-5", what, prefill, d)
		} else {
			t.Logf("%s, prefill + decode: llama.cpp vs deepc %.2g", what, d)
		}
		return model, want
	}
	model, want := roundTrip("v3", ck)

	// DeepSeek-V2's routing and YaRN: softmax gating without
	// renormalisation or correction bias, one expert group, two shared
	// experts, mscale = mscale_all_dim != 1, no MTP.
	v2 := filepath.Join(dir, "v2")
	mustDeepc(t, "init", tinyModel, "--out", v2, "--format", "f32", "--set", `score_func="softmax"`,
		"--set", "n_expert_groups=1", "--set", "n_limited_groups=1", "--set", "route_scale=1.0",
		"--set", "n_shared_experts=2", "--set", "mtp_depth=0", "--set", `rope_scaling={type = "yarn", factor = 4.0, `+
			`original_max_position_embeddings = 256, beta_fast = 32.0, beta_slow = 1.0, mscale = 0.707, mscale_all_dim = 0.707}`)
	roundTrip("v2", v2)

	// The comparison must be able to fail: files that describe another
	// routing compute other logits.
	for _, c := range []struct {
		what string
		drop []string
	}{
		{"no expert groups", []string{"deepseek2.expert_group_count", "deepseek2.expert_group_used_count"}},
		{"no routing bias", []string{"exp_probs_b.bias"}},
		{"softmax gating", []string{"deepseek2.expert_gating_func"}}, // absent means softmax for deepseek2
	} {
		bad := filepath.Join(dir, "bad.gguf")
		rewriteGGUF(t, model, bad, c.drop...)
		if d := compare(bad, -1, want); d <= 1e-4 {
			t.Errorf("%s: logits still within %.3g of deepc's; the comparison cannot tell", c.what, d)
		} else {
			t.Logf("%s: differs by %.2g, as it must", c.what, d)
		}
	}

	// The other storage types load and compute the same model, to their
	// rounding. Rounding flips near-tied expert choices of a random tiny
	// model, and one flip moves logits by O(1), so these run a dense
	// variant: no routing, errors that stay proportional to the rounding.
	// llama.cpp also rounds the activations to the weights' dot-product
	// type (f16, bf16, q8_0 blocks), so the bounds are a few times each
	// type's unit roundoff, far below the O(1) of a misplaced tensor.
	dense := filepath.Join(dir, "dense")
	denseFull := filepath.Join(dir, "dense.npy")
	mustDeepc(t, "init", tinyModel, "--out", dense, "--format", "f32", "--set", "n_dense_layers=4")
	mustDeepc(t, "forward", tinyModel, "--checkpoint", dense, "--precision", "fp32", "--tokens", "@"+tf, "--out", denseFull)
	_, wantDense := readNPY(t, denseFull)
	for _, c := range []struct {
		typ string
		tol float64
	}{{"f32", 1e-5}, {"f16", 5e-3}, {"bf16", 4e-2}, {"q8_0", 1e-1}} {
		file := filepath.Join(dir, c.typ+".gguf")
		mustDeepc(t, "export", dense, "--model", tinyModel, "--type", c.typ, "-o", file)
		if d := compare(file, -1, wantDense); d > c.tol {
			t.Errorf("--type %s: logits differ from deepc's by %.3g, want <= %g", c.typ, d, c.tol)
		} else {
			t.Logf("--type %s: %.2g", c.typ, d)
		}
	}

	// The tokenizer section is the byte-level tokenizer deepc uses for the
	// tiny model.
	text := "hello <bos>wörld\n\t<eos>"
	got, err := llamacpp.Tokenize(model, text)
	if err != nil {
		t.Fatal(err)
	}
	bl, _ := tokenizer.NewByteLevel(512)
	if w := bl.Encode(text); !slices.Equal(got, w) {
		t.Errorf("llama.cpp tokenizes %q as %v, deepc as %v", text, got, w)
	}
}

// TestExportRefuses: what llama.cpp's deepseek2 cannot compute, and bad
// arguments, are errors that say why; nothing is written.
func TestExportRefuses(t *testing.T) {
	dir := t.TempDir()
	ck := filepath.Join(dir, "tiny")
	mustDeepc(t, "init", tinyModel, "--out", ck, "--format", "f32")
	soft := filepath.Join(dir, "softmax")
	mustDeepc(t, "init", tinyModel, "--out", soft, "--format", "f32", "--set", "score_func=\"softmax\"")
	out := filepath.Join(dir, "x.gguf")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"export", soft, "--model", tinyModel, "-o", out}, "sum of their best two"},
		// The checkpoint's norm_topk_prob (true, for sigmoid scores)
		// disagrees with a --set softmax model (the contract fixes it).
		{[]string{"export", ck, "--model", tinyModel, "-o", out, "--set", "score_func=\"softmax\""}, "norm_topk_prob is true; model deepseek_v3_tiny needs false"},
		{[]string{"export", ck, "--model", tinyModel, "-o", out, "--type", "q4_k"}, "unknown tensor type"},
		{[]string{"export", ck, "--model", tinyModel, "-o", out, "--format", "onnx"}, "deepc exports gguf"},
		{[]string{"export", ck, "--model", tinyModel}, "-o FILE.gguf is required"},
		{[]string{"export", "--model", tinyModel, "-o", out}, "name the checkpoint"},
		{[]string{"export", ck, "--model", tinyModel, "-o", filepath.Join(ck, "model.safetensors")}, "not a GGUF file"},
		{[]string{"export", ck, "--model", tinyModel, "-o", out, "--tokenizer", "byte:600"}, "more than the model's vocabulary"},
		{[]string{"export", ck, "--model", tinyModel, "-o", out, "--set", "q_lora_rank=0"}, "26 or 27 layers"},
		{[]string{"export", ck, "--model", tinyModel, "-o", out, "--set", "n_layers=5"}, "model.layers.5.input_layernorm.weight\": missing"},
		{[]string{"export", ck, "--model", tinyModel, "-o", out, "--set", `rope_scaling={type = "yarn", factor = -4.0, original_max_position_embeddings = 256, beta_fast = 32.0, beta_slow = 1.0, mscale = 1.0, mscale_all_dim = 1.0}`}, "needs a positive, finite factor"},
		{[]string{"export", ck, "--model", tinyModel, "-o", filepath.Join(dir, "no", "x.gguf")}, "does not exist"},
		{[]string{"export", ck, "--model", tinyModel, "-o", dir}, "is a directory"},
		{[]string{"export", ck, "--model", tinyModel, "-o", out, "--set", `rope_scaling={type = "yarn", factor = 4.0, original_max_position_embeddings = 256, beta_fast = 32.0, beta_slow = 1.0, mscale = 0.707, mscale_all_dim = 1.0}`}, "mscale 0.707 differs"},
	} {
		code, _, stderr := deepc(t, c.args...)
		if code == 0 || !strings.Contains(stderr, c.want) {
			t.Errorf("deepc %s: exit %d, stderr %q; want an error saying %q", strings.Join(c.args[1:], " "), code, stderr, c.want)
		}
		if _, err := os.Stat(out); err == nil {
			t.Fatalf("deepc %s wrote %s", strings.Join(c.args[1:], " "), out)
		}
	}
	// The checkpoint was not touched.
	if _, err := weights.OpenCheckpoint(ck); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("a temporary file was left behind: %s", e.Name())
		}
	}
}
