package ir

// Ops of a lowered mixture of experts (the moe-lower pass). Routing gives
// each token t its k experts idx[t, j]; a slot is s = t·k + j. Dispatch
// sorts the slots by expert into one contiguous row space, each expert's
// rows padded to a multiple of block so that GEMM tiles never straddle two
// experts; the row space has the worst-case size k·T + E·(block−1), known
// before the routing is. Rows that hold no slot are padding: gathers write
// zeros there, grouped GEMMs write zeros there, and combine never reads
// them.

// The lowered-experts ops.
var (
	OpMoEDispatch = declare(&OpDef{Name: "moe_dispatch", Kind: Opaque, Args: 1, Attrs: []string{"experts", "block"}, Doc: "slots of idx [T, k] sorted by expert (stable), each expert's rows padded to a block multiple → slot per row [k·T + E·(block−1)] i32 (−1: padding), rows per expert [E] i32", Infer: inferMoEDispatch, FLOPs: noFLOPs})
	OpMoEGather   = declare(&OpDef{Name: "moe_gather", Kind: Injective, Args: 2, Attrs: []string{"k"}, Doc: "row r of x [N, d] at slot[r] / k, zeros where slot[r] = −1 (k = 1: x holds one row per slot)", Infer: inferMoEGather, FLOPs: noFLOPs, Linear: true})
	OpGroupedGEMM = declare(&OpDef{Name: "grouped_gemm", Kind: Opaque, Args: 3, Attrs: []string{"block"}, Doc: "x [R, in] · w[e]ᵀ for the rows of expert e (its count[e] rows lead a segment of roundup(count[e], block)), w [E, out, in] → [R, out], zero rows elsewhere", Infer: inferGroupedGEMM, FLOPs: groupedGEMMFLOPs, Linear: true})
	OpMoECombine  = declare(&OpDef{Name: "moe_combine", Kind: Opaque, Args: 3, Doc: "y[t] = Σ_j w[t, j] · rows[row of slot t·k+j] in f32, j in order; rows [R, d], slot per row [R], w [T, k] f32 → [T, d] f32", Infer: inferMoECombine, FLOPs: moeCombineFLOPs, Linear: true})
)

// MoERows is the worst-case row count of a dispatch of k slots per token
// over E experts padded to block.
func MoERows(T Dim, k, E, block int64) Dim { return Affine(k, T, E*(block-1)) }

func inferMoEDispatch(a []Type, at Attrs) ([]Type, error) {
	idx := a[0]
	if !idx.DType.IsInt() || len(idx.Shape) != 2 || idx.Shape[1].IsSym() {
		return nil, errf("indices must be an integer [T, k] tensor with constant k, got %s", idx)
	}
	E, _ := at.Int("experts")
	B, _ := at.Int("block")
	if E <= 0 || B <= 0 {
		return nil, errf("experts (%d) and block (%d) must be positive", E, B)
	}
	k := idx.Shape[1].N
	return []Type{
		{Shape{MoERows(idx.Shape[0], k, E, B)}, I32},
		{Shape{C(E)}, I32},
	}, nil
}

func inferMoEGather(a []Type, at Attrs) ([]Type, error) {
	x, slot := a[0], a[1]
	if k, _ := at.Int("k"); k <= 0 {
		return nil, errf("attribute k must be positive")
	}
	if len(x.Shape) != 2 {
		return nil, errf("x must be [N, d], got %s", x.Shape)
	}
	if !slot.DType.IsInt() || len(slot.Shape) != 1 {
		return nil, errf("slots must be an integer [R] tensor, got %s", slot)
	}
	return one(Type{Shape{slot.Shape[0], x.Shape[1]}, x.DType}), nil
}

func inferGroupedGEMM(a []Type, at Attrs) ([]Type, error) {
	x, w, count := a[0], a[1], a[2]
	if b, _ := at.Int("block"); b <= 0 {
		return nil, errf("attribute block must be positive")
	}
	if !x.DType.IsFloat() || !w.DType.IsFloat() {
		return nil, errf("grouped_gemm needs float x and w, got %s and %s", x.DType, w.DType)
	}
	if len(x.Shape) != 2 || len(w.Shape) != 3 {
		return nil, errf("x and w must be [R, in] and [E, out, in], got %s and %s", x.Shape, w.Shape)
	}
	if x.Shape[1] != w.Shape[2] {
		return nil, errf("input dim %s does not match weights %s", x.Shape[1], w.Shape)
	}
	if !count.DType.IsInt() || !count.Shape.Equal(Shape{w.Shape[0]}) {
		return nil, errf("counts must be an integer [%s] tensor, got %s", w.Shape[0], count)
	}
	return one(Type{Shape{x.Shape[0], w.Shape[1]}, x.DType}), nil
}

// groupedGEMMFLOPs counts the k·T routed rows, not the padding: R minus
// E·(block−1) when x is a dispatch's row space.
func groupedGEMMFLOPs(a, _ []Type, at Attrs, env map[string]int64) int64 {
	R, _ := a[0].Shape[0].Eval(env)
	E, _ := a[1].Shape[0].Eval(env)
	out, _ := a[1].Shape[1].Eval(env)
	in, _ := a[1].Shape[2].Eval(env)
	b, _ := at.Int("block")
	rows := max(R-E*(b-1), 0)
	return 2 * rows * out * in
}

func inferMoECombine(a []Type, _ Attrs) ([]Type, error) {
	rows, slot, w := a[0], a[1], a[2]
	if !rows.DType.IsFloat() || len(rows.Shape) != 2 {
		return nil, errf("rows must be a float [R, d] tensor, got %s", rows)
	}
	if !slot.DType.IsInt() || !slot.Shape.Equal(Shape{rows.Shape[0]}) {
		return nil, errf("slots must be an integer [%s] tensor, got %s", rows.Shape[0], slot)
	}
	if w.DType != F32 || len(w.Shape) != 2 {
		return nil, errf("weights must be an f32 [T, k] tensor, got %s", w)
	}
	return one(Type{Shape{w.Shape[0], rows.Shape[1]}, F32}), nil
}

func moeCombineFLOPs(a, r []Type, _ Attrs, env map[string]int64) int64 {
	n, _ := r[0].Shape.Eval(env)
	k, _ := a[2].Shape[1].Eval(env)
	return 2 * n * k
}
