package models

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/deepc-dev/deepc/ir"
)

// Reading a Hugging Face DeepSeek-V3 config.json as DSL config overrides
// for models/deepseek_v3.deep (docs/model.md §1).

// HFKind says how a config.json value becomes a DSL expression.
type HFKind int

const (
	HFInt         HFKind = iota + 1 // an integer
	HFIntOrNull                     // an integer; null means 0 (q_lora_rank: no q compression)
	HFFloat                         // a number, written with a decimal point or exponent
	HFString                        // a string
	HFRopeScaling                   // a yarn struct {type = "yarn", ...}; null means none
)

// HFKey maps one config.json key to a DSL config key.
type HFKey struct {
	HF, DSL string
	Kind    HFKind
}

// HFConfigKeys is the mapping, in the DSL file's order. A key absent from
// config.json sets nothing: the DSL's default is the 671B value, which is
// also transformers' DeepseekV3Config default. Two exceptions follow
// DeepseekV3Config too: an absent rope_scaling is none, and an absent
// quantization_config means unquantized bf16 weights (weight_dtype = bf16,
// weight_quant = none); a quantization_config {quant_method: "fp8", fmt:
// "e4m3", weight_block_size: [a, b]} gives weight_dtype = f8e4m3,
// weight_quant = block(a, b).
var HFConfigKeys = []HFKey{
	{"vocab_size", "vocab_size", HFInt},
	{"hidden_size", "dim", HFInt},
	{"intermediate_size", "inter_dim", HFInt},
	{"moe_intermediate_size", "moe_inter_dim", HFInt},
	{"num_hidden_layers", "n_layers", HFInt},
	{"first_k_dense_replace", "n_dense_layers", HFInt},
	{"num_attention_heads", "n_heads", HFInt},
	{"q_lora_rank", "q_lora_rank", HFIntOrNull},
	{"kv_lora_rank", "kv_lora_rank", HFInt},
	{"qk_nope_head_dim", "qk_nope_head_dim", HFInt},
	{"qk_rope_head_dim", "qk_rope_head_dim", HFInt},
	{"v_head_dim", "v_head_dim", HFInt},
	{"n_routed_experts", "n_routed_experts", HFInt},
	{"n_shared_experts", "n_shared_experts", HFInt},
	{"num_experts_per_tok", "n_activated_experts", HFInt},
	{"n_group", "n_expert_groups", HFInt},
	{"topk_group", "n_limited_groups", HFInt},
	{"routed_scaling_factor", "route_scale", HFFloat},
	{"scoring_func", "score_func", HFString},
	{"num_nextn_predict_layers", "mtp_depth", HFInt},
	{"rms_norm_eps", "rms_norm_eps", HFFloat},
	{"rope_theta", "rope_theta", HFFloat},
	{"rope_scaling", "rope_scaling", HFRopeScaling},
}

// HFRopeScalingFields are the fields of rope_scaling (same names in both),
// in the DSL's order, with the defaults of DeepSeek's YaRN code for absent
// ones (NaN: required). "rope_type" is accepted for "type".
var HFRopeScalingFields = []struct {
	Name    string
	Kind    HFKind
	Default float64
}{
	{"type", HFString, math.NaN()},
	{"factor", HFFloat, math.NaN()},
	{"original_max_position_embeddings", HFInt, 4096},
	{"beta_fast", HFFloat, 32},
	{"beta_slow", HFFloat, 1},
	{"mscale", HFFloat, 1},
	{"mscale_all_dim", HFFloat, 0},
}

// SetsFromHFConfig reads a DeepSeek-V3 config.json and returns the DSL
// overrides ("key=value", values as DSL expressions) that make
// models/deepseek_v3.deep that model. Keys deepc does not model (token ids,
// max_position_embeddings, torch_dtype, ...) are ignored; settings it
// cannot express (another activation, tied embeddings, MoE every k-th
// layer, top-k normalisation that disagrees with the scoring function,
// non-yarn rope scaling, non-fp8 quantization) are errors naming the key.
func SetsFromHFConfig(data []byte) ([]string, error) {
	hs, err := HFConfigSets(data)
	var sets []string
	for _, h := range hs {
		sets = append(sets, h.Set)
	}
	return sets, err
}

// HFSet is one override from a config.json. Absent marks a value that
// stands for a key the file lacks (an absent rope_scaling means none): a
// model without that config key takes nothing from it, where a key the
// file does set must exist in the model.
type HFSet struct {
	Set    string
	Absent bool
}

// HFConfigSets is SetsFromHFConfig, saying which overrides stand for keys
// the file lacks.
func HFConfigSets(data []byte) ([]HFSet, error) {
	cfg, err := decodeConfig(data, "config.json")
	if err != nil {
		return nil, err
	}
	var sets []HFSet
	for _, k := range HFConfigKeys {
		raw, ok := cfg[k.HF]
		if !ok {
			if k.Kind == HFRopeScaling {
				sets = append(sets, HFSet{Set: k.DSL + "=none", Absent: true})
			}
			continue
		}
		v, err := hfValue(k.HF, k.Kind, raw)
		if err != nil {
			return nil, err
		}
		sets = append(sets, HFSet{Set: k.DSL + "=" + v})
	}
	q, err := quantSets(cfg["quantization_config"])
	if err != nil {
		return nil, err
	}
	for _, s := range q {
		_, hasQuant := cfg["quantization_config"]
		sets = append(sets, HFSet{Set: s, Absent: !hasQuant})
	}
	if err := checkUnsupported(cfg); err != nil {
		return nil, err
	}
	if err := checkSemantics(cfg); err != nil {
		return nil, err
	}
	return sets, nil
}

// decodeConfig parses a JSON object keeping numbers exact.
func decodeConfig(data []byte, what string) (map[string]json.RawMessage, error) {
	var cfg map[string]json.RawMessage
	d := json.NewDecoder(bytes.NewReader(data))
	if err := d.Decode(&cfg); err != nil {
		return nil, fmt.Errorf("%s: %v", what, err)
	}
	if cfg == nil {
		return nil, fmt.Errorf("%s: not a JSON object", what)
	}
	if d.More() {
		return nil, fmt.Errorf("%s: data after the JSON object", what)
	}
	return cfg, nil
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// hfValue converts one value to a DSL expression.
func hfValue(key string, kind HFKind, raw json.RawMessage) (string, error) {
	if isNull(raw) {
		switch kind {
		case HFIntOrNull:
			return "0", nil
		case HFRopeScaling:
			return "none", nil
		}
		return "", fmt.Errorf("config.json: %s is null", key)
	}
	switch kind {
	case HFInt, HFIntOrNull:
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil || bytes.TrimSpace(raw)[0] == '"' {
			return "", fmt.Errorf("config.json: %s must be an integer, got %s", key, raw)
		}
		i, err := strconv.ParseInt(n.String(), 10, 64)
		if err != nil {
			// 7168.0 is an integer too.
			f, ferr := n.Float64()
			if ferr != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
				return "", fmt.Errorf("config.json: %s must be an integer, got %s", key, raw)
			}
			i = int64(f)
		}
		if i < 0 {
			return "", fmt.Errorf("config.json: %s must not be negative, got %d", key, i)
		}
		return strconv.FormatInt(i, 10), nil
	case HFFloat:
		var f float64
		if err := json.Unmarshal(raw, &f); err != nil {
			return "", fmt.Errorf("config.json: %s must be a number, got %s", key, raw)
		}
		return dslFloat(f), nil
	case HFString:
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", fmt.Errorf("config.json: %s must be a string, got %s", key, raw)
		}
		return strconv.Quote(s), nil
	case HFRopeScaling:
		return ropeScaling(raw)
	}
	return "", fmt.Errorf("config.json: %s: unknown kind %d", key, kind)
}

// dslFloat writes f so that the DSL reads a float: "10000.0", "1e-06", "2.5".
func dslFloat(f float64) string {
	s := strconv.FormatFloat(math.Abs(f), 'g', -1, 64)
	if !strings.ContainsAny(s, ".e") {
		s += ".0"
	}
	if f < 0 || (f == 0 && math.Signbit(f)) {
		s = "-" + s
	}
	return s
}

func ropeScaling(raw json.RawMessage) (string, error) {
	rs, err := decodeConfig(raw, "config.json: rope_scaling")
	if err != nil {
		return "", err
	}
	if rt, ok := rs["rope_type"]; ok {
		if t, ok := rs["type"]; ok && !bytes.Equal(bytes.TrimSpace(t), bytes.TrimSpace(rt)) {
			return "", fmt.Errorf("config.json: rope_scaling has type %s and rope_type %s", t, rt)
		}
		rs["type"] = rt
		delete(rs, "rope_type")
	}
	var parts []string
	for _, f := range HFRopeScalingFields {
		key := "rope_scaling." + f.Name
		raw, ok := rs[f.Name]
		delete(rs, f.Name)
		var v string
		switch {
		case ok:
			if v, err = hfValue(key, f.Kind, raw); err != nil {
				return "", err
			}
		case math.IsNaN(f.Default):
			return "", fmt.Errorf("config.json: %s is missing", key)
		case f.Kind == HFInt:
			v = strconv.FormatInt(int64(f.Default), 10)
		default:
			v = dslFloat(f.Default)
		}
		if f.Name == "type" && v != `"yarn"` {
			return "", fmt.Errorf("config.json: rope_scaling type %s is not supported (deepc models yarn only)", v)
		}
		parts = append(parts, f.Name+" = "+v)
	}
	if len(rs) > 0 {
		keys := make([]string, 0, len(rs))
		for k := range rs {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		return "", fmt.Errorf("config.json: rope_scaling has fields deepc does not model: %s", strings.Join(keys, ", "))
	}
	return "{" + strings.Join(parts, ", ") + "}", nil
}

func quantSets(raw json.RawMessage) ([]string, error) {
	if raw == nil || isNull(raw) {
		return []string{"weight_dtype=bf16", "weight_quant=none"}, nil
	}
	var q struct {
		QuantMethod      *string  `json:"quant_method"`
		Fmt              *string  `json:"fmt"`
		ActivationScheme *string  `json:"activation_scheme"`
		WeightBlockSize  *[]int64 `json:"weight_block_size"`
	}
	if err := json.Unmarshal(raw, &q); err != nil {
		return nil, fmt.Errorf("config.json: quantization_config: %v", err)
	}
	switch {
	case q.QuantMethod == nil || *q.QuantMethod != "fp8":
		return nil, fmt.Errorf("config.json: quantization_config.quant_method must be \"fp8\", got %s", strOrAbsent(q.QuantMethod))
	case q.Fmt != nil && *q.Fmt != "e4m3":
		return nil, fmt.Errorf("config.json: quantization_config.fmt must be \"e4m3\", got %q", *q.Fmt)
	case q.ActivationScheme != nil && *q.ActivationScheme != "dynamic":
		return nil, fmt.Errorf("config.json: quantization_config.activation_scheme must be \"dynamic\", got %q", *q.ActivationScheme)
	case q.WeightBlockSize == nil:
		return nil, fmt.Errorf("config.json: quantization_config.weight_block_size is missing")
	}
	b := *q.WeightBlockSize
	if len(b) != 2 || b[0] <= 0 || b[1] <= 0 {
		return nil, fmt.Errorf("config.json: quantization_config.weight_block_size must be two positive ints, got %v", b)
	}
	return []string{"weight_dtype=f8e4m3", fmt.Sprintf("weight_quant=block(%d, %d)", b[0], b[1])}, nil
}

func strOrAbsent(s *string) string {
	if s == nil {
		return "nothing"
	}
	return strconv.Quote(*s)
}

// checkUnsupported rejects settings the DSL model cannot express.
func checkUnsupported(cfg map[string]json.RawMessage) error {
	str := func(k string) (string, bool) {
		var s string
		raw, ok := cfg[k]
		return s, ok && json.Unmarshal(raw, &s) == nil
	}
	if act, ok := str("hidden_act"); ok && act != "silu" {
		return fmt.Errorf("config.json: hidden_act %q is not supported (DeepSeek-V3 uses silu)", act)
	}
	var tie bool
	if raw, ok := cfg["tie_word_embeddings"]; ok && json.Unmarshal(raw, &tie) == nil && tie {
		return fmt.Errorf("config.json: tie_word_embeddings true is not supported (DeepSeek-V3 has its own lm_head)")
	}
	var freq float64
	if raw, ok := cfg["moe_layer_freq"]; ok && json.Unmarshal(raw, &freq) == nil && freq != 1 {
		return fmt.Errorf("config.json: moe_layer_freq %g is not supported (every layer after first_k_dense_replace is MoE)", freq)
	}
	score := "sigmoid"
	if s, ok := str("scoring_func"); ok {
		score = s
	}
	var norm bool
	if raw, ok := cfg["norm_topk_prob"]; ok && json.Unmarshal(raw, &norm) == nil && norm != (score == "sigmoid") {
		return fmt.Errorf("config.json: norm_topk_prob %v with scoring_func %q is not supported (the model normalises top-k weights for sigmoid scores only)", norm, score)
	}
	return nil
}

// HFConfigJSON writes the config.json of a module compiled from
// models/deepseek_v3.deep (its config attributes under their Hugging Face
// names, plus quantization_config for block-quantized fp8 weights), such
// that SetsFromHFConfig of it compiles to the same module. Deterministic.
func HFConfigJSON(m *ir.Module) ([]byte, error) {
	cfg, ok := m.Attrs.Dict("config")
	if !ok {
		return nil, fmt.Errorf("module %s has no config attributes", m.Name)
	}
	out := map[string]any{
		"architectures":       []string{"DeepseekV3ForCausalLM"},
		"model_type":          "deepseek_v3",
		"hidden_act":          "silu",
		"tie_word_embeddings": false,
		"torch_dtype":         "bfloat16",
		"rope_scaling":        nil,
	}
	for _, k := range HFConfigKeys {
		v, ok := cfg[k.DSL]
		if !ok {
			continue // none
		}
		switch v := v.(type) {
		case int64, float64, string:
			out[k.HF] = v
		case ir.Attrs:
			rs := map[string]any{}
			for _, f := range HFRopeScalingFields {
				if fv, ok := v[f.Name]; ok {
					rs[f.Name] = fv
				}
			}
			out[k.HF] = rs
		default:
			return nil, fmt.Errorf("config %s: cannot write %T to config.json", k.DSL, v)
		}
	}
	score, _ := cfg.Str("score_func")
	out["norm_topk_prob"] = score == "sigmoid"
	if score == "sigmoid" {
		out["topk_method"] = "noaux_tc"
	} else {
		out["topk_method"] = "group_limited_greedy"
	}
	wd, _ := cfg["weight_dtype"].(ir.DType)
	wq, hasQuant := cfg.Ints("weight_quant")
	switch {
	case wd == ir.F8E4M3 && hasQuant && len(wq) == 2:
		out["quantization_config"] = map[string]any{
			"quant_method": "fp8", "fmt": "e4m3", "activation_scheme": "dynamic", "weight_block_size": wq,
		}
	case wd == ir.BF16 && !hasQuant:
	default:
		return nil, fmt.Errorf("config.json can say fp8 with block quantization or bf16 weights, not weight_dtype %s with weight_quant %v", wd, cfg["weight_quant"])
	}
	data, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}
