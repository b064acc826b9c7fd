package codegen

import (
	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/program"
	llir "github.com/llir/llvm/ir"
	"github.com/llir/llvm/ir/constant"
	"github.com/llir/llvm/ir/enum"
	"github.com/llir/llvm/ir/types"
	"github.com/llir/llvm/ir/value"
)

// Attention kernels (attention for prefill and training, attention_cache
// for decode over the latent cache; MLA absorbed decode is attention_cache
// with one shared key/value head): one 128-thread block per (query, head).
// The query row sits in shared memory; keys stream in chunks of 256: each
// thread scores its keys (masked by sequence id, causality and free
// slots), the block takes the chunk's max and rescales its running sum and
// output (online softmax, f32), then each thread accumulates its share of
// the output dims over the chunk's probabilities. A query that sees no key
// gets 0. Query head h reads key/value head h/(H/Hk) (grouped-query
// attention). This is the straightforward SIMT version; the tensor-core
// (wgmma) flash kernel is the next step.

const (
	attnThreads = 128
	attnChunk   = 256
	attnMaxDV   = 1024
)

func emitAttention(k *kernelBuilder, step *program.Step) error {
	if len(k.r.Ops) != 1 {
		return unsupported("attention region with %d ops", len(k.r.Ops))
	}
	op := k.r.Ops[0]
	q, kk, v := op.Args[0], op.Args[1], op.Args[2]
	pos, seq := op.Args[3], op.Args[4]
	kpos, kseq := pos, seq
	cache := op.Is(ir.OpAttentionCache)
	if cache {
		kpos, kseq = op.Args[5], op.Args[6]
	}
	out := op.Results[0]
	H := q.Type.Shape[1]
	dqD, dvD := q.Type.Shape[2], v.Type.Shape[2]
	if H.IsSym() || dqD.IsSym() || dvD.IsSym() || dvD.N > attnMaxDV || dqD.N > 4096 {
		return unsupported("attention with shapes %s, %s", q.Type, v.Type)
	}
	Hk := kk.Type.Shape[1]
	group, err := ir.KVGroup(H, Hk)
	if err != nil {
		return unsupported("attention: %v", err)
	}
	scale, _ := op.Attrs.Float("scale")
	mask, err := ir.AttentionMaskOf(op.Attrs)
	if err != nil {
		return err
	}
	dq, dv := dqD.N, dvD.N
	perThread := (dv + attnThreads - 1) / attnThreads

	qs := k.sharedArray("q", dq, f32)
	ps := k.sharedArray("p", attnChunk, f32)
	blk := k.zext64(k.sreg("ctaid.x"))
	tid := k.zext64(k.sreg("tid.x"))
	t, h := k.div(blk, ci64(H.N)), k.rem(blk, ci64(H.N))
	hk := k.div(h, ci64(group)) // the key/value head query head h reads
	nKeys := k.dim(kk.Type.Shape[0])
	k.loop(tid, ci64(dq), ci64(attnThreads), nil, func(i value.Value, _ []value.Value) []value.Value {
		x := k.read(q, k.add(k.mul(blk, ci64(dq)), i))
		k.store(x, k.sharedAt(qs, i))
		return nil
	})
	k.barrier()
	myPos := k.load(k.at(k.ptrs[pos], t))
	mySeq := k.load(k.at(k.ptrs[seq], t))
	negInf := cf32(-3.4028234663852886e38)

	carry := []value.Value{negInf, cf32(0)} // running max, running sum
	for range perThread {
		carry = append(carry, cf32(0))
	}
	fin := k.loop(ci64(0), nKeys, ci64(attnChunk), carry, func(c0 value.Value, c []value.Value) []value.Value {
		// Scores of this chunk's keys.
		k.loop(tid, ci64(attnChunk), ci64(attnThreads), nil, func(j value.Value, _ []value.Value) []value.Value {
			s := k.add(c0, j)
			inRange := k.lt(s, nKeys)
			sc := k.sel(inRange, s, ci64(0))
			ks := k.load(k.at(k.ptrs[kseq], sc))
			vis := k.b.NewAnd(inRange, k.b.NewICmp(enum.IPredEQ, ks, mySeq))
			vis = k.b.NewAnd(vis, k.maskVisible(mask, myPos, k.load(k.at(k.ptrs[kpos], sc))))
			if cache {
				vis = k.b.NewAnd(vis, k.b.NewICmp(enum.IPredNE, ks, cint(ks.Type(), -1)))
			}
			kbase := k.mul(k.add(k.mul(sc, ci64(Hk.N)), hk), ci64(dq))
			dot := k.loop(ci64(0), ci64(dq), ci64(1), []value.Value{cf32(0)}, func(i value.Value, a []value.Value) []value.Value {
				x := k.load(k.sharedAt(qs, i))
				y := k.read(kk, k.add(kbase, i))
				return []value.Value{k.b.NewFAdd(a[0], k.b.NewFMul(x, y))}
			})[0]
			k.store(k.sel(vis, k.b.NewFMul(dot, cf32(scale)), negInf), k.sharedAt(ps, j))
			return nil
		})
		k.barrier()
		mNew, alpha := k.chunkMax(ps, c[0])
		k.barrier()
		csum := k.loop(tid, ci64(attnChunk), ci64(attnThreads), []value.Value{cf32(0)}, func(j value.Value, a []value.Value) []value.Value {
			sv := k.load(k.sharedAt(ps, j))
			p := k.sel(k.b.NewFCmp(enum.FPredOLE, sv, negInf), cf32(0), k.expF(k.b.NewFSub(sv, mNew)))
			k.store(p, k.sharedAt(ps, j))
			return []value.Value{k.b.NewFAdd(a[0], p)}
		})[0]
		csum = k.blockReduce(csum, attnThreads, fadd(k))
		k.barrier() // every probability is written
		next := []value.Value{mNew, k.b.NewFAdd(k.b.NewFMul(c[1], alpha), csum)}
		for r := int64(0); r < perThread; r++ {
			d := k.add(tid, ci64(r*attnThreads))
			dOK := k.lt(d, ci64(dv))
			dC := k.sel(dOK, d, ci64(0))
			acc := k.loop(ci64(0), ci64(attnChunk), ci64(1), []value.Value{k.b.NewFMul(c[2+r], alpha)}, func(j value.Value, a []value.Value) []value.Value {
				s := k.add(c0, j)
				sc := k.sel(k.lt(s, nKeys), s, ci64(0))
				p := k.load(k.sharedAt(ps, j))
				vv := k.read(v, k.add(k.mul(k.add(k.mul(sc, ci64(Hk.N)), hk), ci64(dv)), dC))
				return []value.Value{k.b.NewFAdd(a[0], k.b.NewFMul(p, vv))}
			})[0]
			next = append(next, acc)
		}
		k.barrier() // before the next chunk overwrites the scores
		return next
	})
	l := fin[1]
	for r := int64(0); r < perThread; r++ {
		d := k.add(tid, ci64(r*attnThreads))
		o := k.sel(k.b.NewFCmp(enum.FPredOGT, l, cf32(0)), k.b.NewFDiv(fin[2+r], l), cf32(0))
		k.ifThen(k.lt(d, ci64(dv)), func() {
			k.store(k.toMem(k.round(o, out.Type.DType), out.Type.DType), k.at(k.ptrs[out], k.add(k.mul(blk, ci64(dv)), d)))
		})
	}
	k.ret()
	step.Launch = program.Launch{Threads: attnThreads, Grid: [3]program.GridDim{gridOf(1, q.Type.Shape[0], H), one(), one()}}
	return nil
}

// maskVisible is the attention mask's test for a query at position qpos
// and a key (of its sequence) at kpos.
func (k *kernelBuilder) maskVisible(m ir.AttentionMask, qpos, kpos value.Value) value.Value {
	var ok value.Value = constant.True
	if m.Causal {
		ok = k.b.NewICmp(enum.IPredSLE, kpos, qpos)
	}
	// A window wider than the positions' integer type can express hides
	// nothing (a constant of that type would wrap).
	if bits := qpos.Type().(*types.IntType).BitSize; m.Window > 0 && (bits >= 64 || m.Window < 1<<(bits-1)) {
		ok = k.b.NewAnd(ok, k.b.NewICmp(enum.IPredSLT, k.b.NewSub(qpos, kpos), cint(qpos.Type(), m.Window)))
	}
	return ok
}

// chunkMax is the online softmax's rescaling for a chunk of scores in
// shared memory: the new running max (over the chunk and m) and the factor
// exp(m − max) that scales what was accumulated (1 while nothing is visible).
func (k *kernelBuilder) chunkMax(ps *llir.Global, m value.Value) (mNew, alpha value.Value) {
	negInf := cf32(-3.4028234663852886e38)
	tid := k.zext64(k.sreg("tid.x"))
	cmax := k.loop(tid, ci64(attnChunk), ci64(attnThreads), []value.Value{negInf}, func(j value.Value, a []value.Value) []value.Value {
		return []value.Value{k.call("llvm.maxnum.f32", f32, a[0], k.load(k.sharedAt(ps, j)))}
	})[0]
	cmax = k.blockReduce(cmax, attnThreads, fmax(k))
	mNew = k.call("llvm.maxnum.f32", f32, m, cmax)
	none := k.b.NewFCmp(enum.FPredOLE, mNew, negInf)
	return mNew, k.sel(none, cf32(1), k.expF(k.b.NewFSub(m, mNew)))
}
