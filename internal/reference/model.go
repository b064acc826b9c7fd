package reference

import (
	"fmt"
	"math"
)

// checkInputs validates the packed token arrays.
func checkInputs(c Config, tokens, pos, seq []int) error {
	if len(pos) != len(tokens) || len(seq) != len(tokens) {
		return fmt.Errorf("reference: %d tokens, %d positions, %d sequence ids: lengths differ", len(tokens), len(pos), len(seq))
	}
	for t, tok := range tokens {
		if tok < 0 || tok >= c.Vocab {
			return fmt.Errorf("reference: token %d = %d outside the vocabulary [0, %d)", t, tok, c.Vocab)
		}
		if pos[t] < 0 {
			return fmt.Errorf("reference: position %d = %d is negative", t, pos[t])
		}
	}
	return nil
}

// Forward runs the main model (docs/model.md §2) on packed sequences and returns
// logits [T][vocab] and the final hidden states [T][dim] before model.norm.
func Forward(c Config, w Weights, tokens, pos, seq []int) (logits [][]float64, hidden [][]float64, err error) {
	if err := c.Validate(); err != nil {
		return nil, nil, err
	}
	if err := checkInputs(c, tokens, pos, seq); err != nil {
		return nil, nil, err
	}
	if err := checkWeights(w, WeightShapes(c)); err != nil {
		return nil, nil, err
	}
	if err := checkGateBiases(c, w, 0, c.NLayers); err != nil {
		return nil, nil, err
	}
	x := make([][]float64, len(tokens))
	for t, tok := range tokens {
		x[t] = embed(c, w, tok)
	}
	for l := 0; l < c.NLayers; l++ {
		x = layer(c, w, l, x, pos, seq)
	}
	return head(c, w, "model.norm.weight", x), x, nil
}

// MTP runs the MTP modules (docs/model.md §6) on the main model's final hidden
// states (Forward's hidden) and returns the logits of every depth,
// [depth][T][vocab]; depth k (0-based) predicts token t+k+2 of t's sequence.
func MTP(c Config, w Weights, hidden [][]float64, tokens, pos, seq []int) ([][][]float64, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if err := checkInputs(c, tokens, pos, seq); err != nil {
		return nil, err
	}
	if len(hidden) != len(tokens) {
		return nil, fmt.Errorf("reference: %d hidden states for %d tokens", len(hidden), len(tokens))
	}
	for t, h := range hidden {
		if len(h) != c.Dim {
			return nil, fmt.Errorf("reference: hidden state %d has %d values, want dim %d", t, len(h), c.Dim)
		}
	}
	shared := map[string][]int{
		"model.embed_tokens.weight": {c.Vocab, c.Dim},
		"lm_head.weight":            {c.Vocab, c.Dim},
	}
	if err := checkWeights(w, shared); err != nil {
		return nil, err
	}
	if err := checkWeights(w, MTPWeightShapes(c)); err != nil {
		return nil, err
	}
	if err := checkGateBiases(c, w, c.NLayers, c.NLayers+c.MTPDepth); err != nil {
		return nil, err
	}
	T := len(tokens)
	out := make([][][]float64, c.MTPDepth)
	h := hidden
	for k := 0; k < c.MTPDepth; k++ {
		l := c.NLayers + k
		p := layerPrefix(l)
		x := make([][]float64, T)
		for t := 0; t < T; t++ {
			next := 0 // past the end of t's sequence
			if u := t + k + 1; u < T && seq[u] == seq[t] {
				next = tokens[u]
			}
			e := rmsNorm(embed(c, w, next), w[p+"enorm.weight"].Data, c.Eps)
			hn := rmsNorm(h[t], w[p+"hnorm.weight"].Data, c.Eps)
			x[t] = linear(concat(e, hn), w[p+"eh_proj.weight"])
		}
		h = layer(c, w, l, x, pos, seq)
		out[k] = head(c, w, p+"shared_head.norm.weight", h)
	}
	return out, nil
}

// checkGateBiases checks the optional e_score_correction_bias of the MoE
// layers in [from, to) (the sigmoid ones are required by WeightShapes).
func checkGateBiases(c Config, w Weights, from, to int) error {
	for l := from; l < to; l++ {
		name := layerPrefix(l) + "mlp.gate.e_score_correction_bias"
		if _, ok := w[name]; ok && c.IsMoE(l) {
			if err := checkTensor(w, name, []int{c.NRoutedExperts}); err != nil {
				return err
			}
		}
	}
	return nil
}

func embed(c Config, w Weights, tok int) []float64 {
	e := w["model.embed_tokens.weight"].Data[tok*c.Dim : (tok+1)*c.Dim]
	return append([]float64(nil), e...)
}

// head returns RMSNorm(x; norm) · lm_headᵀ for every token.
func head(c Config, w Weights, norm string, x [][]float64) [][]float64 {
	logits := make([][]float64, len(x))
	for t := range x {
		logits[t] = linear(rmsNorm(x[t], w[norm].Data, c.Eps), w["lm_head.weight"])
	}
	return logits
}

func concat(a, b []float64) []float64 {
	return append(append(make([]float64, 0, len(a)+len(b)), a...), b...)
}

func add(a, b []float64) []float64 {
	y := make([]float64, len(a))
	for i := range a {
		y[i] = a[i] + b[i]
	}
	return y
}

// layer is transformer layer l (checkpoint index) on all tokens:
// h = x + MLA(RMSNorm(x)); out = h + FFN(RMSNorm(h)).
func layer(c Config, w Weights, l int, x [][]float64, pos, seq []int) [][]float64 {
	p := layerPrefix(l)
	xn := make([][]float64, len(x))
	for t := range x {
		xn[t] = rmsNorm(x[t], w[p+"input_layernorm.weight"].Data, c.Eps)
	}
	a := mla(c, w, p+"self_attn.", xn, pos, seq)
	out := make([][]float64, len(x))
	for t := range x {
		h := add(x[t], a[t])
		hn := rmsNorm(h, w[p+"post_attention_layernorm.weight"].Data, c.Eps)
		var f []float64
		if c.IsMoE(l) {
			f = moe(c, w, p+"mlp.", hn)
		} else {
			f = mlp(w, p+"mlp.", hn)
		}
		out[t] = add(h, f)
	}
	return out
}

// mla is multi-head latent attention (docs/model.md §3) in the expanded form, on
// already-normalised inputs x; p is the "....self_attn." prefix.
func mla(c Config, w Weights, p string, x [][]float64, pos, seq []int) [][]float64 {
	T, H := len(x), c.NHeads
	nope, rd, vd := c.QKNopeDim, c.QKRopeDim, c.VDim
	qk := nope + rd
	freq := ropeFreqs(rd, c.RopeTheta, c.Yarn)
	mag := ropeMagnitude(c.Yarn)

	// Per token and head: q = [q_nope, RoPE(q_pe)], k = [k_nope, RoPE(k_pe)], v.
	q := make([][][]float64, T)
	k := make([][][]float64, T)
	v := make([][][]float64, T)
	for t := 0; t < T; t++ {
		var qAll []float64
		if c.QLoraRank > 0 {
			cq := rmsNorm(linear(x[t], w[p+"q_a_proj.weight"]), w[p+"q_a_layernorm.weight"].Data, c.Eps)
			qAll = linear(cq, w[p+"q_b_proj.weight"])
		} else {
			qAll = linear(x[t], w[p+"q_proj.weight"])
		}
		kv := linear(x[t], w[p+"kv_a_proj_with_mqa.weight"])
		ckv := kv[:c.KVLoraRank]
		kpe := append([]float64(nil), kv[c.KVLoraRank:]...)
		rope(kpe, pos[t], freq)
		scaleBy(kpe, mag)
		kvu := linear(rmsNorm(ckv, w[p+"kv_a_layernorm.weight"].Data, c.Eps), w[p+"kv_b_proj.weight"])

		q[t] = make([][]float64, H)
		k[t] = make([][]float64, H)
		v[t] = make([][]float64, H)
		for h := 0; h < H; h++ {
			qh := append([]float64(nil), qAll[h*qk:(h+1)*qk]...)
			rope(qh[nope:], pos[t], freq)
			scaleBy(qh[nope:], mag)
			q[t][h] = qh
			kvh := kvu[h*(nope+vd) : (h+1)*(nope+vd)]
			k[t][h] = concat(kvh[:nope], kpe)
			v[t][h] = append([]float64(nil), kvh[nope:]...)
		}
	}

	scale := softmaxScale(c)
	heads := make([][][]float64, H) // heads[h][t]: o_h for token t
	for h := 0; h < H; h++ {
		qh := make([][]float64, T)
		kh := make([][]float64, T)
		vh := make([][]float64, T)
		for t := 0; t < T; t++ {
			qh[t], kh[t], vh[t] = q[t][h], k[t][h], v[t][h]
		}
		heads[h] = attend(qh, kh, vh, pos, seq, scale)
	}
	out := make([][]float64, T)
	for t := 0; t < T; t++ {
		o := make([]float64, 0, H*vd)
		for h := 0; h < H; h++ {
			o = append(o, heads[h][t]...)
		}
		out[t] = linear(o, w[p+"o_proj.weight"])
	}
	return out
}

// attend is one head of causal attention over packed sequences:
// o[t] = Σ_s p[t, s] · v[s], p = softmax_s(q[t]·k[s] · scale) over the s with
// seq[s] == seq[t] and pos[s] <= pos[t].
func attend(q, k, v [][]float64, pos, seq []int, scale float64) [][]float64 {
	out := make([][]float64, len(q))
	for t := range q {
		var keys []int
		for s := range k {
			if seq[s] == seq[t] && pos[s] <= pos[t] {
				keys = append(keys, s)
			}
		}
		scores := make([]float64, len(keys))
		for j, s := range keys {
			scores[j] = dot(q[t], k[s]) * scale
		}
		prob := softmax(scores)
		o := make([]float64, len(v[t]))
		for j, s := range keys {
			for i := range o {
				o[i] += prob[j] * v[s][i]
			}
		}
		out[t] = o
	}
	return out
}

// mlp is the SwiGLU MLP down(silu(gate x) · up x); p is the prefix of
// gate_proj (w1), up_proj (w3), down_proj (w2).
func mlp(w Weights, p string, x []float64) []float64 {
	g := linear(x, w[p+"gate_proj.weight"])
	u := linear(x, w[p+"up_proj.weight"])
	for i := range g {
		g[i] = silu(g[i]) * u[i]
	}
	return linear(g, w[p+"down_proj.weight"])
}

// moe is DeepSeekMoE (docs/model.md §4) for one token; p is "....mlp.".
func moe(c Config, w Weights, p string, x []float64) []float64 {
	logits := linear(x, w[p+"gate.weight"])
	var bias []float64
	if b, ok := w[p+"gate.e_score_correction_bias"]; ok {
		bias = b.Data
	}
	idx, weights := route(c, logits, bias)
	y := make([]float64, c.Dim)
	for j, e := range idx {
		ye := mlp(w, fmt.Sprintf("%sexperts.%d.", p, e), x)
		for i := range y {
			y[i] += weights[j] * ye[i]
		}
	}
	if c.NSharedExperts > 0 {
		y = add(y, mlp(w, p+"shared_experts.", x))
	}
	return y
}

// route turns the gate logits of one token into the chosen experts (best
// first) and their weights; bias may be nil.
func route(c Config, logits, bias []float64) (idx []int, weights []float64) {
	E := c.NRoutedExperts
	var scores []float64
	if c.ScoreFunc == "softmax" {
		scores = softmax(logits)
	} else {
		scores = make([]float64, E)
		for i, v := range logits {
			scores[i] = sigmoid(v)
		}
	}
	sel := append([]float64(nil), scores...) // selection scores
	if bias != nil {
		for i := range sel {
			sel[i] += bias[i]
		}
	}
	if G := c.NGroups; G > 1 {
		size := E / G
		group := make([]float64, G)
		for g := 0; g < G; g++ {
			members := sel[g*size : (g+1)*size]
			if bias != nil {
				n := min(2, size)
				for _, i := range topK(members, n) {
					group[g] += members[i]
				}
			} else {
				group[g] = math.Inf(-1)
				for _, v := range members {
					group[g] = math.Max(group[g], v)
				}
			}
		}
		keep := make([]bool, G)
		for _, g := range topK(group, c.NLimitedGroups) {
			keep[g] = true
		}
		for i := range sel {
			if !keep[i/size] {
				sel[i] = math.Inf(-1)
			}
		}
	}
	idx = topK(sel, c.NActivated)
	weights = make([]float64, len(idx))
	var sum float64
	for j, e := range idx {
		weights[j] = scores[e]
		sum += scores[e]
	}
	for j := range weights {
		if c.ScoreFunc == "sigmoid" {
			weights[j] /= sum
		}
		weights[j] *= c.RouteScale
	}
	return idx, weights
}

// scaleBy multiplies x by a in place.
func scaleBy(x []float64, a float64) {
	for i := range x {
		x[i] *= a
	}
}
