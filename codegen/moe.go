package codegen

import (
	"github.com/deepc-dev/deepc/program"
	"github.com/llir/llvm/ir/enum"
	"github.com/llir/llvm/ir/value"
)

// MoE dispatch and combine.
//
// moe_dispatch runs as one block: thread e counts expert e's slots and
// writes them in slot order into its segment (stable, as the CPU orders
// them), after thread 0 has laid out the segments; rows past the counts
// are −1. Work is E·T·k loads spread over E threads: fine for decode and
// modest prefill batches; a histogram + scan version is the next step.
//
// moe_combine: one block per token, whose threads scan the slot array for
// the token's k slots (the op carries no inverse map), then sum w·row over
// the k choices in order, products rounded to f32 and summed in f64 as
// the CPU does.

func emitDispatch(k *kernelBuilder, step *program.Step) error {
	op := k.r.Ops[0]
	idx := op.Args[0]
	E, _ := op.Attrs.Int("experts")
	block, _ := op.Attrs.Int("block")
	if E > 1024 {
		return unsupported("moe_dispatch over %d experts", E)
	}
	slot, count := op.Results[0], op.Results[1]
	n := k.numel(idx.Type.Shape)
	R := k.numel(slot.Type.Shape)
	tid := k.zext64(k.sreg("tid.x"))
	starts := k.sharedArray("seg", E+1, i64)
	// Phase 1: counts.
	k.ifThen(k.lt(tid, ci64(E)), func() {
		c := k.loop(ci64(0), n, ci64(1), []value.Value{ci64(0)}, func(s value.Value, c []value.Value) []value.Value {
			e := k.sext64(k.load(k.at(k.ptrs[idx], s)))
			return []value.Value{k.add(c[0], k.b.NewZExt(k.b.NewICmp(enum.IPredEQ, e, tid), i64))}
		})[0]
		k.store(c, k.sharedAt(starts, k.add(tid, ci64(1))))
		if p, ok := k.ptrs[count]; ok {
			k.store(k.b.NewTrunc(c, i32), k.at(p, tid))
		}
	})
	k.barrier()
	// Phase 2: segment starts (padded to the block) by thread 0.
	k.ifThen(k.b.NewICmp(enum.IPredEQ, tid, ci64(0)), func() {
		k.store(ci64(0), k.sharedAt(starts, ci64(0)))
		k.loop(ci64(1), ci64(E+1), ci64(1), []value.Value{ci64(0)}, func(e value.Value, c []value.Value) []value.Value {
			cnt := k.load(k.sharedAt(starts, e))
			next := k.add(c[0], k.mul(k.div(k.add(cnt, ci64(block-1)), ci64(block)), ci64(block)))
			k.store(next, k.sharedAt(starts, e))
			return []value.Value{next}
		})
	})
	k.barrier()
	// Phase 3: every row −1, then each expert's slots in order.
	k.loop(tid, R, ci64(1024), nil, func(r value.Value, _ []value.Value) []value.Value {
		k.store(ci32(-1), k.at(k.ptrs[slot], r))
		return nil
	})
	k.barrier()
	k.ifThen(k.lt(tid, ci64(E)), func() {
		// starts[e] now holds the end of segment e-1 = the start of e.
		start := k.sel(k.b.NewICmp(enum.IPredEQ, tid, ci64(0)), ci64(0), k.load(k.sharedAt(starts, tid)))
		k.loop(ci64(0), n, ci64(1), []value.Value{start}, func(s value.Value, c []value.Value) []value.Value {
			e := k.sext64(k.load(k.at(k.ptrs[idx], s)))
			hit := k.b.NewICmp(enum.IPredEQ, e, tid)
			k.ifThen(hit, func() { k.store(k.b.NewTrunc(s, i32), k.at(k.ptrs[slot], c[0])) })
			return []value.Value{k.add(c[0], k.b.NewZExt(hit, i64))}
		})
	})
	k.ret()
	step.Launch = program.Launch{Threads: 1024, Grid: [3]program.GridDim{one(), one(), one()}}
	return nil
}

func emitCombine(k *kernelBuilder, step *program.Step) error {
	op := k.r.Ops[0]
	rows, slot, w := op.Args[0], op.Args[1], op.Args[2]
	out := op.Results[0]
	kk := w.Type.Shape[1].N
	d := k.dim(rows.Type.Shape[1])
	R := k.numel(slot.Type.Shape)
	t := k.zext64(k.sreg("ctaid.x"))
	tid := k.zext64(k.sreg("tid.x"))
	rowOf := k.sharedArray("rowof", kk, i64)
	k.loop(tid, R, ci64(256), nil, func(r value.Value, _ []value.Value) []value.Value {
		s := k.sext64(k.load(k.at(k.ptrs[slot], r)))
		j := k.sub(s, k.mul(t, ci64(kk)))
		mine := k.b.NewAnd(k.ge(j, ci64(0)), k.lt(j, ci64(kk)))
		k.ifThen(mine, func() { k.store(r, k.sharedAt(rowOf, j)) })
		return nil
	})
	k.barrier()
	k.loop(tid, d, ci64(256), nil, func(i value.Value, _ []value.Value) []value.Value {
		var acc value.Value = constantF64(0)
		for j := int64(0); j < kk; j++ {
			r := k.load(k.sharedAt(rowOf, ci64(j)))
			wt := k.read(w, k.add(k.mul(t, ci64(kk)), ci64(j)))
			v := k.read(rows, k.add(k.mul(r, d), i))
			acc = k.b.NewFAdd(acc, k.b.NewFPExt(k.b.NewFMul(wt, v), f64))
		}
		k.store(k.toMem(k.b.NewFPTrunc(acc, f32), out.Type.DType), k.at(k.ptrs[out], k.add(k.mul(t, d), i)))
		return nil
	})
	k.ret()
	step.Launch = program.Launch{Threads: 256, Grid: [3]program.GridDim{gridOf(1, w.Type.Shape[0]), one(), one()}}
	return nil
}

// emitKVWrite writes x's rows into the cache in place: the step's output
// aliases its cache input (Step.InPlace), which the executor binds to the
// same buffer, copying the old cache first when it is still used elsewhere.
func emitKVWrite(k *kernelBuilder, step *program.Step) error {
	op := k.r.Ops[0]
	x, slot := op.Args[1], op.Args[2]
	out := op.Results[0]
	d := k.dim(x.Type.Shape[1])
	i := k.globalID()
	k.ifThen(k.lt(i, k.numel(x.Type.Shape)), func() {
		t, c := k.div(i, d), k.rem(i, d)
		s := k.sext64(k.load(k.at(k.ptrs[slot], t)))
		k.store(k.load(k.at(k.ptrs[x], i)), k.at(k.ptrs[out], k.add(k.mul(s, d), c)))
	})
	k.ret()
	step.InPlace = [][2]int{{0, 0}}
	step.Launch = program.Launch{Threads: 256, Grid: [3]program.GridDim{gridOf(256, x.Type.Shape...), one(), one()}}
	return nil
}
