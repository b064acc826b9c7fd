package reference

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"slices"
)

// The Llama family in float64, written from Hugging Face's modeling code
// (LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM,
// MixtralForCausalLM) and reading its
// config.json as that code does, independently of deepc's model files and
// of their checkpoint contracts: pre-norm decoder layers, RMSNorm,
// rotate-half RoPE (with linear, llama3 or dynamic NTK scaling), grouped-query attention
// by repeat_kv, causal with Mistral's sliding window, SwiGLU MLPs or
// Mixtral's softmax top-k experts with renormalised weights.

// LlamaConfig is what the reference reads from config.json.
type LlamaConfig struct {
	Arch                                          string
	Vocab, Dim, Inter, Layers, Heads, KVHeads, HD int
	Eps, Theta                                    float64
	Scaling                                       map[string]any // rope_scaling; nil for none
	Bias, Tied                                    bool
	Window                                        int // sliding_window; 0 for none
	MaxPos                                        int // max_position_embeddings (dynamic rope's original context)
	Experts, TopK                                 int // Mixtral; 0 experts for a dense MLP
}

// LlamaConfigFromHF reads a Llama, Mistral, Qwen2 or Mixtral config.json.
func LlamaConfigFromHF(data []byte) (LlamaConfig, error) {
	var h struct {
		Architectures    []string       `json:"architectures"`
		Vocab            int            `json:"vocab_size"`
		Hidden           int            `json:"hidden_size"`
		Inter            int            `json:"intermediate_size"`
		Layers           int            `json:"num_hidden_layers"`
		Heads            int            `json:"num_attention_heads"`
		KVHeads          *int           `json:"num_key_value_heads"`
		HeadDim          *int           `json:"head_dim"`
		Eps              float64        `json:"rms_norm_eps"`
		Theta            float64        `json:"rope_theta"`
		Scaling          map[string]any `json:"rope_scaling"`
		AttentionBias    bool           `json:"attention_bias"`
		Tied             bool           `json:"tie_word_embeddings"`
		SlidingWindow    *int           `json:"sliding_window"`
		UseSlidingWindow *bool          `json:"use_sliding_window"`
		LocalExperts     int            `json:"num_local_experts"`
		ExpertsPerToken  int            `json:"num_experts_per_tok"`
		MaxPos           int            `json:"max_position_embeddings"`
	}
	if err := json.Unmarshal(data, &h); err != nil {
		return LlamaConfig{}, fmt.Errorf("reference: config.json: %w", err)
	}
	if len(h.Architectures) != 1 {
		return LlamaConfig{}, fmt.Errorf("reference: config.json names architectures %q", h.Architectures)
	}
	c := LlamaConfig{Arch: h.Architectures[0], Vocab: h.Vocab, Dim: h.Hidden, Inter: h.Inter, Layers: h.Layers,
		Heads: h.Heads, KVHeads: h.Heads, Eps: h.Eps, Theta: h.Theta, Scaling: h.Scaling, Tied: h.Tied, MaxPos: h.MaxPos}
	if h.KVHeads != nil {
		c.KVHeads = *h.KVHeads
	}
	c.HD = c.Dim / max(c.Heads, 1)
	if h.HeadDim != nil {
		c.HD = *h.HeadDim
	}
	switch c.Arch {
	case "LlamaForCausalLM":
		c.Bias = h.AttentionBias
	case "Qwen2ForCausalLM":
		c.Bias = true // Qwen2Attention: q, k, v with bias, o without
		if h.UseSlidingWindow != nil && *h.UseSlidingWindow && h.SlidingWindow != nil {
			c.Window = *h.SlidingWindow
		}
	case "MixtralForCausalLM":
		c.Experts, c.TopK = h.LocalExperts, h.ExpertsPerToken
		if h.SlidingWindow != nil {
			c.Window = *h.SlidingWindow
		}
	case "MistralForCausalLM":
		if h.SlidingWindow != nil {
			c.Window = *h.SlidingWindow
		}
	default:
		return LlamaConfig{}, fmt.Errorf("reference: architecture %s is not of the Llama family", c.Arch)
	}
	if c.Vocab <= 0 || c.Dim <= 0 || c.Layers <= 0 || c.Heads <= 0 || c.KVHeads <= 0 || c.Heads%c.KVHeads != 0 || c.HD%2 != 0 {
		return LlamaConfig{}, fmt.Errorf("reference: config.json sizes %+v", c)
	}
	return c, nil
}

// invFreq is Hugging Face's inverse frequencies with rope scaling (the
// default, linear, llama3 and dynamic rope types), for a call whose
// largest position is seqLen−1 (dynamic NTK: _compute_dynamic_ntk_parameters
// with that seq_len, the original context config.max_position_embeddings).
func (c LlamaConfig) invFreq(seqLen int) ([]float64, error) {
	typ, _ := c.Scaling["rope_type"].(string)
	if typ == "" {
		typ, _ = c.Scaling["type"].(string)
	}
	num := func(k string) float64 { v, _ := c.Scaling[k].(float64); return v }
	factor := num("factor")
	base := c.Theta
	if typ == "dynamic" {
		L0 := float64(c.MaxPos)
		sl := math.Max(float64(seqLen), L0)
		dim := float64(c.HD)
		base *= math.Pow(factor*sl/L0-(factor-1), dim/(dim-2))
	}
	f := make([]float64, c.HD/2)
	for i := range f {
		f[i] = 1 / math.Pow(base, float64(2*i)/float64(c.HD))
	}
	if c.Scaling == nil {
		return f, nil
	}
	switch typ {
	case "dynamic":
	case "linear":
		for i := range f {
			f[i] /= factor
		}
	case "llama3":
		lo, hi, orig := num("low_freq_factor"), num("high_freq_factor"), num("original_max_position_embeddings")
		loWave, hiWave := orig/lo, orig/hi
		for i, x := range f {
			wave := 2 * math.Pi / x
			switch {
			case wave > loWave:
				f[i] = x / factor
			case wave >= hiWave: // medium: interpolate
				s := (orig/wave - lo) / (hi - lo)
				f[i] = (1-s)*x/factor + s*x
			}
		}
	default:
		return nil, fmt.Errorf("reference: rope type %q", typ)
	}
	return f, nil
}

// LlamaForward returns the logits [T][vocab] of packed sequences.
func LlamaForward(c LlamaConfig, w Weights, tokens, pos, seq []int) ([][]float64, error) {
	l, _, err := LlamaForwardAux(c, w, tokens, pos, seq)
	return l, err
}

// LlamaForwardAux is LlamaForward with Mixtral's load-balancing loss
// (Hugging Face's load_balancing_loss_func over the router logits of every
// layer, concatenated; not multiplied by router_aux_loss_coef): E·Σ_e
// f_e·P_e, f_e the assignments to e per row and P_e the mean probability of
// e over the L·T rows. 0 for a dense model.
func LlamaForwardAux(c LlamaConfig, w Weights, tokens, pos, seq []int) ([][]float64, float64, error) {
	logits, r, err := llamaForward(c, w, tokens, pos, seq)
	if err != nil || c.Experts == 0 {
		return logits, 0, err
	}
	rows := float64(c.Layers * len(tokens))
	aux := 0.0
	for e := 0; e < c.Experts; e++ {
		aux += r.count[e] / rows * r.prob[e] / rows
	}
	return logits, float64(c.Experts) * aux, nil
}

// routerStats sums, over every layer and token, each expert's assignments
// and probability.
type routerStats struct{ count, prob []float64 }

func llamaForward(c LlamaConfig, w Weights, tokens, pos, seq []int) ([][]float64, *routerStats, error) {
	r := &routerStats{count: make([]float64, c.Experts), prob: make([]float64, c.Experts)}
	T := len(tokens)
	if len(pos) != T || len(seq) != T {
		return nil, nil, fmt.Errorf("reference: %d tokens, %d positions, %d sequence ids", T, len(pos), len(seq))
	}
	get := func(name string, shape ...int) ([]float64, error) {
		t, ok := w[name]
		if !ok {
			return nil, fmt.Errorf("reference: no tensor %s", name)
		}
		if !slices.Equal(t.Shape, shape) {
			return nil, fmt.Errorf("reference: %s has shape %v, want %v", name, t.Shape, shape)
		}
		return t.Data, nil
	}
	seqLen := 0
	for _, p := range pos {
		seqLen = max(seqLen, p+1)
	}
	freq, err := c.invFreq(seqLen)
	if err != nil {
		return nil, nil, err
	}
	emb, err := get("model.embed_tokens.weight", c.Vocab, c.Dim)
	if err != nil {
		return nil, nil, err
	}
	x := make([][]float64, T)
	for t, tok := range tokens {
		if tok < 0 || tok >= c.Vocab {
			return nil, nil, fmt.Errorf("reference: token %d outside the vocabulary", tok)
		}
		x[t] = slices.Clone(emb[tok*c.Dim : (tok+1)*c.Dim])
	}
	// linear: y = W x (+ b) with W [out, in].
	linear := func(name string, in [][]float64, out int, bias bool) ([][]float64, error) {
		W, err := get(name+".weight", out, len(in[0]))
		if err != nil {
			return nil, err
		}
		var B []float64
		if bias {
			if B, err = get(name+".bias", out); err != nil {
				return nil, err
			}
		}
		y := make([][]float64, len(in))
		for t, v := range in {
			y[t] = make([]float64, out)
			for o := 0; o < out; o++ {
				s := 0.0
				for i, a := range v {
					s += W[o*len(v)+i] * a
				}
				if B != nil {
					s += B[o]
				}
				y[t][o] = s
			}
		}
		return y, nil
	}
	norm := func(name string, in [][]float64) ([][]float64, error) {
		g, err := get(name, c.Dim)
		if err != nil {
			return nil, err
		}
		y := make([][]float64, len(in))
		for t, v := range in {
			ms := 0.0
			for _, a := range v {
				ms += a * a
			}
			r := 1 / math.Sqrt(ms/float64(len(v))+c.Eps)
			y[t] = make([]float64, len(v))
			for i, a := range v {
				y[t][i] = g[i] * a * r
			}
		}
		return y, nil
	}
	rope := func(v []float64, heads, p int) {
		half := c.HD / 2
		for h := 0; h < heads; h++ {
			b := v[h*c.HD : (h+1)*c.HD]
			for i := 0; i < half; i++ {
				s, co := math.Sincos(float64(p) * freq[i])
				a, z := b[i], b[i+half]
				b[i], b[i+half] = a*co-z*s, z*co+a*s
			}
		}
	}
	silu := func(a float64) float64 { return a / (1 + math.Exp(-a)) }
	mlp := func(name string, in [][]float64, gate, up, down string) ([][]float64, error) {
		g, err := linear(name+"."+gate, in, c.Inter, false)
		if err != nil {
			return nil, err
		}
		u, err := linear(name+"."+up, in, c.Inter, false)
		if err != nil {
			return nil, err
		}
		for t := range g {
			for i := range g[t] {
				g[t][i] = silu(g[t][i]) * u[t][i]
			}
		}
		return linear(name+"."+down, g, c.Dim, false)
	}
	group := c.Heads / c.KVHeads
	scale := 1 / math.Sqrt(float64(c.HD))
	for l := 0; l < c.Layers; l++ {
		p := fmt.Sprintf("model.layers.%d", l)
		hn, err := norm(p+".input_layernorm.weight", x)
		if err != nil {
			return nil, nil, err
		}
		q, err := linear(p+".self_attn.q_proj", hn, c.Heads*c.HD, c.Bias)
		if err != nil {
			return nil, nil, err
		}
		k, err := linear(p+".self_attn.k_proj", hn, c.KVHeads*c.HD, c.Bias)
		if err != nil {
			return nil, nil, err
		}
		v, err := linear(p+".self_attn.v_proj", hn, c.KVHeads*c.HD, c.Bias)
		if err != nil {
			return nil, nil, err
		}
		for t := 0; t < T; t++ {
			rope(q[t], c.Heads, pos[t])
			rope(k[t], c.KVHeads, pos[t])
		}
		o := make([][]float64, T)
		for t := 0; t < T; t++ {
			o[t] = make([]float64, c.Heads*c.HD)
			for h := 0; h < c.Heads; h++ {
				kh := h / group // repeat_kv
				var vis []int
				var sc []float64
				m := math.Inf(-1)
				for s := 0; s < T; s++ {
					if seq[s] != seq[t] || pos[s] > pos[t] || (c.Window > 0 && pos[t]-pos[s] >= c.Window) {
						continue
					}
					d := 0.0
					for i := 0; i < c.HD; i++ {
						d += q[t][h*c.HD+i] * k[s][kh*c.HD+i]
					}
					vis, sc = append(vis, s), append(sc, d*scale)
					m = math.Max(m, d*scale)
				}
				sum := 0.0
				for j := range sc {
					sc[j] = math.Exp(sc[j] - m)
					sum += sc[j]
				}
				for j, s := range vis {
					for i := 0; i < c.HD; i++ {
						o[t][h*c.HD+i] += sc[j] / sum * v[s][kh*c.HD+i]
					}
				}
			}
		}
		a, err := linear(p+".self_attn.o_proj", o, c.Dim, false)
		if err != nil {
			return nil, nil, err
		}
		for t := range x {
			for i := range x[t] {
				x[t][i] += a[t][i]
			}
		}
		hn, err = norm(p+".post_attention_layernorm.weight", x)
		if err != nil {
			return nil, nil, err
		}
		var f [][]float64
		if c.Experts == 0 {
			f, err = mlp(p+".mlp", hn, "gate_proj", "up_proj", "down_proj")
		} else {
			f, err = mixtralMoE(c, p+".block_sparse_moe", hn, linear, mlp, r)
		}
		if err != nil {
			return nil, nil, err
		}
		for t := range x {
			for i := range x[t] {
				x[t][i] += f[t][i]
			}
		}
	}
	x, err = norm("model.norm.weight", x)
	if err != nil {
		return nil, nil, err
	}
	head := "lm_head"
	if c.Tied {
		head = "model.embed_tokens"
	}
	logits, err := linear(head, x, c.Vocab, false)
	return logits, r, err
}

// mixtralMoE is MixtralSparseMoeBlock: softmax over the router's logits,
// the top-k experts, their weights divided by their sum.
func mixtralMoE(c LlamaConfig, p string, in [][]float64,
	linear func(string, [][]float64, int, bool) ([][]float64, error),
	mlp func(string, [][]float64, string, string, string) ([][]float64, error), r *routerStats) ([][]float64, error) {
	logits, err := linear(p+".gate", in, c.Experts, false)
	if err != nil {
		return nil, err
	}
	out := make([][]float64, len(in))
	for t, lg := range logits {
		m := slices.Max(lg)
		prob := make([]float64, len(lg))
		sum := 0.0
		for e, z := range lg {
			prob[e] = math.Exp(z - m)
			sum += prob[e]
		}
		order := make([]int, len(lg))
		for e := range order {
			order[e] = e
			prob[e] /= sum
		}
		slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(prob[b], prob[a]) })
		top := order[:c.TopK]
		for e := range prob {
			r.prob[e] += prob[e]
		}
		for _, e := range top {
			r.count[e]++
		}
		wsum := 0.0
		for _, e := range top {
			wsum += prob[e]
		}
		out[t] = make([]float64, c.Dim)
		for _, e := range top {
			y, err := mlp(fmt.Sprintf("%s.experts.%d", p, e), [][]float64{in[t]}, "w1", "w3", "w2")
			if err != nil {
				return nil, err
			}
			for i := range out[t] {
				out[t][i] += prob[e] / wsum * y[0][i]
			}
		}
	}
	return out, nil
}
