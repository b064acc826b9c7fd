package codegen

import (
	"slices"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/program"
	llir "github.com/llir/llvm/ir"
	"github.com/llir/llvm/ir/enum"
	"github.com/llir/llvm/ir/value"
)

// attention_grad in two kernels, with no atomics (dk and dv are bf16):
//
//	A, one block per (query t, head h): one online pass over the visible
//	  keys gives the softmax statistics m_t, l_t, D_t = Σ_s p_ts·dp_ts
//	  (dp_ts = g_t·v_s) and dq_t = scale·Σ_s p_ts·(dp_ts − D_t)·k_s, from
//	  the running sums Σ e·dp·k and Σ e·k rescaled per chunk like the
//	  forward kernel; (m, l, D) go to a scratch [T, H, 3] f32 tensor.
//	B, one block per (key s, key/value head hk): over the queries that
//	  see s, in each of the G = H/Hk query heads h reading hk,
//	  p_ts = exp(q_t·k_s·scale − m_t)/l_t, dv_s = Σ_t,h p_ts·g_t and
//	  dk_s = scale·Σ_t,h p_ts·(dp_ts − D_t)·q_t.

var attentionGradPhases = []phase{
	{emit: emitAttentionGradQ, outputs: gradOutputs(0), scratch: gradStats(true)},
	{emit: emitAttentionGradKV, outputs: gradOutputs(1, 2), scratch: gradStats(false)},
}

func gradOutputs(idx ...int) func(*Region) []*ir.Value {
	return func(r *Region) []*ir.Value {
		op := r.Ops[0]
		var out []*ir.Value
		for _, i := range idx {
			if slices.Contains(r.Outputs, op.Results[i]) {
				out = append(out, op.Results[i])
			}
		}
		return out
	}
}

func gradStats(write bool) func(*Region, func(*ir.Value) string) []program.Arg {
	return func(r *Region, name func(*ir.Value) string) []program.Arg {
		q := r.Ops[0].Args[0]
		return []program.Arg{{Value: name(r.Ops[0].Results[0]) + ".stats", DType: "f32",
			Shape: shapeStrings(ir.Shape{q.Type.Shape[0], q.Type.Shape[1], ir.C(3)}), Output: write, Scratch: true}}
	}
}

// gradCtx holds what both kernels read.
type gradCtx struct {
	q, kk, v, pos, seq, g *ir.Value
	H, Hk, G, dq, dv      int64 // G = H/Hk query heads per key/value head
	scale                 float32
	mask                  ir.AttentionMask
	stats                 value.Value
}

func gradContext(k *kernelBuilder) (*gradCtx, error) {
	if len(k.r.Ops) != 1 {
		return nil, unsupported("attention_grad region with %d ops", len(k.r.Ops))
	}
	op := k.r.Ops[0]
	c := &gradCtx{q: op.Args[0], kk: op.Args[1], v: op.Args[2], pos: op.Args[3], seq: op.Args[4], g: op.Args[5]}
	H, dq, dv := c.q.Type.Shape[1], c.q.Type.Shape[2], c.v.Type.Shape[2]
	if H.IsSym() || dq.IsSym() || dv.IsSym() || dq.N > 1024 || dv.N > attnMaxDV {
		return nil, unsupported("attention_grad with shapes %s, %s", c.q.Type, c.v.Type)
	}
	group, err := ir.KVGroup(H, c.kk.Type.Shape[1])
	if err != nil {
		return nil, unsupported("attention_grad: %v", err)
	}
	c.H, c.G, c.dq, c.dv = H.N, group, dq.N, dv.N
	c.Hk = c.H / c.G
	s, _ := op.Attrs.Float("scale")
	c.scale = float32(s)
	if c.mask, err = ir.AttentionMaskOf(op.Attrs); err != nil {
		return nil, err
	}
	for _, p := range k.scratch {
		c.stats = p
	}
	return c, nil
}

// visible says whether query t sees key s.
func (c *gradCtx) visible(k *kernelBuilder, t, s value.Value) value.Value {
	ok := k.b.NewICmp(enum.IPredEQ, k.load(k.at(k.ptrs[c.seq], s)), k.load(k.at(k.ptrs[c.seq], t)))
	return k.b.NewAnd(ok, k.maskVisible(c.mask, k.load(k.at(k.ptrs[c.pos], t)), k.load(k.at(k.ptrs[c.pos], s))))
}

// dot is Σ_i a[aBase+i]·b[bBase+i] over n elements in f32.
func (k *kernelBuilder) dot(a *ir.Value, aBase value.Value, b *ir.Value, bBase value.Value, n int64) value.Value {
	return k.loop(ci64(0), ci64(n), ci64(1), []value.Value{cf32(0)}, func(i value.Value, acc []value.Value) []value.Value {
		return []value.Value{k.b.NewFAdd(acc[0], k.b.NewFMul(k.read(a, k.add(aBase, i)), k.read(b, k.add(bBase, i))))}
	})[0]
}

func emitAttentionGradQ(k *kernelBuilder, step *program.Step) error {
	c, err := gradContext(k)
	if err != nil {
		return err
	}
	op := k.r.Ops[0]
	dqOut := op.Results[0]
	T := k.dim(c.q.Type.Shape[0])
	per := (c.dq + attnThreads - 1) / attnThreads
	ps := k.sharedArray("p", attnChunk, f32)
	dps := k.sharedArray("dp", attnChunk, f32)
	blk := k.zext64(k.sreg("ctaid.x"))
	tid := k.zext64(k.sreg("tid.x"))
	t, h := k.div(blk, ci64(c.H)), k.rem(blk, ci64(c.H))
	hk := k.div(h, ci64(c.G))
	qBase, gBase := k.mul(blk, ci64(c.dq)), k.mul(blk, ci64(c.dv))
	negInf := cf32(-3.4028234663852886e38)
	carry := []value.Value{negInf, cf32(0), cf32(0)} // m, l, Σ e·dp
	for range 2 * per {
		carry = append(carry, cf32(0)) // Σ e·dp·k, then Σ e·k, per owned dim
	}
	fin := k.loop(ci64(0), T, ci64(attnChunk), carry, func(c0 value.Value, cur []value.Value) []value.Value {
		k.loop(tid, ci64(attnChunk), ci64(attnThreads), nil, func(j value.Value, _ []value.Value) []value.Value {
			s := k.add(c0, j)
			in := k.lt(s, T)
			sc := k.sel(in, s, ci64(0))
			vis := k.b.NewAnd(in, c.visible(k, t, sc))
			kvBase := k.add(k.mul(sc, ci64(c.Hk)), hk)
			score := k.b.NewFMul(k.dot(c.q, qBase, c.kk, k.mul(kvBase, ci64(c.dq)), c.dq), cf32(float64(c.scale)))
			k.store(k.sel(vis, score, negInf), k.sharedAt(ps, j))
			k.store(k.dot(c.g, gBase, c.v, k.mul(kvBase, ci64(c.dv)), c.dv), k.sharedAt(dps, j))
			return nil
		})
		k.barrier()
		mNew, alpha := k.chunkMax(ps, cur[0])
		k.barrier()
		sums := k.loop(tid, ci64(attnChunk), ci64(attnThreads), []value.Value{cf32(0), cf32(0)}, func(j value.Value, a []value.Value) []value.Value {
			sv := k.load(k.sharedAt(ps, j))
			e := k.sel(k.b.NewFCmp(enum.FPredOLE, sv, negInf), cf32(0), k.expF(k.b.NewFSub(sv, mNew)))
			k.store(e, k.sharedAt(ps, j))
			return []value.Value{k.b.NewFAdd(a[0], e), k.b.NewFAdd(a[1], k.b.NewFMul(e, k.load(k.sharedAt(dps, j))))}
		})
		esum := k.blockReduce(sums[0], attnThreads, fadd(k))
		edp := k.blockReduce(sums[1], attnThreads, fadd(k))
		k.barrier()
		next := []value.Value{mNew, k.b.NewFAdd(k.b.NewFMul(cur[1], alpha), esum), k.b.NewFAdd(k.b.NewFMul(cur[2], alpha), edp)}
		var as, bs []value.Value
		for r := int64(0); r < per; r++ {
			d := k.add(tid, ci64(r*attnThreads))
			dC := k.sel(k.lt(d, ci64(c.dq)), d, ci64(0))
			acc := k.loop(ci64(0), ci64(attnChunk), ci64(1), []value.Value{k.b.NewFMul(cur[3+r], alpha), k.b.NewFMul(cur[3+per+r], alpha)}, func(j value.Value, a []value.Value) []value.Value {
				s := k.add(c0, j)
				sc := k.sel(k.lt(s, T), s, ci64(0))
				e := k.load(k.sharedAt(ps, j))
				kv := k.read(c.kk, k.add(k.mul(k.add(k.mul(sc, ci64(c.Hk)), hk), ci64(c.dq)), dC))
				ek := k.b.NewFMul(e, kv)
				return []value.Value{k.b.NewFAdd(a[0], k.b.NewFMul(ek, k.load(k.sharedAt(dps, j)))), k.b.NewFAdd(a[1], ek)}
			})
			as, bs = append(as, acc[0]), append(bs, acc[1])
		}
		k.barrier()
		return append(append(next, as...), bs...)
	})
	m, l, edp := fin[0], fin[1], fin[2]
	live := k.b.NewFCmp(enum.FPredOGT, l, cf32(0))
	invL := k.sel(live, k.b.NewFDiv(cf32(1), l), cf32(0))
	D := k.b.NewFMul(edp, invL)
	if _, ok := k.ptrs[dqOut]; ok {
		for r := int64(0); r < per; r++ {
			d := k.add(tid, ci64(r*attnThreads))
			g := k.b.NewFMul(k.b.NewFSub(fin[3+r], k.b.NewFMul(D, fin[3+per+r])), k.b.NewFMul(invL, cf32(float64(c.scale))))
			k.ifThen(k.lt(d, ci64(c.dq)), func() {
				k.store(k.toMem(k.round(g, dqOut.Type.DType), dqOut.Type.DType), k.at(k.ptrs[dqOut], k.add(qBase, d)))
			})
		}
	}
	k.ifThen(k.b.NewICmp(enum.IPredEQ, tid, ci64(0)), func() {
		st := k.mul(blk, ci64(3))
		k.store(m, k.at(c.stats, st))
		k.store(l, k.at(c.stats, k.add(st, ci64(1))))
		k.store(D, k.at(c.stats, k.add(st, ci64(2))))
	})
	k.ret()
	step.Launch = program.Launch{Threads: attnThreads, Grid: [3]program.GridDim{gridOf(1, c.q.Type.Shape[0], c.q.Type.Shape[1]), one(), one()}}
	return nil
}

func emitAttentionGradKV(k *kernelBuilder, step *program.Step) error {
	c, err := gradContext(k)
	if err != nil {
		return err
	}
	op := k.r.Ops[0]
	dkOut, dvOut := op.Results[1], op.Results[2]
	// The loop runs over U = T·G (query, head) pairs: u → t = u/G, h = hk·G + u%G.
	U := k.mul(k.dim(c.q.Type.Shape[0]), ci64(c.G))
	ps := k.sharedArray("p", attnChunk, f32)
	dss := k.sharedArray("ds", attnChunk, f32)
	blk := k.zext64(k.sreg("ctaid.x"))
	tid := k.zext64(k.sreg("tid.x"))
	s, hk := k.div(blk, ci64(c.Hk)), k.rem(blk, ci64(c.Hk))
	qRow := func(u value.Value) value.Value { // the line t·H + h of q and g for pair u
		return k.add(k.mul(k.div(u, ci64(c.G)), ci64(c.H)), k.add(k.mul(hk, ci64(c.G)), k.rem(u, ci64(c.G))))
	}
	kBase, vBase := k.mul(blk, ci64(c.dq)), k.mul(blk, ci64(c.dv))
	perK := (c.dq + attnThreads - 1) / attnThreads
	perV := (c.dv + attnThreads - 1) / attnThreads
	carry := make([]value.Value, perK+perV)
	for i := range carry {
		carry[i] = cf32(0)
	}
	fin := k.loop(ci64(0), U, ci64(attnChunk), carry, func(c0 value.Value, cur []value.Value) []value.Value {
		k.loop(tid, ci64(attnChunk), ci64(attnThreads), nil, func(j value.Value, _ []value.Value) []value.Value {
			u := k.add(c0, j)
			in := k.lt(u, U)
			uc := k.sel(in, u, ci64(0))
			vis := k.b.NewAnd(in, c.visible(k, k.div(uc, ci64(c.G)), s))
			row := qRow(uc)
			st := k.mul(row, ci64(3))
			m := k.load(k.at(c.stats, st))
			l := k.load(k.at(c.stats, k.add(st, ci64(1))))
			D := k.load(k.at(c.stats, k.add(st, ci64(2))))
			score := k.b.NewFMul(k.dot(c.q, k.mul(row, ci64(c.dq)), c.kk, kBase, c.dq), cf32(float64(c.scale)))
			p := k.sel(vis, k.b.NewFDiv(k.expF(k.b.NewFSub(score, m)), l), cf32(0))
			dp := k.dot(c.g, k.mul(row, ci64(c.dv)), c.v, vBase, c.dv)
			k.store(p, k.sharedAt(ps, j))
			k.store(k.b.NewFMul(p, k.b.NewFSub(dp, D)), k.sharedAt(dss, j))
			return nil
		})
		k.barrier()
		next := make([]value.Value, 0, perK+perV)
		accumulate := func(r int64, n int64, src *ir.Value, weights *llir.Global, dim int64, init value.Value) value.Value {
			d := k.add(tid, ci64(r*attnThreads))
			dC := k.sel(k.lt(d, ci64(n)), d, ci64(0))
			return k.loop(ci64(0), ci64(attnChunk), ci64(1), []value.Value{init}, func(j value.Value, a []value.Value) []value.Value {
				u := k.add(c0, j)
				uc := k.sel(k.lt(u, U), u, ci64(0))
				x := k.read(src, k.add(k.mul(qRow(uc), ci64(dim)), dC))
				return []value.Value{k.b.NewFAdd(a[0], k.b.NewFMul(k.load(k.sharedAt(weights, j)), x))}
			})[0]
		}
		for r := int64(0); r < perK; r++ {
			next = append(next, accumulate(r, c.dq, c.q, dss, c.dq, cur[r]))
		}
		for r := int64(0); r < perV; r++ {
			next = append(next, accumulate(r, c.dv, c.g, ps, c.dv, cur[perK+r]))
		}
		k.barrier()
		return next
	})
	for r := int64(0); r < perK; r++ {
		if p, ok := k.ptrs[dkOut]; ok {
			d := k.add(tid, ci64(r*attnThreads))
			x := k.b.NewFMul(fin[r], cf32(float64(c.scale)))
			k.ifThen(k.lt(d, ci64(c.dq)), func() {
				k.store(k.toMem(k.round(x, dkOut.Type.DType), dkOut.Type.DType), k.at(p, k.add(kBase, d)))
			})
		}
	}
	for r := int64(0); r < perV; r++ {
		if p, ok := k.ptrs[dvOut]; ok {
			d := k.add(tid, ci64(r*attnThreads))
			x := fin[perK+r]
			k.ifThen(k.lt(d, ci64(c.dv)), func() {
				k.store(k.toMem(k.round(x, dvOut.Type.DType), dvOut.Type.DType), k.at(p, k.add(vBase, d)))
			})
		}
	}
	k.ret()
	step.Launch = program.Launch{Threads: attnThreads, Grid: [3]program.GridDim{gridOf(1, c.kk.Type.Shape[0], c.kk.Type.Shape[1]), one(), one()}}
	return nil
}
