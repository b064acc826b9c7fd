package reference

import (
	"fmt"
	"sort"
)

// Tensor is a dense row-major float64 tensor.
type Tensor struct {
	Shape []int
	Data  []float64
}

// Weights maps Hugging Face checkpoint names (docs/model.md §8) to dequantised
// tensors. Extra entries (for example ...weight_scale_inv) are ignored.
type Weights map[string]*Tensor

func layerPrefix(l int) string { return fmt.Sprintf("model.layers.%d.", l) }

// addLayerShapes adds the tensors of transformer layer l (checkpoint index).
func addLayerShapes(c Config, l int, m map[string][]int) {
	p := layerPrefix(l)
	qk := c.QKNopeDim + c.QKRopeDim
	m[p+"input_layernorm.weight"] = []int{c.Dim}
	m[p+"post_attention_layernorm.weight"] = []int{c.Dim}
	if c.QLoraRank > 0 {
		m[p+"self_attn.q_a_proj.weight"] = []int{c.QLoraRank, c.Dim}
		m[p+"self_attn.q_a_layernorm.weight"] = []int{c.QLoraRank}
		m[p+"self_attn.q_b_proj.weight"] = []int{c.NHeads * qk, c.QLoraRank}
	} else {
		m[p+"self_attn.q_proj.weight"] = []int{c.NHeads * qk, c.Dim}
	}
	m[p+"self_attn.kv_a_proj_with_mqa.weight"] = []int{c.KVLoraRank + c.QKRopeDim, c.Dim}
	m[p+"self_attn.kv_a_layernorm.weight"] = []int{c.KVLoraRank}
	m[p+"self_attn.kv_b_proj.weight"] = []int{c.NHeads * (c.QKNopeDim + c.VDim), c.KVLoraRank}
	m[p+"self_attn.o_proj.weight"] = []int{c.Dim, c.NHeads * c.VDim}
	addMLP := func(q string, inter int) {
		m[q+"gate_proj.weight"] = []int{inter, c.Dim}
		m[q+"up_proj.weight"] = []int{inter, c.Dim}
		m[q+"down_proj.weight"] = []int{c.Dim, inter}
	}
	if !c.IsMoE(l) {
		addMLP(p+"mlp.", c.InterDim)
		return
	}
	m[p+"mlp.gate.weight"] = []int{c.NRoutedExperts, c.Dim}
	if c.ScoreFunc == "sigmoid" {
		m[p+"mlp.gate.e_score_correction_bias"] = []int{c.NRoutedExperts}
	}
	for e := 0; e < c.NRoutedExperts; e++ {
		addMLP(fmt.Sprintf("%smlp.experts.%d.", p, e), c.MoEInterDim)
	}
	if c.NSharedExperts > 0 {
		addMLP(p+"mlp.shared_experts.", c.NSharedExperts*c.MoEInterDim)
	}
}

// WeightShapes lists every tensor Forward reads, with its shape. For softmax
// scoring the optional e_score_correction_bias is not listed.
func WeightShapes(c Config) map[string][]int {
	m := map[string][]int{
		"model.embed_tokens.weight": {c.Vocab, c.Dim},
		"model.norm.weight":         {c.Dim},
		"lm_head.weight":            {c.Vocab, c.Dim},
	}
	for l := 0; l < c.NLayers; l++ {
		addLayerShapes(c, l, m)
	}
	return m
}

// MTPWeightShapes lists the tensors of the MTP modules (checkpoint layers
// NLayers..NLayers+MTPDepth-1) that MTP reads besides the shared
// model.embed_tokens.weight and lm_head.weight.
func MTPWeightShapes(c Config) map[string][]int {
	m := map[string][]int{}
	for k := 0; k < c.MTPDepth; k++ {
		l := c.NLayers + k
		p := layerPrefix(l)
		m[p+"enorm.weight"] = []int{c.Dim}
		m[p+"hnorm.weight"] = []int{c.Dim}
		m[p+"eh_proj.weight"] = []int{c.Dim, 2 * c.Dim}
		m[p+"shared_head.norm.weight"] = []int{c.Dim}
		addLayerShapes(c, l, m)
	}
	return m
}

// checkWeights reports the first (in name order) tensor of want that is
// missing from w or has another shape or data length.
func checkWeights(w Weights, want map[string][]int) error {
	names := make([]string, 0, len(want))
	for n := range want {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := checkTensor(w, n, want[n]); err != nil {
			return err
		}
	}
	return nil
}

func checkTensor(w Weights, name string, shape []int) error {
	t, ok := w[name]
	if !ok || t == nil {
		return fmt.Errorf("reference: missing weight %s (shape %v)", name, shape)
	}
	if !equalInts(t.Shape, shape) {
		return fmt.Errorf("reference: weight %s has shape %v, want %v", name, t.Shape, shape)
	}
	if len(t.Data) != product(shape) {
		return fmt.Errorf("reference: weight %s has %d values, shape %v needs %d", name, len(t.Data), shape, product(shape))
	}
	return nil
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func product(s []int) int {
	p := 1
	for _, v := range s {
		p *= v
	}
	return p
}
