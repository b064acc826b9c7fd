package reference

import (
	"encoding/json"
	"fmt"
)

// Config is the model shape (docs/model.md §1), under the official names.
type Config struct {
	Vocab, Dim, InterDim, MoEInterDim int
	NLayers, NDenseLayers, NHeads     int
	QLoraRank, KVLoraRank             int // QLoraRank 0: plain q_proj
	QKNopeDim, QKRopeDim, VDim        int
	NRoutedExperts, NSharedExperts    int // NRoutedExperts 0: every layer dense
	NActivated                        int
	NGroups, NLimitedGroups           int
	RouteScale                        float64
	ScoreFunc                         string // "sigmoid" or "softmax"
	MTPDepth                          int
	Eps, RopeTheta                    float64
	Yarn                              *Yarn // nil: no context extension
}

// Yarn is the rope_scaling block of type "yarn".
type Yarn struct {
	Factor             float64
	OrigMaxPos         int
	BetaFast, BetaSlow float64
	MScale             float64
	MScaleAllDim       float64
}

// IsMoE reports whether main-model or MTP layer l (checkpoint index) has a
// DeepSeekMoE FFN.
func (c Config) IsMoE(l int) bool {
	return c.NRoutedExperts > 0 && l >= c.NDenseLayers
}

// Validate checks the shape constraints the forward pass relies on.
func (c Config) Validate() error {
	pos := map[string]int{
		"vocab": c.Vocab, "dim": c.Dim, "n_heads": c.NHeads, "kv_lora_rank": c.KVLoraRank,
		"qk_rope_head_dim": c.QKRopeDim, "v_head_dim": c.VDim,
	}
	for name, v := range pos {
		if v <= 0 {
			return fmt.Errorf("reference: config %s = %d, must be > 0", name, v)
		}
	}
	nonNeg := map[string]int{
		"n_layers": c.NLayers, "n_dense_layers": c.NDenseLayers, "q_lora_rank": c.QLoraRank,
		"qk_nope_head_dim": c.QKNopeDim, "n_routed_experts": c.NRoutedExperts,
		"n_shared_experts": c.NSharedExperts, "mtp_depth": c.MTPDepth, "inter_dim": c.InterDim,
		"moe_inter_dim": c.MoEInterDim,
	}
	for name, v := range nonNeg {
		if v < 0 {
			return fmt.Errorf("reference: config %s = %d, must be >= 0", name, v)
		}
	}
	if c.QKRopeDim%2 != 0 {
		return fmt.Errorf("reference: qk_rope_head_dim = %d must be even", c.QKRopeDim)
	}
	if c.Eps < 0 || c.RopeTheta <= 0 {
		return fmt.Errorf("reference: eps = %g, rope_theta = %g", c.Eps, c.RopeTheta)
	}
	if c.NRoutedExperts > 0 {
		if c.ScoreFunc != "sigmoid" && c.ScoreFunc != "softmax" {
			return fmt.Errorf("reference: score_func %q, want sigmoid or softmax", c.ScoreFunc)
		}
		if c.NActivated <= 0 || c.NActivated > c.NRoutedExperts {
			return fmt.Errorf("reference: n_activated_experts = %d with %d routed experts", c.NActivated, c.NRoutedExperts)
		}
		if c.NGroups > 1 {
			if c.NRoutedExperts%c.NGroups != 0 {
				return fmt.Errorf("reference: %d routed experts do not split into %d groups", c.NRoutedExperts, c.NGroups)
			}
			if c.NLimitedGroups <= 0 || c.NLimitedGroups > c.NGroups {
				return fmt.Errorf("reference: n_limited_groups = %d with %d groups", c.NLimitedGroups, c.NGroups)
			}
			if c.NActivated > c.NLimitedGroups*(c.NRoutedExperts/c.NGroups) {
				return fmt.Errorf("reference: %d activated experts exceed the %d experts of %d kept groups",
					c.NActivated, c.NLimitedGroups*(c.NRoutedExperts/c.NGroups), c.NLimitedGroups)
			}
		}
	}
	if y := c.Yarn; y != nil {
		if y.Factor <= 0 || y.OrigMaxPos <= 0 || y.BetaFast <= 0 || y.BetaSlow <= 0 {
			return fmt.Errorf("reference: yarn %+v: factor, original_max_position_embeddings, beta_fast, beta_slow must be > 0", *y)
		}
	}
	return nil
}

// hfConfig mirrors the fields of a Hugging Face DeepSeek-V2/V3 config.json.
// Pointers tell a missing or null field from a zero.
type hfConfig struct {
	ModelType            string   `json:"model_type"`
	VocabSize            *int     `json:"vocab_size"`
	HiddenSize           *int     `json:"hidden_size"`
	IntermediateSize     *int     `json:"intermediate_size"`
	MoEIntermediateSize  *int     `json:"moe_intermediate_size"`
	NumHiddenLayers      *int     `json:"num_hidden_layers"`
	FirstKDenseReplace   *int     `json:"first_k_dense_replace"`
	NumAttentionHeads    *int     `json:"num_attention_heads"`
	QLoraRank            *int     `json:"q_lora_rank"`
	KVLoraRank           *int     `json:"kv_lora_rank"`
	QKNopeHeadDim        *int     `json:"qk_nope_head_dim"`
	QKRopeHeadDim        *int     `json:"qk_rope_head_dim"`
	VHeadDim             *int     `json:"v_head_dim"`
	NRoutedExperts       *int     `json:"n_routed_experts"`
	NSharedExperts       *int     `json:"n_shared_experts"`
	NumExpertsPerTok     *int     `json:"num_experts_per_tok"`
	NGroup               *int     `json:"n_group"`
	TopkGroup            *int     `json:"topk_group"`
	RoutedScalingFactor  *float64 `json:"routed_scaling_factor"`
	ScoringFunc          *string  `json:"scoring_func"`
	NormTopkProb         *bool    `json:"norm_topk_prob"`
	MoELayerFreq         *int     `json:"moe_layer_freq"`
	NumNextnPredictLayer *int     `json:"num_nextn_predict_layers"`
	RMSNormEps           *float64 `json:"rms_norm_eps"`
	RopeTheta            *float64 `json:"rope_theta"`
	RopeScaling          *struct {
		Type         string   `json:"type"`
		RopeType     string   `json:"rope_type"`
		Factor       *float64 `json:"factor"`
		OrigMaxPos   *int     `json:"original_max_position_embeddings"`
		BetaFast     *float64 `json:"beta_fast"`
		BetaSlow     *float64 `json:"beta_slow"`
		MScale       *float64 `json:"mscale"`
		MScaleAllDim *float64 `json:"mscale_all_dim"`
	} `json:"rope_scaling"`
}

// ConfigFromHF reads a Hugging Face config.json (docs/model.md §1 names).
//
// Required: vocab_size, hidden_size, intermediate_size, num_hidden_layers,
// num_attention_heads, kv_lora_rank, qk_nope_head_dim, qk_rope_head_dim,
// v_head_dim, and for MoE models moe_intermediate_size and
// num_experts_per_tok. Missing or null optional fields take the Hugging Face
// defaults: q_lora_rank 0 (plain q_proj), n_routed_experts 0 (dense),
// first_k_dense_replace 0, n_shared_experts 0, n_group and topk_group 1,
// routed_scaling_factor 1, scoring_func "sigmoid" for model_type
// "deepseek_v3" and "softmax" otherwise, num_nextn_predict_layers 0,
// rms_norm_eps 1e-6, rope_theta 10000, rope_scaling none; yarn beta_fast 32,
// beta_slow 1, mscale 1, mscale_all_dim 0.
func ConfigFromHF(configJSON []byte) (Config, error) {
	var h hfConfig
	if err := json.Unmarshal(configJSON, &h); err != nil {
		return Config{}, fmt.Errorf("reference: config.json: %w", err)
	}
	var missing []string
	req := func(name string, p *int) int {
		if p == nil {
			missing = append(missing, name)
			return 0
		}
		return *p
	}
	opt := func(p *int, def int) int {
		if p == nil {
			return def
		}
		return *p
	}
	optF := func(p *float64, def float64) float64 {
		if p == nil {
			return def
		}
		return *p
	}
	c := Config{
		Vocab:          req("vocab_size", h.VocabSize),
		Dim:            req("hidden_size", h.HiddenSize),
		InterDim:       req("intermediate_size", h.IntermediateSize),
		NLayers:        req("num_hidden_layers", h.NumHiddenLayers),
		NHeads:         req("num_attention_heads", h.NumAttentionHeads),
		KVLoraRank:     req("kv_lora_rank", h.KVLoraRank),
		QKNopeDim:      req("qk_nope_head_dim", h.QKNopeHeadDim),
		QKRopeDim:      req("qk_rope_head_dim", h.QKRopeHeadDim),
		VDim:           req("v_head_dim", h.VHeadDim),
		QLoraRank:      opt(h.QLoraRank, 0),
		NRoutedExperts: opt(h.NRoutedExperts, 0),
		NDenseLayers:   opt(h.FirstKDenseReplace, 0),
		NSharedExperts: opt(h.NSharedExperts, 0),
		NGroups:        opt(h.NGroup, 1),
		NLimitedGroups: opt(h.TopkGroup, 1),
		RouteScale:     optF(h.RoutedScalingFactor, 1),
		MTPDepth:       opt(h.NumNextnPredictLayer, 0),
		Eps:            optF(h.RMSNormEps, 1e-6),
		RopeTheta:      optF(h.RopeTheta, 10000),
	}
	if c.NRoutedExperts > 0 {
		c.MoEInterDim = req("moe_intermediate_size", h.MoEIntermediateSize)
		c.NActivated = req("num_experts_per_tok", h.NumExpertsPerTok)
	} else {
		c.MoEInterDim = opt(h.MoEIntermediateSize, 0)
		c.NActivated = opt(h.NumExpertsPerTok, 0)
	}
	if len(missing) > 0 {
		return Config{}, fmt.Errorf("reference: config.json lacks %v", missing)
	}
	switch {
	case h.ScoringFunc != nil:
		c.ScoreFunc = *h.ScoringFunc
	case h.ModelType == "deepseek_v3":
		c.ScoreFunc = "sigmoid"
	default:
		c.ScoreFunc = "softmax"
	}
	if h.MoELayerFreq != nil && *h.MoELayerFreq != 1 {
		return Config{}, fmt.Errorf("reference: moe_layer_freq = %d, only 1 is supported", *h.MoELayerFreq)
	}
	// docs/model.md §4: renormalise the top-k weights for sigmoid, not for softmax.
	if c.NRoutedExperts > 0 && c.NActivated > 1 && h.NormTopkProb != nil && *h.NormTopkProb != (c.ScoreFunc == "sigmoid") {
		return Config{}, fmt.Errorf("reference: norm_topk_prob = %v with scoring_func %q is not supported (docs/model.md §4 renormalises exactly for sigmoid)",
			*h.NormTopkProb, c.ScoreFunc)
	}
	if rs := h.RopeScaling; rs != nil {
		kind := rs.Type
		if kind == "" {
			kind = rs.RopeType
		}
		if kind != "yarn" {
			return Config{}, fmt.Errorf("reference: rope_scaling type %q, only yarn is supported", kind)
		}
		if rs.Factor == nil || rs.OrigMaxPos == nil {
			return Config{}, fmt.Errorf("reference: yarn rope_scaling needs factor and original_max_position_embeddings")
		}
		c.Yarn = &Yarn{
			Factor:       *rs.Factor,
			OrigMaxPos:   *rs.OrigMaxPos,
			BetaFast:     optF(rs.BetaFast, 32),
			BetaSlow:     optF(rs.BetaSlow, 1),
			MScale:       optF(rs.MScale, 1),
			MScaleAllDim: optF(rs.MScaleAllDim, 0),
		}
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}
