package reference

// ParamCount counts parameters by formula (docs/model.md §1): total is the main
// model (embedding, layers, final norm, head); activated is what one token
// reads in the main model, embedding and head included (NActivated routed
// experts out of NRoutedExperts, plus gate, bias and shared experts); mtp is
// the unique parameters of the MTP modules (enorm, hnorm, eh_proj, the layer,
// shared_head.norm), the embedding and head being shared. The gate bias is
// counted for sigmoid scoring only (see WeightShapes).
func ParamCount(c Config) (total, activated, mtp int64) {
	d := int64(c.Dim)
	H := int64(c.NHeads)
	qk := int64(c.QKNopeDim + c.QKRopeDim)

	var attn int64
	if c.QLoraRank > 0 {
		r := int64(c.QLoraRank)
		attn += d*r + r + r*H*qk // q_a_proj, q_a_layernorm, q_b_proj
	} else {
		attn += d * H * qk // q_proj
	}
	kv := int64(c.KVLoraRank)
	attn += d * (kv + int64(c.QKRopeDim))      // kv_a_proj_with_mqa
	attn += kv                                 // kv_a_layernorm
	attn += kv * H * int64(c.QKNopeDim+c.VDim) // kv_b_proj
	attn += H * int64(c.VDim) * d              // o_proj
	norms := 2 * d                             // input and post-attention RMSNorm
	dense := 3 * d * int64(c.InterDim)         // gate, up, down
	expert := 3 * d * int64(c.MoEInterDim)     // one routed expert
	shared := int64(c.NSharedExperts) * expert // shared experts, fused width
	router := int64(c.NRoutedExperts) * d      // gate weight
	if c.ScoreFunc == "sigmoid" {
		router += int64(c.NRoutedExperts) // e_score_correction_bias
	}
	moeAll := router + int64(c.NRoutedExperts)*expert + shared
	moeAct := router + int64(c.NActivated)*expert + shared

	layer := func(l int) (all, act int64) {
		if c.IsMoE(l) {
			return attn + norms + moeAll, attn + norms + moeAct
		}
		return attn + norms + dense, attn + norms + dense
	}
	embHead := 2 * int64(c.Vocab) * d
	total, activated = embHead+d, embHead+d // + final norm
	for l := 0; l < c.NLayers; l++ {
		all, act := layer(l)
		total += all
		activated += act
	}
	for k := 0; k < c.MTPDepth; k++ {
		all, _ := layer(c.NLayers + k)
		mtp += 2*d + 2*d*d + all + d // enorm, hnorm, eh_proj, layer, shared_head.norm
	}
	return total, activated, mtp
}
