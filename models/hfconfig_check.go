package models

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
)

// Semantic checks of a config.json (docs/model.md §1 gives the meaning of
// each key). Types are checked by hfValue; these are the values a
// checkpoint may hold and still describe a model: rope_theta 0 or
// rms_norm_eps -1 parse, load and give all-NaN logits with exit 0
// otherwise. The upper bounds are far beyond any published model, so
// that an absurd size is refused here, by name, not after gigabytes of
// IR or weights.

// hfRange is the closed range a number must lie in; above is true when
// the lower bound itself is excluded (a positive quantity).
type hfRange struct {
	key      string
	min, max float64
	above    bool
}

var hfRanges = []hfRange{
	{"vocab_size", 1, 1 << 24, false},
	{"hidden_size", 1, 1 << 20, false},
	{"intermediate_size", 1, 1 << 22, false},
	{"moe_intermediate_size", 1, 1 << 22, false},
	{"num_hidden_layers", 1, 1 << 10, false},
	{"first_k_dense_replace", 0, 1 << 10, false},
	{"num_attention_heads", 1, 1 << 12, false},
	{"q_lora_rank", 0, 1 << 20, false},
	{"kv_lora_rank", 1, 1 << 20, false},
	{"qk_nope_head_dim", 1, 1 << 16, false},
	{"qk_rope_head_dim", 2, 1 << 16, false},
	{"v_head_dim", 1, 1 << 16, false},
	{"n_routed_experts", 1, 1 << 16, false},
	{"n_shared_experts", 0, 1 << 10, false},
	{"num_experts_per_tok", 1, 1 << 16, false},
	{"n_group", 1, 1 << 16, false},
	{"topk_group", 1, 1 << 16, false},
	{"num_nextn_predict_layers", 0, 64, false},
	{"routed_scaling_factor", 0, 1e6, true},
	{"rms_norm_eps", 0, 1, true},
	{"rope_theta", 0, 1e12, true},
	{"max_position_embeddings", 1, 1 << 30, false},
	{"rope_scaling.factor", 0, 1e6, true},
	{"rope_scaling.original_max_position_embeddings", 1, 1 << 30, false},
	{"rope_scaling.beta_fast", 0, 1e6, true},
	{"rope_scaling.beta_slow", 0, 1e6, true},
	{"rope_scaling.mscale", 0, 1e6, false},
	{"rope_scaling.mscale_all_dim", 0, 1e6, false},
}

// hfRelations are checks between keys; each returns a message or "".
var hfRelations = []func(n hfNumbers) string{
	func(n hfNumbers) string {
		if k, e, ok := n.pair("num_experts_per_tok", "n_routed_experts"); ok && k > e {
			return fmt.Sprintf("num_experts_per_tok %g is more than n_routed_experts %g", k, e)
		}
		return ""
	},
	func(n hfNumbers) string {
		if g, e, ok := n.pair("n_group", "n_routed_experts"); ok && math.Mod(e, g) != 0 {
			return fmt.Sprintf("n_group %g does not divide n_routed_experts %g", g, e)
		}
		return ""
	},
	func(n hfNumbers) string {
		if t, g, ok := n.pair("topk_group", "n_group"); ok && t > g {
			return fmt.Sprintf("topk_group %g is more than n_group %g", t, g)
		}
		return ""
	},
	func(n hfNumbers) string {
		if d, l, ok := n.pair("first_k_dense_replace", "num_hidden_layers"); ok && d > l {
			return fmt.Sprintf("first_k_dense_replace %g is more than num_hidden_layers %g", d, l)
		}
		return ""
	},
	func(n hfNumbers) string {
		if r, ok := n["qk_rope_head_dim"]; ok && math.Mod(r, 2) != 0 {
			return fmt.Sprintf("qk_rope_head_dim %g is odd (RoPE rotates pairs)", r)
		}
		return ""
	},
	func(n hfNumbers) string {
		if f, s, ok := n.pair("rope_scaling.beta_fast", "rope_scaling.beta_slow"); ok && f < s {
			return fmt.Sprintf("rope_scaling.beta_fast %g is less than beta_slow %g", f, s)
		}
		return ""
	},
}

// hfNumbers are a config's numeric values by key (rope_scaling's as
// "rope_scaling.NAME").
type hfNumbers map[string]float64

func (n hfNumbers) pair(a, b string) (x, y float64, ok bool) {
	x, okA := n[a]
	y, okB := n[b]
	return x, y, okA && okB
}

// checkSemantics checks cfg's numbers against hfRanges and hfRelations.
func checkSemantics(cfg map[string]json.RawMessage) error {
	n := hfNumbers{}
	numbers(cfg, "", n)
	if raw, ok := cfg["rope_scaling"]; ok && !isNull(raw) {
		var rs map[string]json.RawMessage
		if json.Unmarshal(raw, &rs) == nil {
			numbers(rs, "rope_scaling.", n)
		}
	}
	var errs []string
	for _, r := range hfRanges {
		v, ok := n[r.key]
		if !ok {
			continue
		}
		if math.IsNaN(v) || v < r.min || (r.above && v == r.min) || v > r.max {
			lo := "["
			if r.above {
				lo = "("
			}
			errs = append(errs, fmt.Sprintf("%s is %g, outside %s%g, %g]", r.key, v, lo, r.min, r.max))
		}
	}
	for _, rel := range hfRelations {
		if msg := rel(n); msg != "" {
			errs = append(errs, msg)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("config.json: %s", strings.Join(errs, "; "))
	}
	return nil
}

// numbers collects the JSON numbers of obj under prefix.
func numbers(obj map[string]json.RawMessage, prefix string, into hfNumbers) {
	for k, raw := range obj {
		var f float64
		if !isNull(raw) && json.Unmarshal(raw, &f) == nil {
			into[prefix+k] = f
		}
	}
}
