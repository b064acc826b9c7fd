package codegen

import (
	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/program"
	llir "github.com/llir/llvm/ir"
	"github.com/llir/llvm/ir/types"
	"github.com/llir/llvm/ir/value"
)

// Pointwise kernels: a fused chain of elementwise and broadcast ops (and
// casts and constants) over one output shape. Each thread computes V
// consecutive elements, V chosen so that the widest full-shape tensor moves
// in 16-byte vector loads and stores; operands broadcast from a smaller
// shape are read per element. A tail shorter than V takes the scalar path.

const pointwiseThreads = 256

func emitPointwise(k *kernelBuilder, kern *program.Step) error {
	r := k.r
	shape := r.Outputs[0].Type.Shape
	full := func(v *ir.Value) bool { return v.Type.Shape.Equal(shape) }
	width := int64(1)
	for _, v := range append(append([]*ir.Value(nil), r.Inputs...), r.Outputs...) {
		if full(v) {
			width = max(width, v.Type.DType.Bytes())
		}
	}
	vec := 16 / width
	n := k.numel(shape)
	i0 := k.mul(k.globalID(), ci64(vec))

	compute := func(i value.Value, _ int, loaded map[*ir.Value]value.Value) (map[*ir.Value]value.Value, error) {
		return k.evalElement(i, shape, r.Ops, loaded)
	}

	var err error
	fast := k.b.NewICmp(sle, k.add(i0, ci64(vec)), n)
	vecBlock, scalarBlock, done := k.block("vec"), k.block("scalar"), k.block("done")
	k.b.NewCondBr(fast, vecBlock, scalarBlock)

	// Vector path: full-shape inputs in one load each.
	k.b = vecBlock
	lanes := make([]map[*ir.Value]value.Value, vec)
	for l := range lanes {
		lanes[l] = map[*ir.Value]value.Value{}
	}
	for _, v := range r.Inputs {
		if !full(v) || k.scales[v] != nil { // quantized inputs are read with their scales
			continue
		}
		et := elemType(v.Type.DType)
		vt := types.NewVector(uint64(vec), et)
		p := k.b.NewBitCast(k.at(k.ptrs[v], i0), ptr(vt, global))
		ld := k.b.NewLoad(vt, p)
		ld.Align = llir.Align(vec * v.Type.DType.Bytes()) // the load's own size: narrower inputs are less aligned
		for l := range lanes {
			lanes[l][v] = k.fromMem(k.b.NewExtractElement(ld, ci32(int64(l))), v.Type.DType)
		}
	}
	results := make([]map[*ir.Value]value.Value, vec)
	for l := range lanes {
		if results[l], err = compute(k.add(i0, ci64(int64(l))), l, lanes[l]); err != nil {
			return err
		}
	}
	for _, o := range r.Outputs {
		et := elemType(o.Type.DType)
		vt := types.NewVector(uint64(vec), et)
		var acc value.Value = zeroVector(vt)
		for l := range lanes {
			acc = k.b.NewInsertElement(acc, k.toMem(results[l][o], o.Type.DType), ci32(int64(l)))
		}
		st := k.b.NewStore(acc, k.b.NewBitCast(k.at(k.ptrs[o], i0), ptr(vt, global)))
		st.Align = llir.Align(vec * o.Type.DType.Bytes())
	}
	k.b.NewBr(done)

	// Scalar path for the tail.
	k.b = scalarBlock
	for l := int64(0); l < vec; l++ {
		i := k.add(i0, ci64(l))
		var cerr error
		k.ifThen(k.lt(i, n), func() {
			var vals map[*ir.Value]value.Value
			if vals, cerr = compute(i, int(l), nil); cerr != nil {
				return
			}
			for _, o := range r.Outputs {
				k.store(k.toMem(vals[o], o.Type.DType), k.at(k.ptrs[o], i))
			}
		})
		if cerr != nil {
			return cerr
		}
	}
	k.b.NewBr(done)
	k.b = done
	k.ret()
	kern.Launch = program.Launch{Threads: pointwiseThreads, Grid: [3]program.GridDim{gridOf(pointwiseThreads*vec, shape...), one(), one()}}
	return nil
}

// evalElement computes ops (element-level, in order) at linear index i of
// shape: values in known are given; region inputs are loaded (broadcast)
// and constants folded in. It returns every value it computed or loaded.
func (k *kernelBuilder) evalElement(i value.Value, shape ir.Shape, ops []*ir.Op, known map[*ir.Value]value.Value) (map[*ir.Value]value.Value, error) {
	var idx []value.Value
	vals := map[*ir.Value]value.Value{}
	get := func(v *ir.Value) value.Value {
		if x, ok := vals[v]; ok {
			return x
		}
		if x, ok := known[v]; ok {
			return x
		}
		if isConst(v) {
			x, _ := k.scalarOp(v.Def, nil)
			vals[v] = x
			return x
		}
		if idx == nil {
			idx = k.unflatten(i, shape)
		}
		x := k.read(v, k.broadcastIndex(idx, v.Type.Shape))
		vals[v] = x
		return x
	}
	for _, op := range ops {
		args := make([]value.Value, len(op.Args))
		for j, a := range op.Args {
			args[j] = get(a)
		}
		x, err := k.scalarOp(op, args)
		if err != nil {
			return nil, err
		}
		vals[op.Results[0]] = x
	}
	for v, x := range known {
		if _, ok := vals[v]; !ok {
			vals[v] = x
		}
	}
	return vals, nil
}
