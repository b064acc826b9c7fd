package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/deepc-dev/deepc/internal/reference"
	"github.com/deepc-dev/deepc/runtime/weights"
)

// The model zoo (models/*.deep beyond DeepSeek-V3): published parameter
// counts, and each tiny variant through init → forward (full and
// prefill + decode) against a float64 reference written from Hugging
// Face's modeling code, reading the config.json init wrote.

func TestStatsZoo(t *testing.T) {
	for _, c := range []struct {
		model            string
		total, activated int64
	}{
		// Published: DeepSeek-V2-Lite 15.7B (2.4B activated without the
		// embedding); Llama-3-8B 8,030,261,248; Mixtral-8x7B 46.7B (12.9B
		// activated); Qwen2-7B 7,615,616,512.
		{"deepseek_v2_lite.deep", 15_706_484_224, 2_451_435_008 + 102400*2048},
		{"llama3.deep", 8_030_261_248, 8_030_261_248},
		{"mixtral.deep", 46_702_792_704, 12_879_925_248},
		{"qwen2.deep", 7_615_616_512, 7_615_616_512},
	} {
		var s struct {
			ParamsTotal     int64 `json:"params_total"`
			ParamsActivated int64 `json:"params_activated"`
		}
		out := mustDeepc(t, "stats", "../../models/"+c.model, "--json")
		if err := json.Unmarshal([]byte(out), &s); err != nil {
			t.Fatalf("%s: %v", c.model, err)
		}
		if s.ParamsTotal != c.total || s.ParamsActivated != c.activated {
			t.Errorf("%s: %d total, %d activated; want %d, %d", c.model, s.ParamsTotal, s.ParamsActivated, c.total, c.activated)
		}
	}
}

// zooCheckpoint runs deepc init for a tiny model (f32 weights) and checks
// that its config.json names the architecture.
func zooCheckpoint(t *testing.T, model, arch string, sets ...string) string {
	t.Helper()
	format := "f32"
	if slices.Contains(sets, "weight_dtype=f8e4m3") {
		format = "fp8"
	}
	dir := filepath.Join(t.TempDir(), "ckpt")
	args := []string{"init", "../../models/" + model, "--out", dir, "--format", format, "--seed", "7"}
	for _, s := range sets {
		args = append(args, "--set", s)
	}
	mustDeepc(t, args...)
	data, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Architectures []string `json:"architectures"`
	}
	if err := json.Unmarshal(data, &cfg); err != nil || len(cfg.Architectures) != 1 || cfg.Architectures[0] != arch {
		t.Fatalf("%s: config.json names %v (%v), want [%s]", model, cfg.Architectures, err, arch)
	}
	return dir
}

// forwardBoth runs forward with no model argument (config.json's
// architecture selects it), in full and with --prefill 3.
func forwardBoth(t *testing.T, dir string, seqs [][]int) (full, cached []float32) {
	t.Helper()
	var parts []string
	for _, s := range seqs {
		parts = append(parts, strings.Trim(fmt.Sprint(s), "[]"))
	}
	for i, extra := range [][]string{nil, {"--prefill", "3"}} {
		out := filepath.Join(t.TempDir(), "logits.npy")
		mustDeepc(t, append([]string{"forward", "--checkpoint", dir, "--tokens", strings.Join(parts, ","), "--out", out}, extra...)...)
		_, l := readNPY(t, out)
		if i == 0 {
			full = l
		} else {
			cached = l
		}
	}
	return full, cached
}

func packed(seqs [][]int) (tok, pos, seq []int) {
	for i, s := range seqs {
		for j, id := range s {
			tok, pos, seq = append(tok, id), append(pos, j), append(seq, i)
		}
	}
	return
}

func TestZooForwardMatchesReference(t *testing.T) {
	seqs := [][]int{{1, 17, 301, 42, 7, 499, 12, 88, 5, 260, 33, 1}, {3, 3, 250, 9, 120, 64, 8, 400, 2, 77, 19, 6}}
	tok, pos, seq := packed(seqs)
	for _, c := range []struct {
		model, arch string
		sets        []string
	}{
		{"llama3_tiny.deep", "LlamaForCausalLM", nil},
		{"llama3_tiny.deep", "LlamaForCausalLM", []string{"n_kv_heads=1", `rope_scaling={type = "linear", factor = 2.0}`, "attention_bias=true"}},
		// FP8 block-quantized weights: config.json's quantization_config
		// round-trips; the reference dequantizes the checkpoint.
		{"llama3_tiny.deep", "LlamaForCausalLM", []string{"weight_dtype=f8e4m3", "weight_quant=block(128, 128)"}},
		// Dynamic NTK from position 8 on (the batch reaches 11). The
		// cached path rotates each step's keys with that step's base, as
		// Hugging Face's cache does, so only the full pass is compared.
		{"llama3_tiny.deep", "LlamaForCausalLM", []string{`rope_scaling={type = "dynamic", factor = 2.0, original_max_position_embeddings = 8}`}},
		{"qwen2_tiny.deep", "Qwen2ForCausalLM", nil},
		{"mixtral_tiny.deep", "MixtralForCausalLM", nil},
		{"deepseek_v2_lite_tiny.deep", "DeepseekV2ForCausalLM", nil},
	} {
		t.Run(strings.TrimSuffix(c.model, ".deep")+strings.Join(c.sets, ","), func(t *testing.T) {
			dir := zooCheckpoint(t, c.model, c.arch, c.sets...)
			full, cached := forwardBoth(t, dir, seqs)
			var want [][]float64
			if c.arch == "DeepseekV2ForCausalLM" {
				cfg, w := referenceWeights(t, dir)
				logits, _, err := reference.Forward(cfg, w, tok, pos, seq)
				if err != nil {
					t.Fatal(err)
				}
				want = logits
			} else {
				data, err := os.ReadFile(filepath.Join(dir, "config.json"))
				if err != nil {
					t.Fatal(err)
				}
				cfg, err := reference.LlamaConfigFromHF(data)
				if err != nil {
					t.Fatal(err)
				}
				w := rawWeights(t, dir)
				if want, err = reference.LlamaForward(cfg, w, tok, pos, seq); err != nil {
					t.Fatal(err)
				}
			}
			e1, e2 := maxRelErr(full, want), maxRelErr(cached, want)
			t.Logf("relative error: full %.2g, prefill 3 + decode %.2g", e1, e2)
			if strings.Contains(strings.Join(c.sets, ","), "dynamic") {
				e2 = 0
			}
			if e1 > 1e-5 || e2 > 1e-5 {
				t.Errorf("logits differ from the float64 reference: %.3g (full), %.3g (prefill + decode)", e1, e2)
			}
		})
	}
}

// Each tiny model of the zoo from a clean start: generate (greedy, then
// with prompt-lookup speculation: the same text), train two steps and
// resume from the first (bit-identical weights), and a bundle of
// prefill, decode and train kernels through ptxas.
func TestZooGenerateTrainResumeCompile(t *testing.T) {
	for _, c := range []struct{ model, arch string }{
		{"llama3_tiny.deep", "LlamaForCausalLM"},
		{"qwen2_tiny.deep", "Qwen2ForCausalLM"},
		{"mixtral_tiny.deep", "MixtralForCausalLM"},
		{"deepseek_v2_lite_tiny.deep", "DeepseekV2ForCausalLM"},
	} {
		t.Run(strings.TrimSuffix(c.model, ".deep"), func(t *testing.T) {
			t.Parallel()
			dir := zooCheckpoint(t, c.model, c.arch)
			gen := []string{"generate", "--checkpoint", dir, "--prompt", "abcabcabc", "--prompt", "hello hello", "--max-tokens", "16"}
			plain := mustDeepc(t, gen...)
			code, spec, stderr := deepc(t, append(gen, "--speculative", "lookup")...)
			if code != 0 || spec != plain {
				t.Errorf("--speculative lookup: exit %d, output %q; greedy gave %q\n%s", code, spec, plain, stderr)
			}
			if !strings.Contains(stderr, "lookup speculation:") {
				t.Errorf("no speculation statistics: %s", stderr)
			}

			run := filepath.Join(t.TempDir(), "run")
			data := "../../docs/*.md"
			mustDeepc(t, "train", "../../models/"+c.model, "--steps", "2", "--batch", "2", "--seq", "16", "--save-every", "1", "--eval-every", "0", "--data", data, "--out", run)
			again := filepath.Join(t.TempDir(), "again")
			mustDeepc(t, "train", "--resume", filepath.Join(run, "step-000001"), "--steps", "2", "--eval-every", "0", "--out", again)
			a, err := os.ReadFile(filepath.Join(run, "step-000002", "model.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(filepath.Join(again, "step-000002", "model.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			if string(a) != string(b) {
				t.Error("resumed training differs from the uninterrupted run")
			}
			// The trained checkpoint loads with no model named.
			mustDeepc(t, "forward", "--checkpoint", filepath.Join(run, "step-000002"), "--tokens", "1 2 3", "--out", filepath.Join(t.TempDir(), "l.npy"))

			bundle := filepath.Join(t.TempDir(), "b")
			mustDeepc(t, "compile", "../../models/"+c.model, "--target", "sm_90a", "--graph", "prefill,decode,train", "-o", bundle)
		})
	}
}

// ceOf is the mean next-token cross-entropy of logits over packed
// sequences.
func ceOf(logits [][]float64, tok, seq []int) float64 {
	var sum float64
	n := 0
	for p := 0; p+1 < len(tok); p++ {
		if seq[p+1] != seq[p] {
			continue
		}
		row := logits[p]
		mx := math.Inf(-1)
		for _, v := range row {
			mx = max(mx, v)
		}
		var z float64
		for _, v := range row {
			z += math.Exp(v - mx)
		}
		sum += math.Log(z) + mx - row[tok[p+1]]
		n++
	}
	return sum / float64(n)
}

// deepc grad on each zoo model against central differences of the float64
// reference's loss: attention with grouped heads, biases, tied
// embeddings, rotate-half RoPE, the window, Mixtral's router and experts,
// V2's softmax routing and shared experts.
func TestZooGradMatchesReference(t *testing.T) {
	seqs := [][]int{{1, 17, 301, 42, 7, 499, 12, 88, 5, 260}, {3, 3, 250, 9, 120, 64, 8, 400, 2, 77}}
	tok, pos, seq := packed(seqs)
	for _, c := range []struct {
		model, arch string
		names       []string
	}{
		{"llama3_tiny.deep", "LlamaForCausalLM", []string{"model.embed_tokens.weight", "model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.k_proj.weight", "model.layers.1.self_attn.v_proj.weight", "model.layers.1.self_attn.o_proj.weight", "model.layers.0.mlp.gate_proj.weight", "model.layers.1.post_attention_layernorm.weight", "lm_head.weight"}},
		{"qwen2_tiny.deep", "Qwen2ForCausalLM", []string{"model.embed_tokens.weight", "model.layers.0.self_attn.q_proj.bias", "model.layers.0.self_attn.k_proj.bias", "model.layers.1.self_attn.v_proj.bias", "model.norm.weight"}},
		{"mixtral_tiny.deep", "MixtralForCausalLM", []string{"model.layers.0.block_sparse_moe.gate.weight", "model.layers.1.block_sparse_moe.experts.2.w1.weight", "model.layers.0.block_sparse_moe.experts.1.w2.weight", "model.layers.1.self_attn.k_proj.weight"}},
		{"deepseek_v2_lite_tiny.deep", "DeepseekV2ForCausalLM", []string{"model.layers.1.mlp.gate.weight", "model.layers.2.mlp.experts.5.up_proj.weight", "model.layers.1.mlp.shared_experts.down_proj.weight", "model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.kv_b_proj.weight"}},
	} {
		t.Run(strings.TrimSuffix(c.model, ".deep"), func(t *testing.T) {
			dir := zooCheckpoint(t, c.model, c.arch)
			out := filepath.Join(t.TempDir(), "grads.safetensors")
			mustDeepc(t, "grad", "--checkpoint", dir, "--tokens", "1 17 301 42 7 499 12 88 5 260,3 3 250 9 120 64 8 400 2 77", "--out", out)
			data, err := os.ReadFile(filepath.Join(dir, "config.json"))
			if err != nil {
				t.Fatal(err)
			}
			w := rawWeights(t, dir)
			var loss func() float64
			if c.arch == "DeepseekV2ForCausalLM" {
				cfg, err := reference.ConfigFromHF(data)
				if err != nil {
					t.Fatal(err)
				}
				loss = func() float64 {
					l, _, err := reference.Forward(cfg, w, tok, pos, seq)
					if err != nil {
						t.Fatal(err)
					}
					return ceOf(l, tok, seq)
				}
			} else {
				cfg, err := reference.LlamaConfigFromHF(data)
				if err != nil {
					t.Fatal(err)
				}
				loss = func() float64 {
					l, err := reference.LlamaForward(cfg, w, tok, pos, seq)
					if err != nil {
						t.Fatal(err)
					}
					return ceOf(l, tok, seq)
				}
			}
			g, err := weights.OpenCheckpoint(out)
			if err != nil {
				t.Fatal(err)
			}
			defer g.Close()
			rel := checkGradFD(t, g, w, seqs, loss, c.names)
			t.Logf("gradient vs float64 finite differences: relative error %.3g", rel)
		})
	}
}

// Dynamic NTK rope scaling generates past factor × its original context
// (it scales to any length), and lookup speculation refuses it: drafts
// would raise a step's largest position and so the base of kept keys.
func TestZooDynamicRopeGenerate(t *testing.T) {
	dir := zooCheckpoint(t, "llama3_tiny.deep", "LlamaForCausalLM", `rope_scaling={type = "dynamic", factor = 2.0, original_max_position_embeddings = 8}`)
	mustDeepc(t, "generate", "--checkpoint", dir, "--prompt", "abcdefgh", "--max-tokens", "24")
	code, _, stderr := deepc(t, "generate", "--checkpoint", dir, "--prompt", "abab", "--max-tokens", "8", "--speculative", "lookup")
	if code == 0 || !strings.Contains(stderr, "dynamic NTK") {
		t.Errorf("lookup on a dynamic-NTK model: exit %d, %s", code, stderr)
	}
}
