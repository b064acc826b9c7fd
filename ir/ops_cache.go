package ir

// Ops for inference with a cache of past tokens. A cache is a tensor of C
// slots (one row per cached token) plus, shared by every layer, the
// position and sequence id of the token in each slot (sequence id -1 marks
// a free slot). Programs read and return caches as ordinary values: a write
// is functional, and backends update in place when the old value is dead.

// The cache ops.
var (
	OpKVWrite        = declare(&OpDef{Name: "kv_write", Kind: Injective, Args: 3, Doc: "cache [C, d] with rows slot[t] set to x[t] (x [T, d], slot [T])", Infer: inferKVWrite, FLOPs: noFLOPs})
	OpAttentionCache = declare(&OpDef{Name: "attention_cache", Kind: Opaque, Args: 7, Attrs: []string{"scale"}, Optional: []string{"causal", "window"}, Doc: "attention of q [T, H, dq] over cache slots k [C, Hk, dq], v [C, Hk, dv] (Hk divides H: query head h reads key/value head h / (H/Hk)) with q positions and sequence ids and the slots' positions and sequence ids", Infer: inferAttentionCache, FLOPs: attentionCacheFLOPs})
)

func inferKVWrite(a []Type, _ Attrs) ([]Type, error) {
	cache, x, slot := a[0], a[1], a[2]
	if len(cache.Shape) != 2 || len(x.Shape) != 2 {
		return nil, errf("cache and rows must be [C, d] and [T, d], got %s and %s", cache.Shape, x.Shape)
	}
	if cache.DType != x.DType || cache.Shape[1] != x.Shape[1] {
		return nil, errf("rows %s do not fit cache %s", x, cache)
	}
	if err := tokens("slots", slot, x); err != nil {
		return nil, err
	}
	return one(cache), nil
}

func inferAttentionCache(a []Type, at Attrs) ([]Type, error) {
	q, k, v := a[0], a[1], a[2]
	if _, ok := at.Float("scale"); !ok {
		return nil, errf("attribute scale must be a number")
	}
	if _, err := AttentionMaskOf(at); err != nil {
		return nil, err
	}
	if len(q.Shape) != 3 || len(k.Shape) != 3 || len(v.Shape) != 3 {
		return nil, errf("q, k, v must be [T, H, d], [C, Hk, d], [C, Hk, dv], got %s, %s, %s", q.Shape, k.Shape, v.Shape)
	}
	if q.DType != k.DType || q.DType != v.DType || !q.DType.IsFloat() {
		return nil, errf("q, k, v must share a float dtype, got %s, %s, %s", q.DType, k.DType, v.DType)
	}
	if k.Shape[2] != q.Shape[2] {
		return nil, errf("q %s and k %s differ in head dim", q.Shape, k.Shape)
	}
	if k.Shape[0] != v.Shape[0] || k.Shape[1] != v.Shape[1] {
		return nil, errf("k %s and v %s must match in slots and heads", k.Shape, v.Shape)
	}
	if err := kvHeads(q.Shape[1], k.Shape[1]); err != nil {
		return nil, err
	}
	if err := tokens("positions", a[3], q); err != nil {
		return nil, err
	}
	if err := tokens("sequence ids", a[4], q); err != nil {
		return nil, err
	}
	if err := tokens("slot positions", a[5], k); err != nil {
		return nil, err
	}
	if err := tokens("slot sequence ids", a[6], k); err != nil {
		return nil, err
	}
	return one(Type{Shape{q.Shape[0], q.Shape[1], v.Shape[2]}, q.DType}), nil
}

// attentionCacheFLOPs counts every (token, slot) pair: the backend scans
// all C slots and masks.
func attentionCacheFLOPs(a, _ []Type, _ Attrs, env map[string]int64) int64 {
	T, _ := a[0].Shape[0].Eval(env)
	H, _ := a[0].Shape[1].Eval(env)
	dq, _ := a[0].Shape[2].Eval(env)
	Cs, _ := a[1].Shape[0].Eval(env)
	dv, _ := a[2].Shape[2].Eval(env)
	return 2 * H * T * Cs * (dq + dv)
}
