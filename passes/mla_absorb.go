package passes

import (
	"fmt"

	"github.com/deepc-dev/deepc/ir"
)

func init() {
	Register(NewPass("mla-absorb", "in decode, attend over the cached latent directly: fold the key up-projection into the query and apply the value up-projection after attention", runMLAAbsorb, "kv-cache"))
}

// runMLAAbsorb rewrites every attention_cache of decode whose K and V are
// up-projected from the cached latent c (per head h: k_h = Wk_h·c, v_h =
// Wv_h·c, with Wk, Wv the head slices of w). Since q_h·k_h = (Wk_hᵀ q_h)·c
// and Σ p·v_h = Wv_h (Σ p·c), attention runs on the latent with one shared
// "head" of keys [c, kr] and values c, and no slot is ever up-projected:
//
//	q'  = concat(transpose(qn[H,T,dn] @ Wk[H,dn,r]), qr)   [T, H, r+dr]
//	o'  = attention_cache(q', [c, kr] as [C, 1, r+dr], c as [C, 1, r])
//	o   = transpose(o'[H,T,r] @ Wv[H,r,dv]ᵀ)               [T, H, dv]
//
// dce then removes the up-projection of the whole cache.
func runMLAAbsorb(ctx *Context, m *ir.Module) (bool, error) {
	changed := false
	for _, name := range []string{DecodeFunc, MTPDecodeFunc} {
		if f := m.Func(name); f != nil {
			c, err := absorb(f)
			if err != nil {
				return false, err
			}
			changed = changed || c
		}
	}
	if !changed && m.Func(DecodeFunc) == nil {
		fmt.Fprintf(ctx.Writer(), "mla-absorb: no %s function; nothing to do\n", DecodeFunc)
	}
	return changed, nil
}

// absorb rewrites f's latent attentions over a cache (see runMLAAbsorb).
func absorb(f *ir.Func) (bool, error) {
	var err error
	changed := rewriteFunc(f, func(rw *rewriter, op *ir.Op) bool {
		if !op.Is(ir.OpAttentionCache) || err != nil {
			return false
		}
		p, ok := matchLatentKV(op.Args[1], op.Args[2])
		if !ok {
			return false
		}
		// The latent and rotary key are the two halves of one cache value.
		cs := p.latent.Def
		if !cs.Is(ir.OpSplit) || p.latent.Index != 0 || len(cs.Results) != 2 {
			return false
		}
		cache := cs.Args[0]
		r := p.latent.Type.Shape[1].N
		q := op.Args[0]
		H, Cd := ir.C(p.heads), cache.Type.Shape[0]
		b := &builder{rw: rw}
		w := b.one(ir.OpCast, []*ir.Value{p.w}, ir.Attrs{"dtype": q.Type.DType})
		wkv := b.split(b.reshape(w, H, ir.C(p.dn+p.dv), ir.C(r)), 1, p.dn, p.dv)
		qs := b.split(q, -1, p.dn, p.dr)
		qabs := b.transpose(b.one(ir.OpMatmul, []*ir.Value{b.transpose(qs[0], 1, 0, 2), wkv[0]}, nil), 1, 0, 2)
		k := b.reshape(cache, Cd, ir.C(1), ir.C(r+p.dr))
		v := b.reshape(p.latent, Cd, ir.C(1), ir.C(r))
		olat := b.one(ir.OpAttentionCache, []*ir.Value{b.concat(-1, qabs, qs[1]), k, v, op.Args[3], op.Args[4], op.Args[5], op.Args[6]}, op.Attrs.Clone())
		o := b.transpose(b.one(ir.OpMatmul, []*ir.Value{b.transpose(olat, 1, 0, 2), b.transpose(wkv[1], 0, 2, 1)}, nil), 1, 0, 2)
		if b.err != nil {
			err = fmt.Errorf("mla-absorb: at %s: %w", op.Loc, b.err)
			rw.discard()
			return false
		}
		rw.replace(op.Result(), o)
		return true
	})
	return changed, err
}
