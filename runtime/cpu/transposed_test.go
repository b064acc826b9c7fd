package cpu

import (
	"math"
	"testing"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/runtime"
)

// A transpose read only by a GEMM is not copied (the GEMM reads its
// source), one with another reader is; either way the results are bit for
// bit those of the transpose computed first and the GEMM run on it, with
// few rows per expert (the gemv path) and many.
func TestDeferredTransposes(t *testing.T) {
	rng := newRNG(t)
	for _, T := range []int{5, 40} {
		const M, K, N, E, k = 37, 24, 20, 3, 2
		a := randF(rng, ir.F32, 1, T, M)    // transposed to [M, T] for the matmul
		x := randF(rng, ir.F32, 1, T, K)    // matmul's B: [T, K]
		w := randF(rng, ir.F32, 1, E, K, N) // transposed to experts [E, N, K]
		h := randF(rng, ir.F32, 1, T, K)
		idx := runtime.NewTensor(ir.I32, T, k)
		for i := range idx.I {
			idx.I[i] = int64(i % E) // every expert gets T·k/E rows
		}

		m := &ir.Module{Name: "test"}
		b := m.NewFunc("f")
		b.Loc = ir.Loc{File: "test.deep", Line: 1, Col: 1}
		va, vx, vw, vh, vi := b.Arg("a", a.Type()), b.Arg("x", x.Type()), b.Arg("w", w.Type()), b.Arg("h", h.Type()), b.Arg("idx", idx.Type())
		must := func(v *ir.Value, err error) *ir.Value {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
		at := must(b.Emit1("transpose", []*ir.Value{va}, ir.Attrs{"perm": []int64{1, 0}}))
		y := must(b.Emit1("matmul", []*ir.Value{at, vx}, nil))
		wt := must(b.Emit1("transpose", []*ir.Value{vw}, ir.Attrs{"perm": []int64{0, 2, 1}}))
		g := must(b.Emit1("grouped_linear", []*ir.Value{vh, wt, vi}, nil))
		at2 := must(b.Emit1("transpose", []*ir.Value{va}, ir.Attrs{"perm": []int64{1, 0}}))
		y2 := must(b.Emit1("matmul", []*ir.Value{at2, vx}, nil))
		neg := must(b.Emit1("neg", []*ir.Value{at2}, nil)) // a second reader: copied
		b.Return(y, g, y2, neg)
		if err := ir.Verify(m); err != nil {
			t.Fatal(err)
		}

		deferred := deferredTransposes(b.F, b.F.Uses())
		if len(deferred) != 2 || !deferred[at.Def] || !deferred[wt.Def] || deferred[at2.Def] {
			t.Fatalf("deferred %d transposes; want the two read only by GEMMs", len(deferred))
		}
		got, err := run(b.F, nil, []*runtime.Tensor{a, x, w, h, idx}, Options{Mode: FP32, Workers: 3}, true)
		if err != nil {
			t.Fatal(err)
		}
		aT := runOp(t, FP32, "transpose", ir.Attrs{"perm": []int64{1, 0}}, a)[0]
		wT := runOp(t, FP32, "transpose", ir.Attrs{"perm": []int64{0, 2, 1}}, w)[0]
		want := []*runtime.Tensor{
			runOp(t, FP32, "matmul", nil, aT, x)[0],
			runOp(t, FP32, "grouped_linear", nil, h, wT, idx)[0],
		}
		want = append(want, want[0], runOp(t, FP32, "neg", nil, aT)[0])
		for i := range want {
			for j, v := range want[i].F {
				if math.Float32bits(got[i].F[j]) != math.Float32bits(v) {
					t.Fatalf("T=%d: result %d [%d] = %v, want %v", T, i, j, got[i].F[j], v)
				}
			}
		}
	}
}
