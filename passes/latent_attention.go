package passes

import "github.com/deepc-dev/deepc/ir"

// latentKV is the pattern both inference passes look for: attention whose
// K and V are up-projected from a low-rank latent (MLA, but nothing here is
// named after a model):
//
//	kvu       = linear(latent [N, r], w [H*(dn+dv), r])
//	kn, v     = split(reshape(kvu, [N, H, dn+dv]), [dn, dv])
//	k         = concat(kn, expand(kr [N, 1, dr], [N, H, dr]))
//
// N is the token count T (in forward) or the slot count C (over a cache).
type latentKV struct {
	latent, kr, w *ir.Value
	heads, dn, dv int64
	dr            int64
}

// defOf returns v's defining op if it is a d.
func defOf(v *ir.Value, d *ir.OpDef) *ir.Op {
	if v.Def.Is(d) {
		return v.Def
	}
	return nil
}

// matchLatentKV matches k and v of an attention op against the pattern.
func matchLatentKV(k, v *ir.Value) (latentKV, bool) {
	var p latentKV
	cat := defOf(k, ir.OpConcat)
	if cat == nil || len(cat.Args) != 2 || !lastAxis(cat) {
		return p, false
	}
	kn, ke := cat.Args[0], cat.Args[1]
	split := defOf(kn, ir.OpSplit)
	if split == nil || v.Def != split || kn.Index != 0 || v.Index != 1 || len(split.Results) != 2 || !lastAxis(split) {
		return p, false
	}
	exp := defOf(ke, ir.OpExpand)
	if exp == nil || len(exp.Args[0].Type.Shape) != 3 || exp.Args[0].Type.Shape[1] != ir.C(1) {
		return p, false
	}
	rs := defOf(split.Args[0], ir.OpReshape)
	if rs == nil {
		return p, false
	}
	lin := defOf(rs.Args[0], ir.OpLinear)
	if lin == nil || len(lin.Args[0].Type.Shape) != 2 {
		return p, false
	}
	s3 := rs.Result().Type.Shape
	if len(s3) != 3 || s3[1].IsSym() || s3[2].IsSym() || s3[0] != lin.Args[0].Type.Shape[0] {
		return p, false
	}
	dims := func(v *ir.Value) int64 { return v.Type.Shape[2].N }
	p = latentKV{latent: lin.Args[0], kr: exp.Args[0], w: lin.Args[1], heads: s3[1].N, dn: dims(kn), dv: dims(v), dr: dims(ke)}
	return p, !p.kr.Type.Shape[2].IsSym()
}

// lastAxis reports whether a concat or split works on its operand's last axis.
func lastAxis(op *ir.Op) bool {
	ax, ok := op.Attrs.Int("axis")
	if !ok {
		return false
	}
	r := int64(len(op.Args[0].Type.Shape))
	return ax == -1 || ax == r-1
}
