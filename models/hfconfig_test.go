package models

import (
	"slices"
	"strings"
	"testing"

	"github.com/deepc-dev/deepc/dsl"
	"github.com/deepc-dev/deepc/ir"
)

// v3Config is DeepSeek-V3's config.json in the shape Hugging Face
// publishes it (docs/model.md §1 values), including keys deepc ignores.
const v3Config = `{
  "architectures": ["DeepseekV3ForCausalLM"],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "auto_map": {
    "AutoConfig": "configuration_deepseek.DeepseekV3Config",
    "AutoModel": "modeling_deepseek.DeepseekV3Model",
    "AutoModelForCausalLM": "modeling_deepseek.DeepseekV3ForCausalLM"
  },
  "aux_loss_alpha": 0.001,
  "bos_token_id": 0,
  "eos_token_id": 1,
  "ep_size": 1,
  "first_k_dense_replace": 3,
  "hidden_act": "silu",
  "hidden_size": 7168,
  "initializer_range": 0.02,
  "intermediate_size": 18432,
  "kv_lora_rank": 512,
  "max_position_embeddings": 163840,
  "model_type": "deepseek_v3",
  "moe_intermediate_size": 2048,
  "moe_layer_freq": 1,
  "n_group": 8,
  "n_routed_experts": 256,
  "n_shared_experts": 1,
  "norm_topk_prob": true,
  "num_attention_heads": 128,
  "num_experts_per_tok": 8,
  "num_hidden_layers": 61,
  "num_key_value_heads": 128,
  "num_nextn_predict_layers": 1,
  "q_lora_rank": 1536,
  "qk_nope_head_dim": 128,
  "qk_rope_head_dim": 64,
  "quantization_config": {
    "activation_scheme": "dynamic",
    "fmt": "e4m3",
    "quant_method": "fp8",
    "weight_block_size": [128, 128]
  },
  "rms_norm_eps": 1e-06,
  "rope_scaling": {
    "beta_fast": 32,
    "beta_slow": 1,
    "factor": 40,
    "mscale": 1.0,
    "mscale_all_dim": 1.0,
    "original_max_position_embeddings": 4096,
    "type": "yarn"
  },
  "rope_theta": 10000,
  "routed_scaling_factor": 2.5,
  "scoring_func": "sigmoid",
  "seq_aux": true,
  "tie_word_embeddings": false,
  "topk_group": 4,
  "topk_method": "noaux_tc",
  "torch_dtype": "bfloat16",
  "transformers_version": "4.33.1",
  "use_cache": true,
  "v_head_dim": 128,
  "vocab_size": 129280
}`

func compile(t *testing.T, path string, sets []string) *ir.Module {
	t.Helper()
	m, err := dsl.CompileFile(path, dsl.Options{Sets: sets})
	if err != nil {
		t.Fatalf("compile %s with %q: %v", path, sets, err)
	}
	return m
}

// v3Contract is deepseek_v3.deep's checkpoint contract.
func v3Contract(t testing.TB) *Contract {
	t.Helper()
	m, err := dsl.CompileFile("deepseek_v3.deep", dsl.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := ContractOf(m)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// readV3 reads a config.json as forward does: its sets on deepseek_v3.deep,
// then the contract's fixed keys checked on the compiled model.
func readV3(data []byte) ([]string, error) {
	sets, err := SetsFromHFConfig("deepseek_v3.deep", data)
	if err != nil {
		return nil, err
	}
	m, err := dsl.CompileFile("deepseek_v3.deep", dsl.Options{Sets: sets})
	if err != nil {
		return nil, err
	}
	return sets, Check(m, data)
}

func TestSetsFromHFConfigV3(t *testing.T) {
	sets, err := readV3([]byte(v3Config))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"vocab_size=129280", "dim=7168", "inter_dim=18432", "moe_inter_dim=2048", "n_layers=61",
		"n_dense_layers=3", "n_heads=128", "q_lora_rank=1536", "kv_lora_rank=512",
		"qk_nope_head_dim=128", "qk_rope_head_dim=64", "v_head_dim=128", "n_routed_experts=256",
		"n_shared_experts=1", "n_activated_experts=8", "n_expert_groups=8", "n_limited_groups=4",
		"route_scale=2.5", `score_func="sigmoid"`, "mtp_depth=1", "rms_norm_eps=1e-06",
		"rope_theta=10000.0",
		`rope_scaling={type = "yarn", factor = 40.0, original_max_position_embeddings = 4096, beta_fast = 32.0, beta_slow = 1.0, mscale = 1.0, mscale_all_dim = 1.0}`,
		"weight_dtype=f8e4m3", "weight_quant=block(128, 128)",
	}
	slices.Sort(want)
	if !slices.Equal(sets, want) {
		t.Errorf("sets:\n%s\nwant:\n%s", strings.Join(sets, "\n"), strings.Join(want, "\n"))
	}
	// Every DSL key of the table is set by the full config.
	if n := len(v3Contract(t).Map); len(sets) != n+2 {
		t.Errorf("%d sets for %d keys", len(sets), n)
	}
	with := ir.Print(compile(t, "deepseek_v3.deep", sets))
	without := ir.Print(compile(t, "deepseek_v3.deep", nil))
	if with != without {
		t.Error("deepseek_v3.deep with the sets of V3's config.json differs from its defaults")
	}
}

// TestHFConfigJSONRoundTrip writes the tiny model's config.json and reads
// it back onto deepseek_v3.deep: the same model (but for its name).
func TestHFConfigJSONRoundTrip(t *testing.T) {
	for _, extra := range [][]string{
		nil,
		{"weight_dtype=bf16", "weight_quant=none"},
		{"rope_scaling=none", "q_lora_rank=0", "mtp_depth=0", `score_func="softmax"`},
	} {
		tiny := compile(t, "deepseek_v3_tiny.deep", extra)
		data, err := HFConfigJSON(tiny)
		if err != nil {
			t.Fatal(err)
		}
		sets, err := readV3(data)
		if err != nil {
			t.Fatalf("%v\n%s", err, data)
		}
		got := compile(t, "deepseek_v3.deep", sets)
		got.Name = tiny.Name
		if ir.Print(got) != ir.Print(tiny) {
			t.Errorf("with %q: config.json\n%s\ndoes not give the same module", extra, data)
		}
		again, _ := HFConfigJSON(tiny)
		if string(again) != string(data) {
			t.Error("HFConfigJSON is not deterministic")
		}
	}
	bad := compile(t, "deepseek_v3_tiny.deep", []string{"weight_dtype=f16", "weight_quant=none"})
	if _, err := HFConfigJSON(bad); err == nil {
		t.Error("f16 weights written to config.json")
	}
}

func edit(t *testing.T, config string, pairs ...string) []byte {
	t.Helper()
	for i := 0; i < len(pairs); i += 2 {
		if !strings.Contains(config, pairs[i]) {
			t.Fatalf("config has no %q", pairs[i])
		}
		config = strings.Replace(config, pairs[i], pairs[i+1], 1)
	}
	return []byte(config)
}

func TestHFConfigVariants(t *testing.T) {
	// V2-Lite-like choices: no q compression, no MTP, no YaRN, bf16 weights.
	data := edit(t, v3Config,
		`"q_lora_rank": 1536`, `"q_lora_rank": null`,
		`"num_nextn_predict_layers": 1`, `"num_nextn_predict_layers": 0`,
		`"rope_scaling": {`, `"rope_scaling": null, "x": {`,
		`"quantization_config": {`, `"not_quantization": {`,
		`"num_hidden_layers": 61`, `"num_hidden_layers": 4`,
	)
	sets, err := readV3(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"q_lora_rank=0", "mtp_depth=0", "rope_scaling=none", "weight_dtype=bf16", "weight_quant=none"} {
		if !slices.Contains(sets, s) {
			t.Errorf("sets lack %s: %q", s, sets)
		}
	}
	m := compile(t, "deepseek_v3.deep", sets)
	if m.Func("mtp") != nil || m.Param("model.layers.0.self_attn.q_proj.weight") == nil {
		t.Error("mtp_depth 0 / q_lora_rank 0 not applied")
	}
	if p := m.Param("model.layers.0.self_attn.o_proj.weight"); p.Type.DType != ir.BF16 || p.Attrs["quant"] != nil {
		t.Errorf("o_proj: %s %v", p.Type.DType, p.Attrs)
	}
	// An absent rope_scaling is none; absent model keys keep the defaults;
	// rope_type stands for type; partial yarn fields take the defaults;
	// integral floats are integers.
	data = []byte(`{"hidden_size": 7168.0, "rope_scaling": {"rope_type": "yarn", "factor": 8, "original_max_position_embeddings": 2048}}`)
	sets, err = readV3(data)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"dim=7168", `rope_scaling={type = "yarn", factor = 8.0, original_max_position_embeddings = 2048, beta_fast = 32.0, beta_slow = 1.0, mscale = 1.0, mscale_all_dim = 0.0}`, "weight_dtype=bf16", "weight_quant=none"}
	if !slices.Equal(sets, want) {
		t.Errorf("sets %q\nwant %q", sets, want)
	}
	if sets, _ := readV3([]byte(`{}`)); !slices.Contains(sets, "rope_scaling=none") {
		t.Errorf("absent rope_scaling: %q", sets)
	}
	compile(t, "deepseek_v3.deep", sets)
}

func TestHFConfigErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"not json", []byte(`{"hidden_size":`), "config.json"},
		{"not an object", []byte(`[1]`), "config.json"},
		{"fractional int", edit(t, v3Config, `"hidden_size": 7168`, `"hidden_size": 7168.5`), "hidden_size must be an integer"},
		{"string int", edit(t, v3Config, `"hidden_size": 7168`, `"hidden_size": "7168"`), "hidden_size must be an integer"},
		{"negative int", edit(t, v3Config, `"hidden_size": 7168`, `"hidden_size": -1`), "hidden_size is -1"},
		{"null int", edit(t, v3Config, `"hidden_size": 7168`, `"hidden_size": null`), "hidden_size is null"},
		{"string float", edit(t, v3Config, `"rope_theta": 10000`, `"rope_theta": "1e4"`), "rope_theta must be a number"},
		{"number string", edit(t, v3Config, `"scoring_func": "sigmoid"`, `"scoring_func": 1`), "scoring_func must be a string"},
		{"gelu", edit(t, v3Config, `"hidden_act": "silu"`, `"hidden_act": "gelu"`), "hidden_act"},
		{"tied", edit(t, v3Config, `"tie_word_embeddings": false`, `"tie_word_embeddings": true`), "tie_word_embeddings"},
		{"moe freq", edit(t, v3Config, `"moe_layer_freq": 1`, `"moe_layer_freq": 2`), "moe_layer_freq"},
		{"norm_topk_prob", edit(t, v3Config, `"norm_topk_prob": true`, `"norm_topk_prob": false`), "norm_topk_prob"},
		{"longrope", edit(t, v3Config, `"type": "yarn"`, `"type": "longrope"`), `rope_scaling type "longrope" is not supported`},
		{"linear rope with yarn fields", edit(t, v3Config, `"type": "yarn"`, `"type": "linear"`), "rope_scaling (linear) has fields deepc does not model: beta_fast"},
		{"other architecture", edit(t, v3Config, `["DeepseekV3ForCausalLM"]`, `["LlamaForCausalLM"]`), "models/llama3.deep reads LlamaForCausalLM"},
		{"rope type clash", edit(t, v3Config, `"type": "yarn"`, `"type": "yarn", "rope_type": "dynamic"`), "rope_type"},
		{"rope extra field", edit(t, v3Config, `"beta_fast": 32,`, `"beta_fast": 32, "low_freq_factor": 1,`), "low_freq_factor"},
		{"rope no factor", edit(t, v3Config, `"factor": 40,`, ``), "rope_scaling.factor is missing"},
		{"int8", edit(t, v3Config, `"quant_method": "fp8"`, `"quant_method": "bitsandbytes"`), "quant_method"},
		{"e5m2", edit(t, v3Config, `"fmt": "e4m3"`, `"fmt": "e5m2"`), "fmt"},
		{"static", edit(t, v3Config, `"activation_scheme": "dynamic"`, `"activation_scheme": "static"`), "activation_scheme"},
		{"block", edit(t, v3Config, `"weight_block_size": [128, 128]`, `"weight_block_size": [128]`), "weight_block_size"},
		{"no block", edit(t, v3Config, `"weight_block_size": [128, 128]`, `"x": 0`), "weight_block_size is missing"},
		// Semantic checks (issue 15: these loaded and gave all-NaN logits).
		{"rope_theta 0", edit(t, v3Config, `"rope_theta": 10000`, `"rope_theta": 0`), "rope_theta is 0, outside (0"},
		{"rope_theta -1", edit(t, v3Config, `"rope_theta": 10000`, `"rope_theta": -1`), "rope_theta is -1"},
		{"rms_norm_eps -1", edit(t, v3Config, `"rms_norm_eps": 1e-06`, `"rms_norm_eps": -1`), "rms_norm_eps is -1"},
		{"rms_norm_eps 0", edit(t, v3Config, `"rms_norm_eps": 1e-06`, `"rms_norm_eps": 0`), "rms_norm_eps is 0"},
		{"route scale 0", edit(t, v3Config, `"routed_scaling_factor": 2.5`, `"routed_scaling_factor": 0`), "routed_scaling_factor"},
		{"yarn factor 0", edit(t, v3Config, `"factor": 40,`, `"factor": 0,`), "rope_scaling.factor is 0"},
		{"yarn betas", edit(t, v3Config, `"beta_slow": 1,`, `"beta_slow": 64,`), "beta_fast 32 is less than beta_slow 64"},
		{"mscale < 0", edit(t, v3Config, `"mscale": 1.0,`, `"mscale": -1.0,`), "rope_scaling.mscale is -1"},
		{"top-k > experts", edit(t, v3Config, `"num_experts_per_tok": 8`, `"num_experts_per_tok": 300`), "num_experts_per_tok 300 is more than n_routed_experts 256"},
		{"groups", edit(t, v3Config, `"n_group": 8`, `"n_group": 7`), "n_group 7 does not divide"},
		{"topk_group", edit(t, v3Config, `"topk_group": 4`, `"topk_group": 9`), "topk_group 9 is more than n_group 8"},
		{"dense layers", edit(t, v3Config, `"first_k_dense_replace": 3`, `"first_k_dense_replace": 62`), "first_k_dense_replace 62 is more than num_hidden_layers 61"},
		{"odd rope dim", edit(t, v3Config, `"qk_rope_head_dim": 64`, `"qk_rope_head_dim": 63`), "qk_rope_head_dim 63 is odd"},
		{"2^62 layers", edit(t, v3Config, `"num_hidden_layers": 61`, `"num_hidden_layers": 4611686018427387904`), "num_hidden_layers is 4.6"},
		{"huge vocab", edit(t, v3Config, `"vocab_size": 129280`, `"vocab_size": 2000000000`), "vocab_size is 2e+09"},
		{"10^6 mtp", edit(t, v3Config, `"num_nextn_predict_layers": 1`, `"num_nextn_predict_layers": 1000000`), "num_nextn_predict_layers is 1e+06"},
		{"0 layers", edit(t, v3Config, `"num_hidden_layers": 61`, `"num_hidden_layers": 0`), "num_hidden_layers is 0"},
		{"0 heads", edit(t, v3Config, `"num_attention_heads": 128`, `"num_attention_heads": 0`), "num_attention_heads is 0"},
		{"huge max positions", edit(t, v3Config, `"max_position_embeddings": 163840`, `"max_position_embeddings": 1e300`), "max_position_embeddings"},
	} {
		_, err := readV3(c.data)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
}
