package ir

import (
	"math"
	"slices"
)

// The op table: one declaration per op (see OpDef), each an exported
// handle that other packages compare ops with and key their tables by.
var (
	OpExp     = declare(floatUnaryOp("exp"))
	OpLog     = declare(floatUnaryOp("log"))
	OpSqrt    = declare(floatUnaryOp("sqrt"))
	OpRsqrt   = declare(floatUnaryOp("rsqrt"))
	OpSigmoid = declare(floatUnaryOp("sigmoid"))
	OpSilu    = declare(floatUnaryOp("silu"))
	OpTanh    = declare(floatUnaryOp("tanh"))
	OpErf     = declare(floatUnaryOp("erf"))

	OpNeg  = declare(numericUnaryOp("neg", true))
	OpAbs  = declare(numericUnaryOp("abs", false))
	OpSign = declare(numericUnaryOp("sign", false))

	OpAdd     = declare(binaryOp("add", true))
	OpSub     = declare(binaryOp("sub", true))
	OpMul     = declare(binaryOp("mul", true))
	OpDiv     = declare(binaryOp("div", false))
	OpMaximum = declare(binaryOp("maximum", false))
	OpMinimum = declare(binaryOp("minimum", false))
	OpPow     = declare(binaryOp("pow", false))

	OpEq = declare(compareOp("eq"))
	OpNe = declare(compareOp("ne"))
	OpLt = declare(compareOp("lt"))
	OpLe = declare(compareOp("le"))
	OpGt = declare(compareOp("gt"))
	OpGe = declare(compareOp("ge"))

	OpWhere         = declare(&OpDef{Name: "where", Kind: Broadcast, Args: 3, Doc: "select a where cond else b", Infer: inferWhere, Linear: true})
	OpCast          = declare(&OpDef{Name: "cast", Kind: Elementwise, Args: 1, Attrs: []string{"dtype"}, Doc: "convert to dtype (round to nearest even; saturating to f8e4m3)", Infer: inferCast, FLOPs: noFLOPs, Linear: true})
	OpConst         = declare(&OpDef{Name: "const", Kind: Opaque, Args: 0, Attrs: []string{"value", "dtype"}, Doc: "a scalar constant", Infer: inferConst, FLOPs: noFLOPs})
	OpParam         = declare(&OpDef{Name: "param", Kind: Opaque, Args: 0, Attrs: []string{"name"}, Doc: "read a module parameter", FLOPs: noFLOPs})
	OpSum           = declare(&OpDef{Name: "sum", Kind: Reduction, Args: 1, Attrs: []string{"axis"}, Optional: []string{"keepdim"}, Doc: "sum along axis (keepdim optional)", Infer: inferReduce, FLOPs: reduceFLOPs, Linear: true})
	OpMean          = declare(&OpDef{Name: "mean", Kind: Reduction, Args: 1, Attrs: []string{"axis"}, Optional: []string{"keepdim"}, Doc: "mean along axis (keepdim optional)", Infer: inferReduce, FLOPs: reduceFLOPs, Linear: true})
	OpReduceMax     = declare(&OpDef{Name: "reduce_max", Kind: Reduction, Args: 1, Attrs: []string{"axis"}, Optional: []string{"keepdim"}, Doc: "maximum along axis (keepdim optional)", Infer: inferReduce, FLOPs: reduceFLOPs})
	OpSoftmax       = declare(&OpDef{Name: "softmax", Kind: Reduction, Args: 1, Attrs: []string{"axis"}, Doc: "softmax along axis, computed in f32", Infer: inferSoftmax, FLOPs: perElement(5)})
	OpRMSNorm       = declare(&OpDef{Name: "rms_norm", Kind: Reduction, Args: 2, Attrs: []string{"eps"}, Doc: "x / sqrt(mean(x^2) + eps) * w over the last axis, in f32", Infer: inferRMSNorm, FLOPs: perElement(4)})
	OpLinear        = declare(&OpDef{Name: "linear", Kind: Opaque, Args: 2, Doc: "x[..., in] · w[out, in]ᵀ; w may be block-quantized", Infer: inferLinear, FLOPs: linearFLOPs, Linear: true})
	OpMatmul        = declare(&OpDef{Name: "matmul", Kind: Opaque, Args: 2, Doc: "batched a[..., m, k] · b[..., k, n]", Infer: inferMatmul, FLOPs: matmulFLOPs, Linear: true})
	OpGroupedLinear = declare(&OpDef{Name: "grouped_linear", Kind: Opaque, Args: 3, Doc: "per token t and slot j: x[t(, j)] · w[idx[t, j]]ᵀ; w[E, out, in], idx[T, k] → [T, k, out]", Infer: inferGroupedLinear, FLOPs: groupedLinearFLOPs, Linear: true})
	OpReshape       = declare(&OpDef{Name: "reshape", Kind: Injective, Args: 1, Attrs: []string{"shape"}, Doc: "same elements, new shape", Infer: inferReshape, FLOPs: noFLOPs, Linear: true})
	OpExpand        = declare(&OpDef{Name: "expand", Kind: Injective, Args: 1, Attrs: []string{"shape"}, Doc: "broadcast to shape", Infer: inferExpand, FLOPs: noFLOPs, Linear: true})
	OpTranspose     = declare(&OpDef{Name: "transpose", Kind: Injective, Args: 1, Attrs: []string{"perm"}, Doc: "permute axes", Infer: inferTranspose, FLOPs: noFLOPs, Linear: true})
	OpConcat        = declare(&OpDef{Name: "concat", Kind: Injective, Args: Variadic, Attrs: []string{"axis"}, Doc: "join along axis", Infer: inferConcat, FLOPs: noFLOPs, Linear: true})
	OpSplit         = declare(&OpDef{Name: "split", Kind: Injective, Args: 1, Attrs: []string{"axis", "sizes"}, Doc: "cut along axis into pieces of the given sizes", Infer: inferSplit, FLOPs: noFLOPs, Linear: true})
	OpSlice         = declare(&OpDef{Name: "slice", Kind: Injective, Args: 1, Attrs: []string{"axis", "start", "end"}, Doc: "elements start..end along axis", Infer: inferSlice, FLOPs: noFLOPs, Linear: true})
	OpGather        = declare(&OpDef{Name: "gather", Kind: Injective, Args: 2, Attrs: []string{"axis"}, Doc: "rows of table selected by integer indices (embedding lookup)", Infer: inferGather, FLOPs: noFLOPs, Linear: true})
	OpTakeAlong     = declare(&OpDef{Name: "take_along", Kind: Injective, Args: 2, Attrs: []string{"axis"}, Doc: "x[..., idx[..., j], ...] along axis; idx has x's rank", Infer: inferTakeAlong, FLOPs: noFLOPs, Linear: true})
	OpShift         = declare(&OpDef{Name: "shift", Kind: Injective, Args: 2, Attrs: []string{"offset"}, Doc: "x[t+offset] within t's sequence (by sequence id), zero past its end", Infer: inferShift, FLOPs: noFLOPs, Linear: true})
	OpTopK          = declare(&OpDef{Name: "topk", Kind: Opaque, Args: 1, Attrs: []string{"k"}, Doc: "k largest along the last axis: values and i32 indices", Infer: inferTopK})
	OpRoute         = declare(&OpDef{Name: "route", Kind: Opaque, Args: 1, Attrs: []string{"k", "groups", "topk_groups"}, Optional: []string{"group_top", "balance", "balance_weight"}, Doc: "group-limited top-k: keep the topk_groups best groups (group score: sum of its group_top best), then top k experts; → i32 indices [T, k]. For training, balance names the auxiliary load-balancing loss over the scores (\"sequence\", DeepSeek's per-sequence form, the default; \"batch\", Switch's and Mixtral's over every token of every such layer) and balance_weight its weight (default: the trainer's)", Infer: inferRoute})
	OpRope          = declare(&OpDef{Name: "rope", Kind: Opaque, Args: 2, Attrs: []string{"theta"}, Optional: []string{"scaling", "inverse", "layout", "rotary_dim"}, Doc: "rotary embedding by position of consecutive pairs (layout = \"interleaved\", the default) or of the two halves (layout = \"half\", rotate-half) of the first rotary_dim dims of the last axis (default all; the rest pass through); optional scaling dict (yarn, linear, llama3, dynamic); inverse = true rotates back (its own gradient)", Infer: inferRope, FLOPs: perElement(3)})
	OpAttention     = declare(&OpDef{Name: "attention", Kind: Opaque, Args: 5, Attrs: []string{"scale"}, Optional: []string{"causal", "window"}, Doc: "softmax(q·kᵀ·scale + mask)·v over packed sequences (q, k, v, positions, sequence ids); k and v may have fewer heads than q (a divisor: grouped-query attention); causal unless causal = false; window = W > 0 hides keys W or more positions back (sliding window)", Infer: inferAttention, FLOPs: attentionFLOPs})
)

func floatUnaryOp(name string) *OpDef {
	return &OpDef{Name: name, Kind: Elementwise, Args: 1, Doc: name + " of each element (float)", Infer: unaryFloat}
}

func numericUnaryOp(name string, linear bool) *OpDef {
	return &OpDef{Name: name, Kind: Elementwise, Args: 1, Doc: name + " of each element", Infer: unaryNumeric, Linear: linear}
}

func binaryOp(name string, linear bool) *OpDef {
	return &OpDef{Name: name, Kind: Broadcast, Args: 2, Doc: "elementwise " + name + " with broadcasting; operands share a dtype", Infer: binary(false), Linear: linear}
}

func compareOp(name string) *OpDef {
	return &OpDef{Name: name, Kind: Broadcast, Args: 2, Doc: "elementwise comparison " + name + " giving bool", Infer: binary(true)}
}

func unaryFloat(a []Type, _ Attrs) ([]Type, error) {
	if !a[0].DType.IsFloat() {
		return nil, errf("operand must be a float tensor, got %s", a[0].DType)
	}
	return one(a[0]), nil
}

func unaryNumeric(a []Type, _ Attrs) ([]Type, error) {
	if a[0].DType == Bool {
		return nil, errf("operand must be numeric, got bool")
	}
	return one(a[0]), nil
}

// BroadcastShapes applies numpy broadcasting (aligned from the right, a size-1
// dim stretches).
func BroadcastShapes(s, t Shape) (Shape, error) {
	n := max(len(s), len(t))
	out := make(Shape, n)
	for i := 0; i < n; i++ {
		var a, b Dim = C(1), C(1)
		if j := len(s) - n + i; j >= 0 {
			a = s[j]
		}
		if j := len(t) - n + i; j >= 0 {
			b = t[j]
		}
		switch {
		case a == b:
			out[i] = a
		case a == C(1):
			out[i] = b
		case b == C(1):
			out[i] = a
		default:
			return nil, errf("shapes %s and %s do not broadcast (dim %d: %s vs %s)", s, t, i, a, b)
		}
	}
	return out, nil
}

func binary(compare bool) func([]Type, Attrs) ([]Type, error) {
	return func(a []Type, _ Attrs) ([]Type, error) {
		if a[0].DType != a[1].DType {
			return nil, errf("dtype mismatch: %s vs %s", a[0].DType, a[1].DType)
		}
		s, err := BroadcastShapes(a[0].Shape, a[1].Shape)
		if err != nil {
			return nil, err
		}
		dt := a[0].DType
		if compare {
			dt = Bool
		}
		return one(Type{s, dt}), nil
	}
}

func inferWhere(a []Type, _ Attrs) ([]Type, error) {
	if a[0].DType != Bool {
		return nil, errf("condition must be bool, got %s", a[0].DType)
	}
	if a[1].DType != a[2].DType {
		return nil, errf("dtype mismatch: %s vs %s", a[1].DType, a[2].DType)
	}
	s, err := BroadcastShapes(a[0].Shape, a[1].Shape)
	if err == nil {
		s, err = BroadcastShapes(s, a[2].Shape)
	}
	if err != nil {
		return nil, err
	}
	return one(Type{s, a[1].DType}), nil
}

func dtypeAttr(at Attrs) (DType, error) {
	dt, ok := at["dtype"].(DType)
	if !ok || !dt.Valid() {
		return Invalid, errf("attribute dtype must be a dtype")
	}
	return dt, nil
}

func inferCast(a []Type, at Attrs) ([]Type, error) {
	dt, err := dtypeAttr(at)
	if err != nil {
		return nil, err
	}
	return one(Type{a[0].Shape, dt}), nil
}

func inferConst(_ []Type, at Attrs) ([]Type, error) {
	dt, err := dtypeAttr(at)
	if err != nil {
		return nil, err
	}
	switch at["value"].(type) {
	case int64, float64, bool:
	default:
		return nil, errf("attribute value must be a number or bool")
	}
	return one(Type{Shape{}, dt}), nil
}

func axisAttr(s Shape, at Attrs) (int, error) {
	a, ok := at.Int("axis")
	if !ok {
		return 0, errf("attribute axis must be an integer")
	}
	return s.Axis(a)
}

func inferReduce(a []Type, at Attrs) ([]Type, error) {
	ax, err := axisAttr(a[0].Shape, at)
	if err != nil {
		return nil, err
	}
	if a[0].DType == Bool {
		return nil, errf("cannot reduce a bool tensor")
	}
	keep, _ := at.Bool("keepdim")
	s := slices.Clone(a[0].Shape)
	if keep {
		s[ax] = C(1)
	} else {
		s = slices.Delete(s, ax, ax+1)
	}
	return one(Type{s, a[0].DType}), nil
}

func reduceFLOPs(a, _ []Type, _ Attrs, env map[string]int64) int64 {
	n, _ := a[0].Shape.Eval(env)
	return n
}

func inferSoftmax(a []Type, at Attrs) ([]Type, error) {
	if _, err := axisAttr(a[0].Shape, at); err != nil {
		return nil, err
	}
	return unaryFloat(a, at)
}

func lastDim(s Shape) (Dim, error) {
	if len(s) == 0 {
		return Dim{}, errf("expected a tensor of rank >= 1, got a scalar")
	}
	return s[len(s)-1], nil
}

func inferRMSNorm(a []Type, at Attrs) ([]Type, error) {
	if _, ok := at.Float("eps"); !ok {
		return nil, errf("attribute eps must be a number")
	}
	d, err := lastDim(a[0].Shape)
	if err != nil {
		return nil, err
	}
	if !a[0].DType.IsFloat() || !a[1].DType.IsFloat() {
		return nil, errf("rms_norm needs float operands, got %s and %s", a[0].DType, a[1].DType)
	}
	if !a[1].Shape.Equal(Shape{d}) {
		return nil, errf("weight shape %s does not match the last dim %s of %s", a[1].Shape, d, a[0].Shape)
	}
	return one(a[0]), nil
}

func inferLinear(a []Type, _ Attrs) ([]Type, error) {
	x, w := a[0], a[1]
	if !x.DType.IsFloat() || !w.DType.IsFloat() {
		return nil, errf("linear needs float operands, got %s and %s", x.DType, w.DType)
	}
	if len(w.Shape) != 2 {
		return nil, errf("weight must be [out, in], got %s", w.Shape)
	}
	in, err := lastDim(x.Shape)
	if err != nil {
		return nil, err
	}
	if in != w.Shape[1] {
		return nil, errf("input dim %s does not match weight %s (weights are [out, in])", in, w.Shape)
	}
	s := slices.Clone(x.Shape)
	s[len(s)-1] = w.Shape[0]
	return one(Type{s, x.DType}), nil
}

func linearFLOPs(a, r []Type, _ Attrs, env map[string]int64) int64 {
	n, _ := r[0].Shape.Eval(env)
	k, _ := a[1].Shape[1].Eval(env)
	return 2 * n * k
}

func inferMatmul(a []Type, _ Attrs) ([]Type, error) {
	x, y := a[0], a[1]
	// As linear's weight, b may be another float dtype (a weight matrix
	// read directly); the result has a's dtype.
	if x.DType != y.DType && !(x.DType.IsFloat() && y.DType.IsFloat()) {
		return nil, errf("dtype mismatch: %s vs %s", x.DType, y.DType)
	}
	if len(x.Shape) < 2 || len(x.Shape) != len(y.Shape) {
		return nil, errf("matmul needs operands of equal rank >= 2, got %s and %s", x.Shape, y.Shape)
	}
	r := len(x.Shape)
	if !x.Shape[:r-2].Equal(y.Shape[:r-2]) {
		return nil, errf("batch dims differ: %s vs %s", x.Shape, y.Shape)
	}
	if x.Shape[r-1] != y.Shape[r-2] {
		return nil, errf("contraction dims differ: %s vs %s", x.Shape, y.Shape)
	}
	s := slices.Clone(x.Shape)
	s[r-1] = y.Shape[r-1]
	return one(Type{s, x.DType}), nil
}

func matmulFLOPs(a, r []Type, _ Attrs, env map[string]int64) int64 {
	n, _ := r[0].Shape.Eval(env)
	k, _ := a[0].Shape[len(a[0].Shape)-1].Eval(env)
	return 2 * n * k
}

func inferGroupedLinear(a []Type, _ Attrs) ([]Type, error) {
	x, w, idx := a[0], a[1], a[2]
	if !x.DType.IsFloat() || !w.DType.IsFloat() {
		return nil, errf("grouped_linear needs float x and w, got %s and %s", x.DType, w.DType)
	}
	if !idx.DType.IsInt() || len(idx.Shape) != 2 {
		return nil, errf("indices must be an integer [T, k] tensor, got %s", idx)
	}
	if len(w.Shape) != 3 {
		return nil, errf("weights must be [E, out, in], got %s", w.Shape)
	}
	T, k := idx.Shape[0], idx.Shape[1]
	switch {
	case len(x.Shape) == 2 && x.Shape[0] == T:
	case len(x.Shape) == 3 && x.Shape[0] == T && x.Shape[1] == k:
	default:
		return nil, errf("input must be [%s, in] or [%s, %s, in], got %s", T, T, k, x.Shape)
	}
	if x.Shape[len(x.Shape)-1] != w.Shape[2] {
		return nil, errf("input dim %s does not match weights %s", x.Shape[len(x.Shape)-1], w.Shape)
	}
	return one(Type{Shape{T, k, w.Shape[1]}, x.DType}), nil
}

func groupedLinearFLOPs(a, r []Type, _ Attrs, env map[string]int64) int64 {
	n, _ := r[0].Shape.Eval(env)
	k, _ := a[1].Shape[2].Eval(env)
	return 2 * n * k
}

func inferReshape(a []Type, at Attrs) ([]Type, error) {
	s, ok := at.Shape("shape")
	if !ok {
		return nil, errf("attribute shape must be a shape")
	}
	if a[0].Shape.Numel() != s.Numel() {
		return nil, errf("cannot reshape %s (%s elements) to %s (%s elements)", a[0].Shape, a[0].Shape.Numel(), s, s.Numel())
	}
	return one(Type{s, a[0].DType}), nil
}

func inferExpand(a []Type, at Attrs) ([]Type, error) {
	s, ok := at.Shape("shape")
	if !ok {
		return nil, errf("attribute shape must be a shape")
	}
	b, err := BroadcastShapes(a[0].Shape, s)
	if err != nil || !b.Equal(s) {
		return nil, errf("cannot expand %s to %s", a[0].Shape, s)
	}
	return one(Type{s, a[0].DType}), nil
}

func inferTranspose(a []Type, at Attrs) ([]Type, error) {
	perm, ok := at.Ints("perm")
	s := a[0].Shape
	if !ok || len(perm) != len(s) {
		return nil, errf("attribute perm must list %d axes", len(s))
	}
	out := make(Shape, len(s))
	seen := make([]bool, len(s))
	for i, p := range perm {
		if p < 0 || int(p) >= len(s) || seen[p] {
			return nil, errf("perm %v is not a permutation of %d axes", perm, len(s))
		}
		seen[p] = true
		out[i] = s[p]
	}
	return one(Type{out, a[0].DType}), nil
}

func inferConcat(a []Type, at Attrs) ([]Type, error) {
	ax, err := axisAttr(a[0].Shape, at)
	if err != nil {
		return nil, err
	}
	out := slices.Clone(a[0].Shape)
	for i, t := range a[1:] {
		if t.DType != a[0].DType {
			return nil, errf("dtype mismatch: operand %d is %s, operand 0 is %s", i+1, t.DType, a[0].DType)
		}
		if len(t.Shape) != len(out) {
			return nil, errf("rank mismatch: operand %d is %s, operand 0 is %s", i+1, t.Shape, a[0].Shape)
		}
		for j, d := range t.Shape {
			if j == ax {
				if d.IsSym() || out[j].IsSym() {
					return nil, errf("cannot concat along symbolic dim %s", d)
				}
				out[j].N += d.N
			} else if d != out[j] {
				return nil, errf("operand %d shape %s does not match %s off the concat axis", i+1, t.Shape, a[0].Shape)
			}
		}
	}
	return one(Type{out, a[0].DType}), nil
}

func inferSplit(a []Type, at Attrs) ([]Type, error) {
	ax, err := axisAttr(a[0].Shape, at)
	if err != nil {
		return nil, err
	}
	sizes, ok := at.Ints("sizes")
	if !ok || len(sizes) == 0 {
		return nil, errf("attribute sizes must be a non-empty integer list")
	}
	d := a[0].Shape[ax]
	var total int64
	for _, n := range sizes {
		if n <= 0 {
			return nil, errf("split sizes must be positive, got %v", sizes)
		}
		if total > math.MaxInt64-n {
			return nil, errf("split sizes %v overflow", sizes)
		}
		total += n
	}
	if d.IsSym() || d.N != total {
		return nil, errf("split sizes %v sum to %d but the dim is %s", sizes, total, d)
	}
	var out []Type
	for _, n := range sizes {
		s := slices.Clone(a[0].Shape)
		s[ax] = C(n)
		out = append(out, Type{s, a[0].DType})
	}
	return out, nil
}

func inferSlice(a []Type, at Attrs) ([]Type, error) {
	ax, err := axisAttr(a[0].Shape, at)
	if err != nil {
		return nil, err
	}
	start, ok1 := at.Int("start")
	end, ok2 := at.Int("end")
	d := a[0].Shape[ax]
	if !ok1 || !ok2 || d.IsSym() || start < 0 || end <= start || end > d.N {
		return nil, errf("slice %d..%d is not within dim %s", start, end, d)
	}
	s := slices.Clone(a[0].Shape)
	s[ax] = C(end - start)
	return one(Type{s, a[0].DType}), nil
}

func inferGather(a []Type, at Attrs) ([]Type, error) {
	ax, err := axisAttr(a[0].Shape, at)
	if err != nil {
		return nil, err
	}
	if !a[1].DType.IsInt() {
		return nil, errf("indices must be integers, got %s", a[1].DType)
	}
	s := append(slices.Clone(a[0].Shape[:ax]), a[1].Shape...)
	s = append(s, a[0].Shape[ax+1:]...)
	return one(Type{s, a[0].DType}), nil
}

func inferTakeAlong(a []Type, at Attrs) ([]Type, error) {
	ax, err := axisAttr(a[0].Shape, at)
	if err != nil {
		return nil, err
	}
	x, idx := a[0], a[1]
	if !idx.DType.IsInt() || len(idx.Shape) != len(x.Shape) {
		return nil, errf("indices must be integers of rank %d, got %s", len(x.Shape), idx)
	}
	for i := range x.Shape {
		if i != ax && x.Shape[i] != idx.Shape[i] {
			return nil, errf("indices %s do not match %s off axis %d", idx.Shape, x.Shape, ax)
		}
	}
	return one(Type{slices.Clone(idx.Shape), x.DType}), nil
}

// tokens checks that t is a per-token integer vector matching x's first dim.
func tokens(what string, t Type, x Type) error {
	if len(x.Shape) == 0 {
		return errf("expected a per-token tensor, got a scalar")
	}
	if !t.DType.IsInt() || !t.Shape.Equal(Shape{x.Shape[0]}) {
		return errf("%s must be an integer [%s] tensor, got %s", what, x.Shape[0], t)
	}
	return nil
}

func inferShift(a []Type, at Attrs) ([]Type, error) {
	if _, ok := at.Int("offset"); !ok {
		return nil, errf("attribute offset must be an integer")
	}
	if err := tokens("sequence ids", a[1], a[0]); err != nil {
		return nil, err
	}
	return one(a[0]), nil
}

func inferTopK(a []Type, at Attrs) ([]Type, error) {
	k, ok := at.Int("k")
	d, err := lastDim(a[0].Shape)
	if err != nil {
		return nil, err
	}
	if !ok || k <= 0 || d.IsSym() || k > d.N {
		return nil, errf("k = %d must be in 1..%s", k, d)
	}
	s := slices.Clone(a[0].Shape)
	s[len(s)-1] = C(k)
	return []Type{{s, a[0].DType}, {slices.Clone(s), I32}}, nil
}

func inferRoute(a []Type, at Attrs) ([]Type, error) {
	s := a[0]
	if len(s.Shape) != 2 || !s.DType.IsFloat() || s.Shape[1].IsSym() {
		return nil, errf("scores must be a float [T, E] tensor, got %s", s)
	}
	E := s.Shape[1].N
	k, _ := at.Int("k")
	g, _ := at.Int("groups")
	kg, _ := at.Int("topk_groups")
	top := int64(1)
	if v, ok := at.Int("group_top"); ok {
		top = v
	}
	switch {
	case g <= 0 || E%g != 0:
		return nil, errf("groups = %d must divide the %d experts", g, E)
	case kg <= 0 || kg > g:
		return nil, errf("topk_groups = %d must be in 1..groups (%d)", kg, g)
	case k <= 0 || k > kg*(E/g):
		return nil, errf("k = %d must be in 1..%d (experts in the kept groups)", k, kg*(E/g))
	case top <= 0 || top > E/g:
		return nil, errf("group_top = %d must be in 1..%d (experts per group)", top, E/g)
	}
	if v, ok := at["balance"]; ok && v != "sequence" && v != "batch" {
		return nil, errf("balance = %v must be \"sequence\" or \"batch\"", v)
	}
	if _, ok := at["balance_weight"]; ok {
		if w, ok := at.Float("balance_weight"); !ok || !(w >= 0) || math.IsInf(w, 1) {
			return nil, errf("balance_weight must be a non-negative, finite number")
		}
	}
	return one(Type{Shape{s.Shape[0], C(k)}, I32}), nil
}

// ropeFreqs is RopeFreqs, bound in init: a direct reference from rope's
// inference would make the op's declaration wait for rope.go's tables and
// move rope in the op table's order.
var ropeFreqs func(d int, theta float64, scaling Attrs) ([]float64, error)

func init() { ropeFreqs = RopeFreqs }

func inferRope(a []Type, at Attrs) ([]Type, error) {
	x := a[0]
	if _, ok := at.Float("theta"); !ok {
		return nil, errf("attribute theta must be a number")
	}
	if v, ok := at["scaling"]; ok {
		if _, ok := v.(Attrs); !ok {
			return nil, errf("attribute scaling must be a dict")
		}
	}
	if !x.DType.IsFloat() || len(x.Shape) < 2 {
		return nil, errf("rope needs a float [T, ..., d] tensor, got %s", x)
	}
	d := x.Shape[len(x.Shape)-1]
	if d.IsSym() || d.N%2 != 0 {
		return nil, errf("rotary dim %s must be even", d)
	}
	if err := tokens("positions", a[1], x); err != nil {
		return nil, err
	}
	if _, err := RopeHalf(at); err != nil {
		return nil, err
	}
	r, err := RopeRotaryDim(at, d.N)
	if err != nil {
		return nil, err
	}
	// A typed scaling the backends would refuse at run time is refused
	// here (the IR's tests carry untyped dicts as attribute vessels).
	if sc, ok := at.Dict("scaling"); ok && sc["type"] != nil {
		theta, _ := at.Float("theta")
		if _, err := ropeFreqs(int(r), theta, sc); err != nil {
			return nil, errf("%v", err)
		}
	}
	return one(x), nil
}

// RopeHalf reads rope's layout attribute: false for "interleaved" (the
// default: pairs (x[2i], x[2i+1]), DeepSeek's), true for "half" (pairs
// (x[i], x[i+d/2]), the rotate-half form of Llama-family checkpoints).
func RopeHalf(at Attrs) (bool, error) {
	v, ok := at["layout"]
	if !ok {
		return false, nil
	}
	switch v {
	case "interleaved":
		return false, nil
	case "half":
		return true, nil
	}
	return false, errf("attribute layout must be \"interleaved\" or \"half\", got %v", v)
}

func inferAttention(a []Type, at Attrs) ([]Type, error) {
	q, k, v := a[0], a[1], a[2]
	if _, ok := at.Float("scale"); !ok {
		return nil, errf("attribute scale must be a number")
	}
	if _, err := AttentionMaskOf(at); err != nil {
		return nil, err
	}
	if len(q.Shape) != 3 || len(k.Shape) != 3 || len(v.Shape) != 3 {
		return nil, errf("q, k, v must be [T, H, d], got %s, %s, %s", q.Shape, k.Shape, v.Shape)
	}
	if q.DType != k.DType || q.DType != v.DType || !q.DType.IsFloat() {
		return nil, errf("q, k, v must share a float dtype, got %s, %s, %s", q.DType, k.DType, v.DType)
	}
	if k.Shape[0] != q.Shape[0] || k.Shape[2] != q.Shape[2] {
		return nil, errf("q %s and k %s must match in tokens and head dim", q.Shape, k.Shape)
	}
	if !v.Shape[:2].Equal(k.Shape[:2]) {
		return nil, errf("v %s must match k %s in tokens and heads", v.Shape, k.Shape)
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
	return one(Type{Shape{q.Shape[0], q.Shape[1], v.Shape[2]}, q.DType}), nil
}

// KVGroup is the number of query heads that read each key/value head,
// H/Hk, for constant head counts where Hk divides H (grouped-query
// attention; 1 for MHA, H for MQA).
func KVGroup(h, hk Dim) (int64, error) {
	if h.IsSym() || hk.IsSym() || hk.N <= 0 || h.N%hk.N != 0 {
		return 0, errf("%s query heads over %s key/value heads: want constant counts, the second dividing the first", h, hk)
	}
	return h.N / hk.N, nil
}

// kvHeads checks that the key/value heads Hk divide the query heads H:
// query head h reads key/value head h / (H/Hk) (MHA: Hk = H; GQA; MQA: Hk = 1).
func kvHeads(h, hk Dim) error {
	if h == hk || hk == C(1) {
		return nil
	}
	if h.IsSym() || hk.IsSym() || hk.N <= 0 || h.N%hk.N != 0 {
		return errf("k and v have %s heads, which must divide q's %s", hk, h)
	}
	return nil
}

// AttentionMask is what attention's attributes hide: later keys when
// Causal, and keys Window or more positions back when Window > 0.
type AttentionMask struct {
	Causal bool
	Window int64
}

// AttentionMaskOf reads the causal (default true) and window (default 0,
// no window) attributes.
func AttentionMaskOf(at Attrs) (AttentionMask, error) {
	m := AttentionMask{Causal: true}
	if v, ok := at["causal"]; ok {
		if m.Causal, ok = v.(bool); !ok {
			return m, errf("attribute causal must be a bool")
		}
	}
	if _, ok := at["window"]; ok {
		w, ok := at.Int("window")
		if !ok || w < 0 {
			return m, errf("attribute window must be a non-negative integer (0: no window)")
		}
		m.Window = w
	}
	return m, nil
}

// Visible reports whether a query at position qpos sees a key (of its
// sequence) at kpos.
func (m AttentionMask) Visible(qpos, kpos int64) bool {
	return (!m.Causal || kpos <= qpos) && (m.Window <= 0 || qpos-kpos < m.Window)
}

// attentionFLOPs counts q·kᵀ and p·v over one sequence of T tokens: a
// query sees the keys at or before it (or the last W of them, with a
// window), and every later key when not causal.
func attentionFLOPs(a, _ []Type, at Attrs, env map[string]int64) int64 {
	T, _ := a[0].Shape[0].Eval(env)
	H, _ := a[0].Shape[1].Eval(env)
	dq, _ := a[0].Shape[2].Eval(env)
	dv, _ := a[2].Shape[2].Eval(env)
	// Keys at or before the query: all of them, or the last W.
	m, _ := AttentionMaskOf(at)
	pairs := T * (T + 1) / 2
	if W := m.Window; W > 0 && W < T {
		pairs = W*(W+1)/2 + (T-W)*W
	}
	if !m.Causal { // and every later key
		pairs += T * (T - 1) / 2
	}
	return 2 * H * pairs * (dq + dv)
}
