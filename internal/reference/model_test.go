package reference

import (
	"maps"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
)

const v3ConfigJSON = `{
  "architectures": ["DeepseekV3ForCausalLM"],
  "model_type": "deepseek_v3",
  "vocab_size": 129280, "hidden_size": 7168, "intermediate_size": 18432,
  "moe_intermediate_size": 2048, "num_hidden_layers": 61, "num_nextn_predict_layers": 1,
  "num_attention_heads": 128, "num_key_value_heads": 128,
  "n_shared_experts": 1, "n_routed_experts": 256, "routed_scaling_factor": 2.5,
  "kv_lora_rank": 512, "q_lora_rank": 1536, "qk_rope_head_dim": 64, "v_head_dim": 128,
  "qk_nope_head_dim": 128, "topk_method": "noaux_tc", "n_group": 8, "topk_group": 4,
  "num_experts_per_tok": 8, "moe_layer_freq": 1, "first_k_dense_replace": 3,
  "norm_topk_prob": true, "scoring_func": "sigmoid", "hidden_act": "silu",
  "max_position_embeddings": 163840, "rms_norm_eps": 1e-06, "rope_theta": 10000,
  "rope_scaling": {"beta_fast": 32, "beta_slow": 1, "factor": 40, "mscale": 1.0,
    "mscale_all_dim": 1.0, "original_max_position_embeddings": 4096, "type": "yarn"},
  "tie_word_embeddings": false, "torch_dtype": "bfloat16",
  "quantization_config": {"activation_scheme": "dynamic", "fmt": "e4m3",
    "quant_method": "fp8", "weight_block_size": [128, 128]}
}`

func v3Config() Config {
	return Config{
		Vocab: 129280, Dim: 7168, InterDim: 18432, MoEInterDim: 2048, NLayers: 61, NDenseLayers: 3,
		NHeads: 128, QLoraRank: 1536, KVLoraRank: 512, QKNopeDim: 128, QKRopeDim: 64, VDim: 128,
		NRoutedExperts: 256, NSharedExperts: 1, NActivated: 8, NGroups: 8, NLimitedGroups: 4,
		RouteScale: 2.5, ScoreFunc: "sigmoid", MTPDepth: 1, Eps: 1e-6, RopeTheta: 10000,
		Yarn: &Yarn{Factor: 40, OrigMaxPos: 4096, BetaFast: 32, BetaSlow: 1, MScale: 1, MScaleAllDim: 1},
	}
}

func TestConfigFromHFV3(t *testing.T) {
	c, err := ConfigFromHF([]byte(v3ConfigJSON))
	if err != nil {
		t.Fatal(err)
	}
	if want := v3Config(); !reflect.DeepEqual(c, want) {
		t.Fatalf("config\n got %+v %+v\nwant %+v %+v", c, *c.Yarn, want, *want.Yarn)
	}
}

func TestConfigFromHFV2Lite(t *testing.T) {
	// DeepSeek-V2-Lite-like: q_lora_rank null, scoring_func absent (softmax
	// for deepseek_v2), no rms_norm_eps / rope_theta / yarn betas (defaults).
	c, err := ConfigFromHF([]byte(`{"model_type": "deepseek_v2", "vocab_size": 102400, "hidden_size": 2048,
		"intermediate_size": 10944, "moe_intermediate_size": 1408, "num_hidden_layers": 27,
		"first_k_dense_replace": 1, "num_attention_heads": 16, "q_lora_rank": null, "kv_lora_rank": 512,
		"qk_nope_head_dim": 128, "qk_rope_head_dim": 64, "v_head_dim": 128, "n_routed_experts": 64,
		"n_shared_experts": 2, "num_experts_per_tok": 6, "n_group": 1, "topk_group": 1,
		"routed_scaling_factor": 1.0, "norm_topk_prob": false, "topk_method": "greedy",
		"rope_scaling": {"type": "yarn", "factor": 40, "original_max_position_embeddings": 4096,
		"mscale": 0.707, "mscale_all_dim": 0.707}}`))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{Vocab: 102400, Dim: 2048, InterDim: 10944, MoEInterDim: 1408, NLayers: 27, NDenseLayers: 1,
		NHeads: 16, KVLoraRank: 512, QKNopeDim: 128, QKRopeDim: 64, VDim: 128, NRoutedExperts: 64,
		NSharedExperts: 2, NActivated: 6, NGroups: 1, NLimitedGroups: 1, RouteScale: 1, ScoreFunc: "softmax",
		Eps: 1e-6, RopeTheta: 10000,
		Yarn: &Yarn{Factor: 40, OrigMaxPos: 4096, BetaFast: 32, BetaSlow: 1, MScale: 0.707, MScaleAllDim: 0.707}}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("config\n got %+v %+v\nwant %+v %+v", c, *c.Yarn, want, *want.Yarn)
	}
}

func TestConfigFromHFErrors(t *testing.T) {
	for _, c := range []struct{ json, want string }{
		{`{"vocab_size": 10}`, "lacks"},
		{`{`, "config.json"},
		{strings.Replace(v3ConfigJSON, `"type": "yarn"`, `"type": "linear"`, 1), "only yarn"},
		{strings.Replace(v3ConfigJSON, `"norm_topk_prob": true`, `"norm_topk_prob": false`, 1), "norm_topk_prob"},
		{strings.Replace(v3ConfigJSON, `"topk_group": 4`, `"topk_group": 9`, 1), "n_limited_groups"},
	} {
		_, err := ConfigFromHF([]byte(c.json))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want one containing %q", err, c.want)
		}
	}
}

func TestParamCountV3(t *testing.T) {
	total, act, mtp := ParamCount(v3Config())
	if total != 671_026_419_200 {
		t.Errorf("total = %d, want 671,026,419,200", total)
	}
	if act != 37_552_297_472 {
		t.Errorf("activated = %d, want 37,552,297,472", act)
	}
	// docs/model.md §1 gives 11,610,061,056, which leaves out shared_head.norm
	// (7168); the checkpoint has that tensor, so it is counted here.
	if mtp != 11_610_061_056+7168 {
		t.Errorf("mtp = %d, want 11,610,068,224", mtp)
	}
	// Embedding and head: 129280 · 7168 = 926,679,040 each.
	if 129280*7168 != 926_679_040 {
		t.Error("embedding size")
	}
}

// The formula agrees with the tensors Forward and MTP read.
func TestParamCountMatchesShapes(t *testing.T) {
	for _, c := range []Config{tinyV3(), tinyV2(), v3Config()} {
		sum := func(m map[string][]int) (n int64) {
			for _, s := range m {
				p := int64(1)
				for _, d := range s {
					p *= int64(d)
				}
				n += p
			}
			return n
		}
		total, act, mtp := ParamCount(c)
		if got := sum(WeightShapes(c)); got != total {
			t.Errorf("total %d, shapes sum to %d", total, got)
		}
		if got := sum(MTPWeightShapes(c)); got != mtp {
			t.Errorf("mtp %d, shapes sum to %d", mtp, got)
		}
		moeLayers := int64(c.NLayers - c.NDenseLayers)
		inactive := moeLayers * int64(c.NRoutedExperts-c.NActivated) * 3 * int64(c.Dim) * int64(c.MoEInterDim)
		if total-act != inactive {
			t.Errorf("total − activated = %d, want %d", total-act, inactive)
		}
	}
}

// tinyV3 has every V3 feature: q LoRA, dense and MoE layers, sigmoid routing
// with bias and group limitation, shared experts, YaRN with a real ramp, MTP.
func tinyV3() Config {
	return Config{
		Vocab: 11, Dim: 8, InterDim: 12, MoEInterDim: 4, NLayers: 2, NDenseLayers: 1, NHeads: 2,
		QLoraRank: 6, KVLoraRank: 5, QKNopeDim: 4, QKRopeDim: 6, VDim: 3,
		NRoutedExperts: 8, NSharedExperts: 2, NActivated: 3, NGroups: 4, NLimitedGroups: 2,
		RouteScale: 2.5, ScoreFunc: "sigmoid", MTPDepth: 2, Eps: 1e-6, RopeTheta: 10000,
		Yarn: &Yarn{Factor: 40, OrigMaxPos: 64, BetaFast: 32, BetaSlow: 1, MScale: 1, MScaleAllDim: 1},
	}
}

// tinyV2 is V2-Lite-like: plain q_proj, softmax routing without bias, no YaRN.
func tinyV2() Config {
	return Config{
		Vocab: 13, Dim: 6, InterDim: 10, MoEInterDim: 3, NLayers: 2, NDenseLayers: 1, NHeads: 3,
		KVLoraRank: 4, QKNopeDim: 2, QKRopeDim: 4, VDim: 2,
		NRoutedExperts: 6, NSharedExperts: 1, NActivated: 2, NGroups: 1, NLimitedGroups: 1,
		RouteScale: 1, ScoreFunc: "softmax", MTPDepth: 1, Eps: 1e-6, RopeTheta: 10000,
	}
}

func randomWeights(c Config, seed uint64) Weights {
	r := rand.New(rand.NewPCG(seed, 1))
	w := Weights{}
	fill := func(m map[string][]int) {
		// Sorted names: the same seed always gives the same weights.
		for _, name := range slices.Sorted(maps.Keys(m)) {
			shape := m[name]
			d := make([]float64, product(shape))
			for i := range d {
				if len(shape) == 1 && !strings.HasSuffix(name, "bias") {
					d[i] = 1 + 0.2*r.NormFloat64() // norm weights
				} else {
					d[i] = 0.5 * r.NormFloat64()
				}
			}
			w[name] = &Tensor{Shape: shape, Data: d}
		}
	}
	fill(WeightShapes(c))
	fill(MTPWeightShapes(c))
	return w
}

// packed is one sequence of a pack.
type packed struct{ tokens []int }

func pack(seqs []packed, ids []int) (tokens, pos, seq []int) {
	for i, s := range seqs {
		for p, tok := range s.tokens {
			tokens = append(tokens, tok)
			pos = append(pos, p)
			seq = append(seq, ids[i])
		}
	}
	return
}

type result struct {
	logits, hidden [][]float64
	mtp            [][][]float64
}

func run(t *testing.T, c Config, w Weights, tokens, pos, seq []int) result {
	t.Helper()
	logits, hidden, err := Forward(c, w, tokens, pos, seq)
	if err != nil {
		t.Fatal(err)
	}
	mtp, err := MTP(c, w, hidden, tokens, pos, seq)
	if err != nil {
		t.Fatal(err)
	}
	for _, rows := range append([][][]float64{logits, hidden}, mtp...) {
		for _, row := range rows {
			for _, v := range row {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					t.Fatalf("non-finite output %g", v)
				}
			}
		}
	}
	return result{logits, hidden, mtp}
}

// rows returns the rows [from, to) of every output.
func (r result) rows(from, to int) result {
	out := result{logits: r.logits[from:to], hidden: r.hidden[from:to]}
	for _, m := range r.mtp {
		out.mtp = append(out.mtp, m[from:to])
	}
	return out
}

func sameResult(t *testing.T, what string, got, want result) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: outputs differ", what)
	}
}

func TestPackInvariances(t *testing.T) {
	for name, c := range map[string]Config{"v3": tinyV3(), "v2": tinyV2()} {
		t.Run(name, func(t *testing.T) {
			w := randomWeights(c, 7)
			A := packed{[]int{3, 1, 4, 1, 5}}
			B := packed{[]int{9, 2, 6}}
			C := packed{[]int{5, 3, 5, 8}}

			tokens, pos, seq := pack([]packed{A, B, C}, []int{0, 1, 2})
			abc := run(t, c, w, tokens, pos, seq)

			// Permuting whole sequences (and their ids) permutes the outputs.
			tokens, pos, seq = pack([]packed{C, A, B}, []int{7, 0, 3})
			cab := run(t, c, w, tokens, pos, seq)
			sameResult(t, "A in CAB", cab.rows(4, 9), abc.rows(0, 5))
			sameResult(t, "B in CAB", cab.rows(9, 12), abc.rows(5, 8))
			sameResult(t, "C in CAB", cab.rows(0, 4), abc.rows(8, 12))

			// A sequence alone gives what it gives in the pack.
			tokens, pos, seq = pack([]packed{A}, []int{0})
			sameResult(t, "A alone", run(t, c, w, tokens, pos, seq), abc.rows(0, 5))
			tokens, pos, seq = pack([]packed{B}, []int{5})
			sameResult(t, "B alone", run(t, c, w, tokens, pos, seq), abc.rows(5, 8))

			// Changing the other sequences changes nothing in A, even the MTP
			// rows at A's end whose next token is past A's end.
			B2 := packed{[]int{0, 10, 7}}
			tokens, pos, seq = pack([]packed{A, B2}, []int{0, 1})
			sameResult(t, "A beside B2", run(t, c, w, tokens, pos, seq).rows(0, 5), abc.rows(0, 5))

			// Two sequences sharing nothing but their positions: if they
			// could see each other, swapping B's tokens would move A.
			if reflect.DeepEqual(abc.rows(5, 8), run(t, c, w, tokens, pos, seq).rows(5, 8)) {
				t.Fatal("B2 gave the same outputs as B: the test model is degenerate")
			}
		})
	}
}

func TestCausality(t *testing.T) {
	c := tinyV3()
	w := randomWeights(c, 3)
	base := run(t, c, w, []int{3, 1, 4, 1, 5}, []int{0, 1, 2, 3, 4}, []int{0, 0, 0, 0, 0})
	late := run(t, c, w, []int{3, 1, 4, 9, 5}, []int{0, 1, 2, 3, 4}, []int{0, 0, 0, 0, 0})
	// Token 3 changed: the main outputs of tokens 0..2 do not move, nor does
	// MTP depth k at t when t+k+1 < 3 (depth 0 at t ≤ 1, depth 1 at t = 0).
	sameResult(t, "main rows 0..2", result{logits: late.logits[:3], hidden: late.hidden[:3]},
		result{logits: base.logits[:3], hidden: base.hidden[:3]})
	if !reflect.DeepEqual(late.mtp[0][:2], base.mtp[0][:2]) || !reflect.DeepEqual(late.mtp[1][:1], base.mtp[1][:1]) {
		t.Fatal("MTP rows before the changed token moved")
	}
	// MTP depth 0 at t = 2 reads token 3 directly.
	if reflect.DeepEqual(late.mtp[0][2], base.mtp[0][2]) {
		t.Fatal("MTP depth 0 at t = 2 does not read token 3")
	}
	if reflect.DeepEqual(late.logits[3], base.logits[3]) {
		t.Fatal("changing token 3 did not change its logits")
	}
}

// The MTP input past a sequence's end is token id 0.
func TestMTPPastEndIsTokenZero(t *testing.T) {
	c := tinyV3()
	c.MTPDepth = 1
	w := randomWeights(c, 5)
	tokens, pos, seq := []int{3, 1, 4}, []int{0, 1, 2}, []int{0, 0, 0}
	res := run(t, c, w, tokens, pos, seq)
	// Recompute the last row with token 0 appended as its "next" token in
	// a sequence of length 4: the hidden states of the first three tokens
	// do not depend on the fourth, and row 2 of MTP then reads token 0.
	ext := run(t, c, w, []int{3, 1, 4, 0}, []int{0, 1, 2, 3}, []int{0, 0, 0, 0})
	if !reflect.DeepEqual(res.mtp[0][2], ext.mtp[0][2]) {
		t.Fatal("MTP past the end is not token 0")
	}
}

// With no layers the model is RMSNorm(embedding) · headᵀ.
func TestForwardNoLayers(t *testing.T) {
	c := Config{Vocab: 2, Dim: 2, NHeads: 1, KVLoraRank: 1, QKRopeDim: 2, VDim: 1, Eps: 0, RopeTheta: 10000}
	w := Weights{
		"model.embed_tokens.weight": {Shape: []int{2, 2}, Data: []float64{3, 4, 1, 0}},
		"model.norm.weight":         {Shape: []int{2}, Data: []float64{1, 2}},
		"lm_head.weight":            {Shape: []int{2, 2}, Data: []float64{1, 0, 1, 1}},
	}
	logits, hidden, err := Forward(c, w, []int{0, 1}, []int{0, 1}, []int{0, 0})
	if err != nil {
		t.Fatal(err)
	}
	// Token 0: (3, 4)/(5/√2) · (1, 2) = (0.6√2, 1.6√2); head rows (1,0), (1,1).
	wantNear(t, "logits 0", logits[0], []float64{0.6 * math.Sqrt2, 2.2 * math.Sqrt2}, 1e-15)
	// Token 1: (1, 0)/(1/√2) · (1, 2) = (√2, 0).
	wantNear(t, "logits 1", logits[1], []float64{math.Sqrt2, math.Sqrt2}, 1e-15)
	wantNear(t, "hidden 0", hidden[0], []float64{3, 4}, 0)
}

// One dense layer with all-zero attention and MLP output weights is the
// identity on the residual stream.
func TestZeroLayerIsResidual(t *testing.T) {
	c := tinyV2()
	c.NLayers, c.NDenseLayers, c.MTPDepth = 1, 1, 0
	w := randomWeights(c, 11)
	for _, n := range []string{"model.layers.0.self_attn.o_proj.weight", "model.layers.0.mlp.down_proj.weight"} {
		for i := range w[n].Data {
			w[n].Data[i] = 0
		}
	}
	_, hidden, err := Forward(c, w, []int{4, 2}, []int{0, 1}, []int{0, 0})
	if err != nil {
		t.Fatal(err)
	}
	e := w["model.embed_tokens.weight"].Data
	wantNear(t, "hidden", hidden[1], e[2*c.Dim:3*c.Dim], 0)
}

func TestMissingAndMisshapenWeights(t *testing.T) {
	c := tinyV3()
	tokens, pos, seq := []int{1, 2}, []int{0, 1}, []int{0, 0}
	for _, name := range []string{
		"model.layers.1.mlp.experts.7.down_proj.weight",
		"model.layers.1.mlp.gate.e_score_correction_bias",
		"model.layers.0.self_attn.q_a_layernorm.weight",
		"lm_head.weight",
	} {
		w := randomWeights(c, 1)
		delete(w, name)
		if _, _, err := Forward(c, w, tokens, pos, seq); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("without %s: error %v", name, err)
		}
	}
	w := randomWeights(c, 1)
	w["model.layers.0.mlp.up_proj.weight"].Shape = []int{8, 12}
	if _, _, err := Forward(c, w, tokens, pos, seq); err == nil || !strings.Contains(err.Error(), "model.layers.0.mlp.up_proj.weight") {
		t.Errorf("transposed up_proj: error %v", err)
	}
	w = randomWeights(c, 1)
	_, hidden, err := Forward(c, w, tokens, pos, seq)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"model.layers.3.shared_head.norm.weight", "model.layers.2.eh_proj.weight", "model.layers.3.mlp.gate.weight"} {
		w := randomWeights(c, 1)
		delete(w, name)
		if _, err := MTP(c, w, hidden, tokens, pos, seq); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("MTP without %s: error %v", name, err)
		}
	}
	if _, _, err := Forward(c, w, []int{1, 11}, pos, seq); err == nil || !strings.Contains(err.Error(), "vocabulary") {
		t.Errorf("token out of range: error %v", err)
	}
	if _, _, err := Forward(c, w, tokens, pos[:1], seq); err == nil {
		t.Error("length mismatch accepted")
	}
}

// The softmax case takes an e_score_correction_bias when one is given.
func TestSoftmaxBiasOptional(t *testing.T) {
	c := tinyV2()
	c.NGroups, c.NLimitedGroups = 3, 1
	w := randomWeights(c, 2)
	tokens, pos, seq := []int{1, 2, 3}, []int{0, 1, 2}, []int{0, 0, 0}
	plain := run(t, c, w, tokens, pos, seq)
	w["model.layers.1.mlp.gate.e_score_correction_bias"] = &Tensor{Shape: []int{6}, Data: []float64{-5, -5, 0, 0, 0, 5}}
	biased := run(t, c, w, tokens, pos, seq)
	if reflect.DeepEqual(plain.logits, biased.logits) {
		t.Fatal("bias ignored")
	}
	w["model.layers.1.mlp.gate.e_score_correction_bias"].Shape = []int{3, 2}
	if _, _, err := Forward(c, w, tokens, pos, seq); err == nil || !strings.Contains(err.Error(), "e_score_correction_bias") {
		t.Fatalf("misshapen bias: %v", err)
	}
}
