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
	ed := ir.NewEditor(f)
	changed := false
	for _, op := range f.Body {
		if !op.Is(ir.OpAttentionCache) {
			continue
		}
		p, ok := matchLatentKV(op.Args[1], op.Args[2])
		if !ok {
			continue
		}
		// The latent and rotary key are the two halves of one cache value.
		cs := p.latent.Def
		if !cs.Is(ir.OpSplit) || p.latent.Index != 0 || len(cs.Results) != 2 {
			continue
		}
		cache := cs.Args[0]
		r := p.latent.Type.Shape[1].N
		q := op.Args[0]
		H, Cd := ir.C(p.heads), cache.Type.Shape[0]
		b := ed.Before(op)
		w := b.Cast(p.w, q.Type.DType)
		wkv := b.Split(b.Reshape(w, H, ir.C(p.dn+p.dv), ir.C(r)), 1, p.dn, p.dv)
		qs := b.Split(q, -1, p.dn, p.dr)
		qabs := b.Transpose(b.Op(ir.OpMatmul, []*ir.Value{b.Transpose(qs[0], 1, 0, 2), wkv[0]}, nil), 1, 0, 2)
		k := b.Reshape(cache, Cd, ir.C(1), ir.C(r+p.dr))
		v := b.Reshape(p.latent, Cd, ir.C(1), ir.C(r))
		olat := b.Op(ir.OpAttentionCache, []*ir.Value{b.Concat(-1, qabs, qs[1]), k, v, op.Args[3], op.Args[4], op.Args[5], op.Args[6]}, op.Attrs.Clone())
		o := b.Transpose(b.Op(ir.OpMatmul, []*ir.Value{b.Transpose(olat, 1, 0, 2), b.Transpose(wkv[1], 0, 2, 1)}, nil), 1, 0, 2)
		if b.Err() != nil {
			return false, fmt.Errorf("mla-absorb: at %s: %w", op.Loc, b.Err())
		}
		ed.ReplaceAllUses(op.Result(), o)
		ed.Erase(op)
		changed = true
	}
	return changed, ed.Commit()
}
