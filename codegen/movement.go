package codegen

import (
	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/program"
	"github.com/llir/llvm/ir/enum"
	"github.com/llir/llvm/ir/value"
)

// Movement kernels: one data-movement op, one thread per output element.
// Each op is an index rule: the output's multi-index → the element it
// reads (loaded and returned in register form). split runs the other way:
// one thread per input element, stored into the output that owns it.

const movementThreads = 256

type moveRule func(k *kernelBuilder, op *ir.Op, idx []value.Value) (value.Value, error)

var moveRules = map[*ir.OpDef]moveRule{
	ir.OpExpand: func(k *kernelBuilder, op *ir.Op, idx []value.Value) (value.Value, error) {
		x := op.Args[0]
		return k.read(x, k.broadcastIndex(idx, x.Type.Shape)), nil
	},
	ir.OpTranspose: func(k *kernelBuilder, op *ir.Op, idx []value.Value) (value.Value, error) {
		x := op.Args[0]
		perm, _ := op.Attrs.Ints("perm")
		in := make([]value.Value, len(idx))
		for a, p := range perm {
			in[p] = idx[a]
		}
		return k.read(x, k.flatten(in, x.Type.Shape)), nil
	},
	ir.OpSlice: func(k *kernelBuilder, op *ir.Op, idx []value.Value) (value.Value, error) {
		x := op.Args[0]
		ax := axisOf(op, len(idx))
		start, _ := op.Attrs.Int("start")
		in := append([]value.Value(nil), idx...)
		in[ax] = k.add(in[ax], ci64(start))
		return k.read(x, k.flatten(in, x.Type.Shape)), nil
	},
	ir.OpConcat: func(k *kernelBuilder, op *ir.Op, idx []value.Value) (value.Value, error) {
		ax := axisOf(op, len(idx))
		var v value.Value
		var off value.Value = ci64(0)
		for _, x := range op.Args {
			size := k.dim(x.Type.Shape[ax])
			in := append([]value.Value(nil), idx...)
			inside := k.b.NewAnd(k.ge(idx[ax], off), k.lt(idx[ax], k.add(off, size)))
			in[ax] = k.sel(inside, k.sub(idx[ax], off), ci64(0))
			e := k.read(x, k.sel(inside, k.flatten(in, x.Type.Shape), ci64(0)))
			if v == nil {
				v = e
			} else {
				v = k.sel(inside, e, v)
			}
			off = k.add(off, size)
		}
		return v, nil
	},
	ir.OpGather: func(k *kernelBuilder, op *ir.Op, idx []value.Value) (value.Value, error) {
		table, ix := op.Args[0], op.Args[1]
		ax := axisOf(op, len(table.Type.Shape))
		r := len(ix.Type.Shape)
		row := k.sext64(k.load(k.at(k.ptrs[ix], k.flatten(idx[ax:ax+r], ix.Type.Shape))))
		in := append(append(append([]value.Value(nil), idx[:ax]...), row), idx[ax+r:]...)
		return k.read(table, k.flatten(in, table.Type.Shape)), nil
	},
	ir.OpTakeAlong: func(k *kernelBuilder, op *ir.Op, idx []value.Value) (value.Value, error) {
		x, ix := op.Args[0], op.Args[1]
		ax := axisOf(op, len(idx))
		j := k.sext64(k.load(k.at(k.ptrs[ix], k.flatten(idx, ix.Type.Shape))))
		in := append([]value.Value(nil), idx...)
		in[ax] = j
		return k.read(x, k.flatten(in, x.Type.Shape)), nil
	},
	ir.OpShift: func(k *kernelBuilder, op *ir.Op, idx []value.Value) (value.Value, error) {
		x, seq := op.Args[0], op.Args[1]
		off, _ := op.Attrs.Int("offset")
		T := k.dim(x.Type.Shape[0])
		src := k.add(idx[0], ci64(off))
		inT := k.b.NewAnd(k.ge(src, ci64(0)), k.lt(src, T))
		srcC := k.sel(inT, src, ci64(0))
		same := k.b.NewICmp(enum.IPredEQ, k.load(k.at(k.ptrs[seq], srcC)), k.load(k.at(k.ptrs[seq], idx[0])))
		ok := k.b.NewAnd(inT, same)
		in := append([]value.Value{srcC}, idx[1:]...)
		v := k.read(x, k.flatten(in, x.Type.Shape))
		return k.sel(ok, v, zeroOf(x.Type.DType)), nil
	},
	ir.OpMoEGather: func(k *kernelBuilder, op *ir.Op, idx []value.Value) (value.Value, error) {
		x, slot := op.Args[0], op.Args[1]
		kk, _ := op.Attrs.Int("k")
		s := k.sext64(k.load(k.at(k.ptrs[slot], idx[0])))
		ok := k.ge(s, ci64(0))
		row := k.sel(ok, k.div(s, ci64(max(kk, 1))), ci64(0))
		v := k.read(x, k.flatten([]value.Value{row, idx[1]}, x.Type.Shape))
		return k.sel(ok, v, zeroOf(x.Type.DType)), nil
	},
}

// moveSpecial are the movement ops that are no index rule: emitMovement
// hands each its own kernel (split runs one thread per input element and
// writes several outputs; kv_write updates its cache in place).
var moveSpecial = map[*ir.OpDef]func(k *kernelBuilder, step *program.Step, op *ir.Op) error{
	ir.OpSplit:   emitSplit,
	ir.OpKVWrite: func(k *kernelBuilder, step *program.Step, _ *ir.Op) error { return emitKVWrite(k, step) },
}

func zeroOf(d ir.DType) value.Value {
	switch rt := regType(d); {
	case rt.Equal(f32):
		return cf32(0)
	default:
		return cint(rt, 0)
	}
}

func axisOf(op *ir.Op, rank int) int {
	ax, _ := op.Attrs.Int("axis")
	if ax < 0 {
		ax += int64(rank)
	}
	return int(ax)
}

func emitMovement(k *kernelBuilder, step *program.Step) error {
	if len(k.r.Ops) != 1 {
		return unsupported("movement region with %d ops", len(k.r.Ops))
	}
	op := k.r.Ops[0]
	if emit, ok := moveSpecial[op.Def()]; ok {
		return emit(k, step, op)
	}
	rule, ok := moveRules[op.Def()]
	if !ok {
		return unsupported("no movement rule for %s", op.Name)
	}
	out := op.Results[0]
	shape := out.Type.Shape
	i := k.globalID()
	var err error
	k.ifThen(k.lt(i, k.numel(shape)), func() {
		var v value.Value
		if v, err = rule(k, op, k.unflatten(i, shape)); err != nil {
			return
		}
		k.store(k.toMem(v, out.Type.DType), k.at(k.ptrs[out], i))
	})
	if err != nil {
		return err
	}
	k.ret()
	step.Launch = program.Launch{Threads: movementThreads, Grid: [3]program.GridDim{gridOf(movementThreads, shape...), one(), one()}}
	return nil
}

func emitSplit(k *kernelBuilder, step *program.Step, op *ir.Op) error {
	x := op.Args[0]
	shape := x.Type.Shape
	ax := axisOf(op, len(shape))
	i := k.globalID()
	k.ifThen(k.lt(i, k.numel(shape)), func() {
		idx := k.unflatten(i, shape)
		v := k.load(k.at(k.ptrs[x], i)) // same dtype: bits move unchanged
		var off value.Value = ci64(0)
		for _, o := range op.Results {
			size := k.dim(o.Type.Shape[ax])
			p, ok := k.ptrs[o]
			if ok {
				inside := k.b.NewAnd(k.ge(idx[ax], off), k.lt(idx[ax], k.add(off, size)))
				k.ifThen(inside, func() {
					out := append([]value.Value(nil), idx...)
					out[ax] = k.sub(idx[ax], off)
					k.store(v, k.at(p, k.flatten(out, o.Type.Shape)))
				})
			}
			off = k.add(off, size)
		}
	})
	k.ret()
	step.Launch = program.Launch{Threads: movementThreads, Grid: [3]program.GridDim{gridOf(movementThreads, shape...), one(), one()}}
	return nil
}
