package ir

// Ops that gradients need and the forward ops cannot express: the adjoints
// of take_along (and so of gather), of grouped_linear's weight operand, and
// of attention. The autodiff pass (passes/autodiff) emits them.

// The gradient ops.
var (
	OpScatterAdd         = declare(&OpDef{Name: "scatter_add", Kind: Opaque, Args: 3, Attrs: []string{"axis"}, Doc: "base with src added along axis at idx (take_along's adjoint): out[..., idx[..., j, ...], ...] += src[..., j, ...]; idx and src share a shape that matches base off axis", Infer: inferScatterAdd, FLOPs: scatterAddFLOPs, Linear: true})
	OpGroupedLinearWGrad = declare(&OpDef{Name: "grouped_linear_wgrad", Kind: Opaque, Args: 3, Attrs: []string{"experts"}, Optional: []string{"fp8"}, Doc: "grouped_linear's weight gradient: dw[e] = Σ over slots (t, j) routed to e of g[t, j]ᵀ · x'[t, j]; x [T, in] or [T, k, in], g [T, k, out], idx [T, k] → [experts, out, in]; fp8 = true: in the FP8 mode both operands are quantized per 128 slots (the weight-gradient GEMM of docs/model.md §5)", Infer: inferGroupedLinearWGrad, FLOPs: groupedLinearWGradFLOPs, Linear: true})
	OpAttentionGrad      = declare(&OpDef{Name: "attention_grad", Kind: Opaque, Args: 6, Attrs: []string{"scale"}, Optional: []string{"causal", "window"}, Doc: "gradients of attention(q, k, v, pos, seq) for the output gradient g: dq, dk, dv (softmax recomputed)", Infer: inferAttentionGrad, FLOPs: attentionGradFLOPs})
)

func inferScatterAdd(a []Type, at Attrs) ([]Type, error) {
	base, idx, src := a[0], a[1], a[2]
	ax, err := axisAttr(base.Shape, at)
	if err != nil {
		return nil, err
	}
	if !idx.DType.IsInt() || !idx.Shape.Equal(src.Shape) || len(src.Shape) != len(base.Shape) {
		return nil, errf("indices %s and values %s must have one shape, of base's rank %d", idx, src.Shape, len(base.Shape))
	}
	if src.DType != base.DType {
		return nil, errf("values %s and base %s differ in dtype", src.DType, base.DType)
	}
	for i := range base.Shape {
		if i != ax && base.Shape[i] != src.Shape[i] {
			return nil, errf("values %s do not match base %s off axis %d", src.Shape, base.Shape, ax)
		}
	}
	return one(base), nil
}

func scatterAddFLOPs(a, _ []Type, _ Attrs, env map[string]int64) int64 {
	n, _ := a[2].Shape.Eval(env)
	return n
}

func inferGroupedLinearWGrad(a []Type, at Attrs) ([]Type, error) {
	x, g, idx := a[0], a[1], a[2]
	E, _ := at.Int("experts")
	if E <= 0 {
		return nil, errf("attribute experts must be positive")
	}
	if !idx.DType.IsInt() || len(idx.Shape) != 2 || len(g.Shape) != 3 || !g.Shape[:2].Equal(idx.Shape) {
		return nil, errf("g must be [T, k, out] with idx [T, k], got %s and %s", g.Shape, idx)
	}
	switch {
	case len(x.Shape) == 2 && x.Shape[0] == idx.Shape[0]:
	case len(x.Shape) == 3 && x.Shape[:2].Equal(idx.Shape):
	default:
		return nil, errf("x must be [%s, in] or [%s, %s, in], got %s", idx.Shape[0], idx.Shape[0], idx.Shape[1], x.Shape)
	}
	if !x.DType.IsFloat() || !g.DType.IsFloat() {
		return nil, errf("x and g must be float, got %s and %s", x.DType, g.DType)
	}
	return one(Type{Shape{C(E), g.Shape[2], x.Shape[len(x.Shape)-1]}, g.DType}), nil
}

func groupedLinearWGradFLOPs(a, _ []Type, _ Attrs, env map[string]int64) int64 {
	n, _ := a[1].Shape.Eval(env)
	in, _ := a[0].Shape[len(a[0].Shape)-1].Eval(env)
	return 2 * n * in
}

func inferAttentionGrad(a []Type, at Attrs) ([]Type, error) {
	out, err := inferAttention(a[:5], at)
	if err != nil {
		return nil, err
	}
	if !a[5].Equal(out[0]) {
		return nil, errf("output gradient must be %s, got %s", out[0], a[5])
	}
	return []Type{a[0], a[1], a[2]}, nil
}

// attentionGradFLOPs: five products where the forward has two (scores
// recomputed, then dv = pᵀ·g, dp = g·vᵀ, dq = ds·k, dk = dsᵀ·q).
func attentionGradFLOPs(a, r []Type, at Attrs, env map[string]int64) int64 {
	return 5 * attentionFLOPs(a[:5], r, at, env) / 2
}

// OpAdamW is the optimizer step.
var OpAdamW = declare(&OpDef{Name: "adamw", Kind: Opaque, Args: 8, Attrs: []string{"beta1", "beta2", "eps", "decay"}, Doc: "one AdamW step on f32 p with gradient g·gscale and moments m, v: m' = β1·m + (1−β1)·g, v' = β2·v + (1−β2)·g², p' = p − lr·((m'/bc1)/(sqrt(v'/bc2) + eps) + decay·p), in f32; operands p, g, m, v, lr, bc1, bc2, gscale (the last four scalars) → p', m', v'", Infer: inferAdamW, FLOPs: perElement(12)})

func inferAdamW(a []Type, at Attrs) ([]Type, error) {
	for _, k := range []string{"beta1", "beta2", "eps", "decay"} {
		if _, ok := at.Float(k); !ok {
			return nil, errf("attribute %s must be a number", k)
		}
	}
	p := a[0]
	if p.DType != F32 {
		return nil, errf("weights must be f32 (masters), got %s", p)
	}
	for i, t := range a[1:4] {
		if !t.Equal(p) {
			return nil, errf("operand %d is %s, want %s like the weights", i+1, t, p)
		}
	}
	for i, t := range a[4:] {
		if !t.Equal(Type{Shape{}, F32}) {
			return nil, errf("operand %d must be an f32 scalar, got %s", i+4, t)
		}
	}
	return []Type{p, p, p}, nil
}
