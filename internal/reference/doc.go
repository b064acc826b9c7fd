// Package reference is an independent, plain float64 implementation of
// DeepSeek-V3 inference (docs/model.md §2–§6), written from docs/model.md and
// docs/op-semantics.md only. It is the test oracle for deepc's CPU runtime,
// so it imports nothing but the standard library and favours obviously
// correct loops over speed: every matrix is a flat []float64, every
// projection a double loop, every top-k a stable sort.
//
// Conventions (where docs/model.md is silent they are stated here):
//
//   - Tokens are packed: tokens[t], pos[t], seq[t] for t < T. Token t attends
//     to every token s with seq[s] == seq[t] and pos[s] <= pos[t] (itself
//     included); the packing order of the sequences does not matter.
//   - Linear weights are [out, in]; y = x · Wᵀ. Every RMSNorm (input, post
//     attention, q_a_layernorm, kv_a_layernorm, final, enorm, hnorm,
//     shared_head.norm) uses Config.Eps.
//   - The q projection output is viewed [H, nope+rope] (nope first); the
//     kv_a_proj_with_mqa output is [c_kv (kv_lora_rank), k_pe (rope)]; the
//     kv_b_proj output is viewed [H, nope+v] (nope first); o_proj reads the
//     heads concatenated in head order.
//   - RoPE rotates interleaved pairs (x[2i], x[2i+1]) by pos·freq[i].
//   - Under YaRN (Config.Yarn != nil) the frequencies are corrected, the
//     softmax scale is multiplied by g(MScaleAllDim)², and the rotated parts
//     (q_pe, k_pe) by g(MScale)/g(MScaleAllDim), g(ms) = 0.1·ms·ln(Factor) + 1
//     for Factor > 1, else 1 (docs/model.md §3, Hugging Face's formulas; with
//     MScale = MScaleAllDim, as in DeepSeek's configs, that is DeepSeek's own
//     code: m² on the softmax, RoPE not rescaled).
//   - Routing: the e_score_correction_bias is used when present (required
//     for sigmoid scoring, optional for softmax); with it the group score is
//     the sum of the top-2 biased scores of the group (top-1 for groups of
//     one expert), without it the max score. Group limitation is skipped when
//     NGroups <= 1. Every top-k takes the larger value first and, on ties, the
//     lower index. Weights are the unbiased scores at the chosen experts,
//     renormalised to sum 1 for sigmoid only, then × RouteScale.
//   - A layer l is MoE when NRoutedExperts > 0 and l >= NDenseLayers.
//   - MTP depth k (0-based) uses checkpoint layer NLayers+k, the main
//     embedding and lm_head, and the token at packed index t+k+1 when that
//     index exists and has the same sequence id, else token id 0.
package reference
