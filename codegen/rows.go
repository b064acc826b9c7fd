package codegen

import (
	"fmt"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/program"
	llir "github.com/llir/llvm/ir"
	"github.com/llir/llvm/ir/constant"
	"github.com/llir/llvm/ir/enum"
	"github.com/llir/llvm/ir/types"
	"github.com/llir/llvm/ir/value"
)

// Row kernels: one op that reduces the last axis (rms_norm, softmax, sum,
// mean, reduce_max). One 256-thread block per row; threads stride over the
// row, combine in f32, then reduce across the block with warp shuffles
// (butterfly) and a shared slot per warp. Passes over the row follow the
// op: rms_norm two (Σx², then x·r·w), softmax three (max, Σexp, write).

const rowThreads = 256

// rowRule is one row op: its passes over the row.
type rowRule func(k *kernelBuilder, op *ir.Op, row rowCtx) error

type rowCtx struct {
	base, n value.Value // first element, row length
	stride  value.Value // distance between the row's elements (nil: 1)
	tid     value.Value
}

// elem is the linear index of the row's j-th element.
func (rc rowCtx) elem(k *kernelBuilder, j value.Value) value.Value {
	if rc.stride != nil {
		j = k.mul(j, rc.stride)
	}
	return k.add(rc.base, j)
}

var rowRules = map[*ir.OpDef]rowRule{
	ir.OpRMSNorm:   rowRMSNorm,
	ir.OpSoftmax:   rowSoftmax,
	ir.OpSum:       rowReduce,
	ir.OpMean:      rowReduce,
	ir.OpReduceMax: rowReduce,
}

func emitRows(k *kernelBuilder, step *program.Step) error {
	if len(k.r.Ops) != 1 {
		return unsupported("row region with %d ops", len(k.r.Ops))
	}
	op := k.r.Ops[0]
	x := op.Args[0]
	shape := x.Type.Shape
	ax := len(shape) - 1
	if _, ok := op.Attrs.Int("axis"); ok {
		ax = axisOf(op, len(shape))
	}
	if ax != len(shape)-1 && op.Is(ir.OpRMSNorm) {
		return unsupported("rms_norm over axis %d", ax)
	}
	rule, ok := rowRules[op.Def()]
	if !ok {
		return unsupported("no row rule for %s", op.Name)
	}
	// Rows along axis ax: outer × n × inner; block b = o·inner + i.
	n := k.dim(shape[ax])
	inner := k.numel(shape[ax+1:])
	row := k.zext64(k.sreg("ctaid.x"))
	o, i := k.div(row, inner), k.rem(row, inner)
	rc := rowCtx{base: k.add(k.mul(k.mul(o, n), inner), i), n: n, tid: k.zext64(k.sreg("tid.x"))}
	if ax != len(shape)-1 {
		rc.stride = inner
	}
	if err := rule(k, op, rc); err != nil {
		return err
	}
	k.ret()
	rowsShape := append(append(ir.Shape{}, shape[:ax]...), shape[ax+1:]...)
	step.Launch = program.Launch{Threads: rowThreads, Grid: [3]program.GridDim{gridOf(1, rowsShape...), one(), one()}}
	return nil
}

// rowFold combines f(j) over the row's elements with comb, starting at init,
// and returns the block-wide result in every thread.
func (k *kernelBuilder) rowFold(rc rowCtx, init value.Value, f func(j value.Value) value.Value, comb func(a, b value.Value) value.Value) value.Value {
	acc := k.loop(rc.tid, rc.n, ci64(rowThreads), []value.Value{init}, func(j value.Value, c []value.Value) []value.Value {
		return []value.Value{comb(c[0], f(j))}
	})[0]
	return k.blockReduce(acc, rowThreads, comb)
}

// blockReduce combines one value per thread across a block of threads
// threads (a multiple of 32, as launched): warp shuffles, then one slot
// per warp in shared memory.
func (k *kernelBuilder) blockReduce(v value.Value, threads int64, comb func(a, b value.Value) value.Value) value.Value {
	if threads%32 != 0 || threads > 1024 {
		panic(fmt.Sprintf("codegen: blockReduce over %d threads", threads))
	}
	for _, d := range []int64{16, 8, 4, 2, 1} {
		o := k.call("llvm.nvvm.shfl.sync.bfly.f32", f32, ci32(-1), v, ci32(d), ci32(31))
		v = comb(v, o)
	}
	slots := k.sharedArray(fmt.Sprintf("red%d", threads), threads/32, f32)
	tid := k.zext64(k.sreg("tid.x"))
	warp, lane := k.div(tid, ci64(32)), k.rem(tid, ci64(32))
	k.barrier() // earlier readers of the slots are done
	k.ifThen(k.b.NewICmp(enum.IPredEQ, lane, ci64(0)), func() {
		k.store(v, k.sharedAt(slots, warp))
	})
	k.barrier()
	r := k.load(k.sharedAt(slots, ci64(0)))
	for w := int64(1); w < threads/32; w++ {
		r = comb(r, k.load(k.sharedAt(slots, ci64(w))))
	}
	return r
}

// sharedArray declares (once) a shared-memory array.
func (k *kernelBuilder) sharedArray(name string, n int64, elem types.Type) *llir.Global {
	for _, g := range k.m.Globals {
		if g.Name() == name {
			return g
		}
	}
	g := k.m.NewGlobal(name, types.NewArray(uint64(n), elem))
	g.AddrSpace = shared
	g.Typ = nil
	g.Init = constant.NewUndef(g.ContentType)
	g.Linkage = enum.LinkageInternal
	g.Align = llir.Align(16)
	return g
}

func (k *kernelBuilder) sharedAt(g *llir.Global, i value.Value) value.Value {
	return k.b.NewGetElementPtr(g.ContentType, g, ci64(0), i)
}

func fadd(k *kernelBuilder) func(a, b value.Value) value.Value {
	return func(a, b value.Value) value.Value { return k.b.NewFAdd(a, b) }
}

func fmax(k *kernelBuilder) func(a, b value.Value) value.Value {
	return func(a, b value.Value) value.Value { return k.call("llvm.maxnum.f32", f32, a, b) }
}

func (k *kernelBuilder) rowLoad(v *ir.Value, rc rowCtx, j value.Value) value.Value {
	return k.read(v, rc.elem(k, j))
}

func (k *kernelBuilder) rowStore(x value.Value, rc rowCtx, j value.Value) {
	o := k.r.Outputs[0]
	k.store(k.toMem(x, o.Type.DType), k.at(k.ptrs[o], rc.elem(k, j)))
}

func rowRMSNorm(k *kernelBuilder, op *ir.Op, rc rowCtx) error {
	eps, _ := op.Attrs.Float("eps")
	x, w := op.Args[0], op.Args[1]
	ss := k.rowFold(rc, cf32(0), func(j value.Value) value.Value {
		v := k.rowLoad(x, rc, j)
		return k.b.NewFMul(v, v)
	}, fadd(k))
	mean := k.b.NewFDiv(ss, k.b.NewSIToFP(rc.n, f32))
	s := k.call("llvm.nvvm.sqrt.rn.f", f32, k.b.NewFAdd(mean, cf32(eps)))
	inv := k.b.NewFDiv(cf32(1), s)
	k.loop(rc.tid, rc.n, ci64(rowThreads), nil, func(j value.Value, _ []value.Value) []value.Value {
		v := k.b.NewFMul(k.rowLoad(x, rc, j), inv)
		k.rowStore(k.b.NewFMul(v, k.read(w, j)), rc, j)
		return nil
	})
	return nil
}

func rowSoftmax(k *kernelBuilder, op *ir.Op, rc rowCtx) error {
	x := op.Args[0]
	m := k.rowFold(rc, cf32(-3.4028234663852886e38), func(j value.Value) value.Value { return k.rowLoad(x, rc, j) }, fmax(k))
	sum := k.rowFold(rc, cf32(0), func(j value.Value) value.Value {
		return k.expF(k.b.NewFSub(k.rowLoad(x, rc, j), m))
	}, fadd(k))
	k.loop(rc.tid, rc.n, ci64(rowThreads), nil, func(j value.Value, _ []value.Value) []value.Value {
		e := k.expF(k.b.NewFSub(k.rowLoad(x, rc, j), m))
		k.rowStore(k.b.NewFDiv(e, sum), rc, j)
		return nil
	})
	return nil
}

// rowReduce is sum, mean and reduce_max: one value per row, written by
// thread 0 (keepdim only changes the shape, not the layout).
func rowReduce(k *kernelBuilder, op *ir.Op, rc rowCtx) error {
	x := op.Args[0]
	if !x.Type.DType.IsFloat() {
		return unsupported("%s of %s", op.Name, x.Type.DType)
	}
	init, comb := value.Value(cf32(0)), fadd(k)
	if op.Is(ir.OpReduceMax) {
		init, comb = cf32(-3.4028234663852886e38), fmax(k)
	}
	r := k.rowFold(rc, init, func(j value.Value) value.Value { return k.rowLoad(x, rc, j) }, comb)
	if op.Is(ir.OpMean) {
		r = k.b.NewFDiv(r, k.b.NewSIToFP(rc.n, f32))
	}
	row := k.zext64(k.sreg("ctaid.x"))
	k.ifThen(k.b.NewICmp(enum.IPredEQ, rc.tid, ci64(0)), func() {
		o := k.r.Outputs[0]
		k.store(k.toMem(k.round(r, o.Type.DType), o.Type.DType), k.at(k.ptrs[o], row))
	})
	return nil
}
