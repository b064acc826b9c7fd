package codegen

import (
	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/program"
	"github.com/llir/llvm/ir/enum"
	"github.com/llir/llvm/ir/value"
)

// Routing kernels: one thread per token. route (group-limited top-k) and
// topk select by repeated arg-max passes over the row: k and the expert
// count are small (8 of 256 in DeepSeek-V3), ties go to the lower index as
// the CPU's selection does, and chosen entries are masked by index, never
// by value, so equal scores cannot be picked twice.

func emitRouting(k *kernelBuilder, step *program.Step) error {
	if len(k.r.Ops) != 1 {
		return unsupported("routing region with %d ops", len(k.r.Ops))
	}
	op := k.r.Ops[0]
	s := op.Args[0]
	E := s.Type.Shape[len(s.Type.Shape)-1]
	if E.IsSym() || E.N > 1024 {
		return unsupported("%s over %s experts", op.Name, E)
	}
	kk, _ := op.Attrs.Int("k")
	rows := s.Type.Shape[:len(s.Type.Shape)-1]
	t := k.globalID()
	var err error
	k.ifThen(k.lt(t, k.numel(rows)), func() {
		base := k.mul(t, ci64(E.N))
		score := func(e value.Value) value.Value { return k.read(s, k.add(base, e)) }
		// allowed(e) says whether expert e may be picked.
		allowed := func(e value.Value) value.Value { return cint(i1, 1) }
		if op.Is(ir.OpRoute) {
			groups, _ := op.Attrs.Int("groups")
			kg, _ := op.Attrs.Int("topk_groups")
			top, ok := op.Attrs.Int("group_top")
			if !ok {
				top = 1
			}
			per := E.N / groups
			// Group scores: the sum of each group's top entries, largest first.
			gscore := make([]value.Value, groups)
			for g := int64(0); g < groups; g++ {
				picks := k.argmaxes(top, func(e value.Value) value.Value { return score(k.add(e, ci64(g*per))) }, per, func(value.Value) value.Value { return cint(i1, 1) })
				var sum value.Value = cf32(0)
				for _, p := range picks {
					sum = k.b.NewFAdd(sum, score(k.add(p, ci64(g*per))))
				}
				gscore[g] = sum
			}
			// The kept groups: kg arg-max passes over the group scores.
			kept := make([]value.Value, groups)
			for g := range kept {
				kept[g] = cint(i1, 0)
			}
			for range kg {
				best, bestG := value.Value(cf32(-3.4028234663852886e38)), value.Value(ci64(-1))
				for g := int64(0); g < groups; g++ {
					better := k.b.NewAnd(k.b.NewXor(kept[g], cint(i1, 1)), k.b.NewOr(k.b.NewFCmp(enum.FPredOGT, gscore[g], best), k.b.NewICmp(enum.IPredEQ, bestG, ci64(-1))))
					best = k.sel(better, gscore[g], best)
					bestG = k.sel(better, ci64(g), bestG)
				}
				for g := int64(0); g < groups; g++ {
					kept[g] = k.b.NewOr(kept[g], k.b.NewICmp(enum.IPredEQ, bestG, ci64(g)))
				}
			}
			allowed = func(e value.Value) value.Value {
				g := k.div(e, ci64(per))
				var ok value.Value = cint(i1, 0)
				for j := int64(0); j < groups; j++ {
					ok = k.b.NewOr(ok, k.b.NewAnd(kept[j], k.b.NewICmp(enum.IPredEQ, g, ci64(j))))
				}
				return ok
			}
		}
		picks := k.argmaxes(kk, score, E.N, allowed)
		outIdx := op.Results[len(op.Results)-1]
		for j, p := range picks {
			o := k.add(k.mul(t, ci64(kk)), ci64(int64(j)))
			if pv, ok := k.ptrs[outIdx]; ok {
				k.store(k.b.NewTrunc(p, elemType(outIdx.Type.DType)), k.at(pv, o))
			}
			if op.Is(ir.OpTopK) {
				vals := op.Results[0]
				if pv, ok := k.ptrs[vals]; ok {
					k.store(k.toMem(score(p), vals.Type.DType), k.at(pv, o))
				}
			}
		}
		if outIdx.Type.DType != ir.I32 && outIdx.Type.DType != ir.I64 {
			err = unsupported("routing indices of %s", outIdx.Type.DType)
		}
	})
	if err != nil {
		return err
	}
	k.ret()
	step.Launch = program.Launch{Threads: 128, Grid: [3]program.GridDim{gridOf(128, rows...), one(), one()}}
	return nil
}

// argmaxes picks n distinct indices in 0..size-1 by descending score (ties:
// lower index), skipping indices that are not allowed or already picked.
func (k *kernelBuilder) argmaxes(n int64, score func(value.Value) value.Value, size int64, allowed func(value.Value) value.Value) []value.Value {
	var picks []value.Value
	for range n {
		prev := append([]value.Value(nil), picks...)
		res := k.loop(ci64(0), ci64(size), ci64(1), []value.Value{cf32(0), ci64(-1)}, func(e value.Value, c []value.Value) []value.Value {
			ok := allowed(e)
			for _, p := range prev {
				ok = k.b.NewAnd(ok, k.b.NewICmp(enum.IPredNE, e, p))
			}
			v := score(e)
			better := k.b.NewAnd(ok, k.b.NewOr(k.b.NewICmp(enum.IPredEQ, c[1], ci64(-1)), k.b.NewFCmp(enum.FPredOGT, v, c[0])))
			return []value.Value{k.sel(better, v, c[0]), k.sel(better, e, c[1])}
		})
		picks = append(picks, res[1])
	}
	return picks
}
