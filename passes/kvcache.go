package passes

import (
	"fmt"

	"github.com/deepc-dev/deepc/ir"
)

func init() {
	Register(NewPass("kv-cache", "derive prefill and decode from forward: attention over a KV cache (for MLA only the low-rank latent and the shared rotary key; otherwise the keys and values of the key/value heads)", runKVCache))
}

// Names of the functions and arguments kv-cache creates.
const (
	PrefillFunc    = "prefill"
	DecodeFunc     = "decode"
	MTPPrefillFunc = "mtp_prefill"
	MTPDecodeFunc  = "mtp_decode"
	slotArg        = "slot"
	cachePosArg    = "cache_pos"
	cacheSeqArg    = "cache_seq"
	cacheSym       = "C"
)

// CacheArg names layer i's cache argument (and, with the same index, the
// extra result that returns it updated).
func CacheArg(i int) string { return fmt.Sprintf("kv%d", i) }

// cachedFuncs lists the functions kv-cache derives from: each source gets a
// prefill and a decode variant over its own caches. mtp's variants take
// the next tokens directly (its shift by one is removed: at decode time the
// next token is the one just chosen, not in the batch).
var cachedFuncs = []struct{ src, prefill, decode string }{
	{"forward", PrefillFunc, DecodeFunc},
	{"mtp", MTPPrefillFunc, MTPDecodeFunc},
}

// runKVCache adds prefill(forward's args, slot [T], cache_pos [C],
// cache_seq [C], kv0..kvN [C, w]) -> (forward's results, kv0'..kvN')
// and decode, the same program (mla-absorb makes decode read the cache
// without expanding it); likewise mtp_prefill and mtp_decode from mtp.
// Each attention writes its tokens' row into slot[t] of its layer's cache
// and attends over every slot of the token's sequence: for the latentKV
// pattern (MLA) the row is the latent and the rotary key, concatenated;
// for any other attention it is k and v of the key/value heads, flattened
// and concatenated (so grouped-query attention caches only Hk heads). The
// caller fills cache_pos/cache_seq for the slots it writes (-1 marks a
// free slot).
func runKVCache(ctx *Context, m *ir.Module) (bool, error) {
	changed := false
	for _, cf := range cachedFuncs {
		src := m.Func(cf.src)
		if src == nil || m.Func(cf.prefill) != nil {
			continue // nothing to derive from, or derived already
		}
		f := src.Clone(cf.prefill)
		if cf.src == "mtp" && !takeNextTokens(f) {
			fmt.Fprintf(ctx.Writer(), "kv-cache: %s shifts tokens by more than one (depth > 1); no cached variant\n", cf.src)
			continue
		}
		ok, why, err := cacheAttention(f)
		if err != nil {
			return false, err
		}
		if !ok {
			fmt.Fprintf(ctx.Writer(), "kv-cache: %s %s; no cached variant\n", cf.src, why)
			continue
		}
		m.Funcs = append(m.Funcs, f, f.Clone(cf.decode))
		changed = true
	}
	return changed, nil
}

// takeNextTokens replaces shift(arg, seq){offset = 1} of a function
// argument by the argument itself, so callers pass the shifted tokens. It
// fails if any other shift remains.
func takeNextTokens(f *ir.Func) bool {
	ed := ir.NewEditor(f)
	for _, op := range f.Body {
		if !op.Is(ir.OpShift) {
			continue
		}
		if off, _ := op.Attrs.Int("offset"); off != 1 || op.Args[0].Def != nil {
			return false
		}
		ed.ReplaceAllUses(op.Result(), op.Args[0])
		ed.Erase(op)
	}
	return ed.Commit() == nil
}

// cacheAttention rewrites f's attentions to read and write caches, adding
// the arguments and results. It changes nothing, and says why, when f has
// no attention or one a cache cannot serve: a non-causal attention (a
// token would need keys that come later) or one whose key/value shapes are
// symbolic (a cache row has a fixed width).
func cacheAttention(f *ir.Func) (bool, string, error) {
	if len(f.Args) == 0 || len(f.Args[0].Type.Shape) == 0 {
		return false, "", fmt.Errorf("kv-cache: %s's first argument must be per-token", f.Name)
	}
	found := false
	for _, op := range f.Body {
		if !op.Is(ir.OpAttention) {
			continue
		}
		found = true
		if c, ok := op.Attrs.Bool("causal"); ok && !c {
			return false, fmt.Sprintf("has a non-causal attention (at %s)", op.Loc), nil
		}
		if _, ok := matchLatentKV(op.Args[1], op.Args[2]); ok {
			continue
		}
		k, v := op.Args[1].Type, op.Args[2].Type
		if k.Shape[1].IsSym() || k.Shape[2].IsSym() || v.Shape[2].IsSym() {
			return false, fmt.Sprintf("has an attention with symbolic key/value shapes %s, %s (at %s)", k, v, op.Loc), nil
		}
	}
	if !found {
		return false, "has no attention", nil
	}
	T := f.Args[0].Type.Shape[0]
	arg := func(name string, t ir.Type) *ir.Value {
		v := &ir.Value{Type: t, Index: len(f.Args), Name: name}
		f.Args = append(f.Args, v)
		return v
	}
	slot := arg(slotArg, ir.T(ir.I32, T))
	cpos := arg(cachePosArg, ir.T(ir.I32, ir.S(cacheSym)))
	cseq := arg(cacheSeqArg, ir.T(ir.I32, ir.S(cacheSym)))
	var caches []*ir.Value
	ed := ir.NewEditor(f)
	for _, op := range f.Body {
		if !op.Is(ir.OpAttention) {
			continue
		}
		b := ed.Before(op)
		newCache := func(width int64, dt ir.DType) *ir.Value {
			return arg(CacheArg(len(caches)), ir.T(dt, ir.S(cacheSym), ir.C(width)))
		}
		var o *ir.Value
		if p, ok := matchLatentKV(op.Args[1], op.Args[2]); ok {
			o = cacheLatent(b, op, p, newCache(p.latent.Type.Shape[1].N+p.dr, p.latent.Type.DType), slot, cpos, cseq, &caches)
		} else {
			k, v := op.Args[1].Type, op.Args[2].Type
			o = cacheKV(b, op, newCache(k.Shape[1].N*(k.Shape[2].N+v.Shape[2].N), k.DType), slot, cpos, cseq, &caches)
		}
		if b.Err() != nil {
			return false, "", fmt.Errorf("kv-cache: at %s: %w", op.Loc, b.Err())
		}
		ed.ReplaceAllUses(op.Result(), o)
		ed.Erase(op)
	}
	if err := ed.Commit(); err != nil {
		return false, "", err
	}
	f.Results = append(f.Results, caches...)
	return true, "", nil
}

// cacheLatent writes MLA's latent and rotary key to the cache and attends
// over the cached slots, the keys and values expanded from the latent
// (mla-absorb later attends over the latent directly).
func cacheLatent(b *ir.Builder, op *ir.Op, p latentKV, cache, slot, cpos, cseq *ir.Value, caches *[]*ir.Value) *ir.Value {
	T := op.Args[0].Type.Shape[0]
	r := p.latent.Type.Shape[1]
	lat := b.Concat(-1, p.latent, b.Reshape(p.kr, T, ir.C(p.dr)))
	updated := b.Op(ir.OpKVWrite, []*ir.Value{cache, lat, slot}, nil)
	*caches = append(*caches, updated)
	cs := b.Split(updated, -1, r.N, p.dr)
	Cd := ir.S(cacheSym)
	kvu := b.Reshape(b.Op(ir.OpLinear, []*ir.Value{cs[0], p.w}, nil), Cd, ir.C(p.heads), ir.C(p.dn+p.dv))
	kv := b.Split(kvu, -1, p.dn, p.dv)
	kr := b.Op(ir.OpExpand, []*ir.Value{b.Reshape(cs[1], Cd, ir.C(1), ir.C(p.dr))}, ir.Attrs{"shape": ir.Shape{Cd, ir.C(p.heads), ir.C(p.dr)}})
	k := b.Concat(-1, kv[0], kr)
	return b.Op(ir.OpAttentionCache, []*ir.Value{op.Args[0], k, kv[1], op.Args[3], op.Args[4], cpos, cseq}, op.Attrs.Clone())
}

// cacheKV writes k [T, Hk, dk] and v [T, Hk, dv] as one row of Hk·(dk+dv)
// per token and attends over the cached slots.
func cacheKV(b *ir.Builder, op *ir.Op, cache, slot, cpos, cseq *ir.Value, caches *[]*ir.Value) *ir.Value {
	k, v := op.Args[1], op.Args[2]
	T, hk, dk, dv := k.Type.Shape[0], k.Type.Shape[1].N, k.Type.Shape[2].N, v.Type.Shape[2].N
	row := b.Concat(-1, b.Reshape(k, T, ir.C(hk*dk)), b.Reshape(v, T, ir.C(hk*dv)))
	updated := b.Op(ir.OpKVWrite, []*ir.Value{cache, row, slot}, nil)
	*caches = append(*caches, updated)
	cs := b.Split(updated, -1, hk*dk, hk*dv)
	Cd := ir.S(cacheSym)
	kc := b.Reshape(cs[0], Cd, ir.C(hk), ir.C(dk))
	vc := b.Reshape(cs[1], Cd, ir.C(hk), ir.C(dv))
	return b.Op(ir.OpAttentionCache, []*ir.Value{op.Args[0], kc, vc, op.Args[3], op.Args[4], cpos, cseq}, op.Attrs.Clone())
}
