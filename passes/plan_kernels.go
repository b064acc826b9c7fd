package passes

import (
	"github.com/deepc-dev/deepc/ir"
)

func init() {
	Register(NewPass("plan-kernels", "group ops into GPU kernel regions: elementwise/broadcast chains fused, elementwise epilogues fused into GEMMs; marks each op with kernel = N and the region's kind", runPlanKernels))
}

// Attributes plan-kernels writes on ops: the region id (unique in the
// function) and the region's kernel kind (on every op of the region).
const (
	KernelAttr     = "kernel"
	KernelKindAttr = "kernel_kind"
)

// KernelKinds is the emitter family of each op when it starts a region;
// elementwise and broadcast ops not listed here are "pointwise". The ops in
// noKernel produce none.
var KernelKinds = map[*ir.OpDef]string{
	ir.OpCast: "pointwise", ir.OpWhere: "pointwise",
	ir.OpSum: "rows", ir.OpMean: "rows", ir.OpReduceMax: "rows", ir.OpSoftmax: "rows", ir.OpRMSNorm: "rows",
	ir.OpLinear: "gemm", ir.OpMatmul: "gemm", ir.OpGroupedGEMM: "gemm", ir.OpGroupedLinear: "gemm",
	ir.OpGroupedLinearWGrad: "gemm",
	ir.OpExpand:             "movement", ir.OpTranspose: "movement", ir.OpConcat: "movement", ir.OpSplit: "movement",
	ir.OpSlice: "movement", ir.OpGather: "movement", ir.OpTakeAlong: "movement", ir.OpShift: "movement",
	ir.OpMoEGather: "movement", ir.OpKVWrite: "movement",
	ir.OpTopK: "routing", ir.OpRoute: "routing", ir.OpMoEDispatch: "dispatch", ir.OpMoECombine: "combine",
	ir.OpRope:      "rope",
	ir.OpAttention: "attention", ir.OpAttentionCache: "attention", ir.OpAttentionGrad: "attention_grad",
	ir.OpScatterAdd: "scatter", ir.OpAdamW: "optimizer", ir.OpQuantizeBlocks: "quantize",
}

// noKernel says why an op needs no kernel.
var noKernel = map[*ir.OpDef]string{
	ir.OpParam:   "a weight, bound by the runtime",
	ir.OpReshape: "a view of a contiguous tensor",
	ir.OpConst:   "folded into the kernels that read it",
}

// NoKernel returns why op d needs no GPU kernel, or "" when it needs one.
func NoKernel(d *ir.OpDef) string { return noKernel[d] }

// IsView reports ops that need no kernel.
func IsView(op *ir.Op) bool { return noKernel[op.Def()] != "" }

// KernelKind is the emitter family for op.
func KernelKind(op *ir.Op) string {
	return KernelKindOf(op.Def())
}

// KernelKindOf is the emitter family for op d ("" for none).
func KernelKindOf(d *ir.OpDef) string {
	if k, ok := KernelKinds[d]; ok {
		return k
	}
	if d != nil && (d.Kind == ir.Elementwise || d.Kind == ir.Broadcast) {
		return "pointwise"
	}
	return ""
}

// maxRegionOps bounds a fused region: a long chain (the global gradient
// norm sums every parameter's squares) becomes several kernels instead of
// one whose registers spill.
const maxRegionOps = 32

// fusion rules, as data: a producer of kind P may join a consumer region of
// kind C (the producer's result has the region's output shape and every use
// of it is in that region).
var fusible = map[[2]string]bool{
	{"pointwise", "pointwise"}: true, // elementwise chains
	{"gemm", "pointwise"}:      true, // a GEMM takes its elementwise consumers as its epilogue
}

func runPlanKernels(_ *Context, m *ir.Module) (bool, error) {
	changed := false
	for _, f := range m.Funcs {
		// A composite is planned as one op only when it is pointwise, so
		// that the pointwise emitter takes its decomposition whole; any
		// other is inlined first and planned op by op.
		inlined, err := ir.ExpandComposites(f, func(op *ir.Op) bool { return KernelKind(op) != "pointwise" }, nil)
		if err != nil {
			return changed, err
		}
		changed = changed || inlined
		region := map[*ir.Op]int{}
		kind := map[int]string{}
		shape := map[int]ir.Shape{}
		users := map[*ir.Value][]*ir.Op{}
		for _, op := range f.Body {
			for _, a := range op.Args {
				users[a] = append(users[a], op)
			}
		}
		returned := map[*ir.Value]bool{}
		for _, v := range f.Results {
			returned[v] = true
		}
		size := map[int]int{}
		next := 0
		// Walk backwards: consumers get regions before their producers, and
		// a producer joins when the rules allow.
		for i := len(f.Body) - 1; i >= 0; i-- {
			op := f.Body[i]
			if IsView(op) {
				continue
			}
			k := KernelKind(op)
			if len(op.Results) == 1 && !returned[op.Results[0]] {
				if r, ok := joinTarget(op, users[op.Results[0]], region, kind, shape, k); ok && size[r] < maxRegionOps {
					region[op] = r
					size[r]++
					if k == "gemm" {
						kind[r] = "gemm"
					}
					continue
				}
			}
			region[op] = next
			size[next] = 1
			kind[next] = k
			if len(op.Results) > 0 {
				shape[next] = op.Results[0].Type.Shape
			}
			next++
		}
		// Number regions in program order so that names read top to bottom.
		renum := map[int]int{}
		for _, op := range f.Body {
			r, ok := region[op]
			if !ok {
				continue
			}
			if _, seen := renum[r]; !seen {
				renum[r] = len(renum)
			}
			id, kd := int64(renum[r]), kind[r]
			if old, _ := op.Attrs.Int(KernelAttr); old != id || op.Attrs[KernelAttr] == nil {
				changed = true
			}
			if op.Attrs == nil {
				op.Attrs = ir.Attrs{}
			}
			op.Attrs[KernelAttr] = id
			op.Attrs[KernelKindAttr] = kd
		}
	}
	return changed, nil
}

// joinTarget says which region op's single result may join: all its users
// are in one region whose rules accept op's kind.
func joinTarget(op *ir.Op, us []*ir.Op, region map[*ir.Op]int, kind map[int]string, shape map[int]ir.Shape, k string) (int, bool) {
	if len(us) == 0 {
		return 0, false
	}
	r, ok := region[us[0]]
	if !ok {
		return 0, false
	}
	for _, u := range us[1:] {
		if ru, ok := region[u]; !ok || ru != r {
			return 0, false
		}
	}
	if !fusible[[2]string{k, kind[r]}] || !op.Results[0].Type.Shape.Equal(shape[r]) {
		return 0, false
	}
	// A GEMM joins an epilogue only when it reads nothing the region makes
	// (its operands must exist before the kernel starts) and the region has
	// no GEMM yet.
	if k == "gemm" {
		if kind[r] != "pointwise" {
			return 0, false
		}
		for _, a := range op.Args {
			if a.Def != nil {
				if ra, ok := region[a.Def]; ok && ra == r {
					return 0, false
				}
			}
		}
	}
	return r, true
}
