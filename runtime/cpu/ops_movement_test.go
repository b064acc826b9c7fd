package cpu

import (
	"testing"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/runtime"
)

// The movement ops (reshape, transpose, slices, gathers, shift) against
// float64 references, as in ops_test.go.

func TestMovement(t *testing.T) {
	rng := newRNG(t)
	x := randF(rng, ir.F32, 1, 4, 6, 5)
	// reshape
	got := runOp(t, FP32, "reshape", ir.Attrs{"shape": []int64{6, 20}}, x)[0]
	checkClose(t, "reshape", got, f64s(x), 0)
	// expand [6, 1] → [3, 6, 4]
	e := randF(rng, ir.F32, 1, 6, 1)
	got = runOp(t, FP32, "expand", ir.Attrs{"shape": []int64{3, 6, 4}}, e)[0]
	want := make([]float64, 72)
	for i := range want {
		want[i] = float64(e.F[unravel(i, []int{3, 6, 4})[1]])
	}
	checkClose(t, "expand", got, want, 0)
	// transpose [4, 6, 5] by [2, 0, 1] → [5, 4, 6]
	got = runOp(t, FP32, "transpose", ir.Attrs{"perm": []int64{2, 0, 1}}, x)[0]
	want = make([]float64, 120)
	for i := range want {
		o := unravel(i, []int{5, 4, 6})
		want[i] = float64(x.F[(o[1]*6+o[2])*5+o[0]])
	}
	checkClose(t, "transpose", got, want, 0)
	// concat along axis 1 of [4, 6, 5], [4, 2, 5], [4, 1, 5]
	y, z := randF(rng, ir.F32, 1, 4, 2, 5), randF(rng, ir.F32, 1, 4, 1, 5)
	got = runOp(t, FP32, "concat", ir.Attrs{"axis": int64(1)}, x, y, z)[0]
	want = make([]float64, 4*9*5)
	for i := range want {
		o := unravel(i, []int{4, 9, 5})
		switch {
		case o[1] < 6:
			want[i] = float64(x.F[(o[0]*6+o[1])*5+o[2]])
		case o[1] < 8:
			want[i] = float64(y.F[(o[0]*2+o[1]-6)*5+o[2]])
		default:
			want[i] = float64(z.F[o[0]*5+o[2]])
		}
	}
	checkClose(t, "concat", got, want, 0)
	// split axis -1 into 2, 3 and slice axis 1 from 1 to 4
	outs := runOp(t, FP32, "split", ir.Attrs{"axis": int64(-1), "sizes": []int64{2, 3}}, x)
	sl := runOp(t, FP32, "slice", ir.Attrs{"axis": int64(1), "start": int64(1), "end": int64(4)}, x)[0]
	for p, piece := range []struct {
		got        *runtime.Tensor
		shape      []int
		ax, offset int
	}{{outs[0], []int{4, 6, 2}, 2, 0}, {outs[1], []int{4, 6, 3}, 2, 2}, {sl, []int{4, 3, 5}, 1, 1}} {
		want := make([]float64, numel(piece.shape))
		for i := range want {
			o := unravel(i, piece.shape)
			o[piece.ax] += piece.offset
			want[i] = float64(x.F[(o[0]*6+o[1])*5+o[2]])
		}
		checkClose(t, []string{"split 0", "split 1", "slice"}[p], piece.got, want, 0)
	}
	// gather rows (axis 0, indices [2, 3]) and along axis 1
	table := randF(rng, ir.BF16, 1, 50, 8)
	ids := randI(rng, ir.I32, 0, 50, 2, 3)
	got = runOp(t, BF16, "gather", ir.Attrs{"axis": int64(0)}, paramArg{name: "emb", t: table}, ids)[0]
	want = make([]float64, 48)
	for i := range want {
		want[i] = float64(table.F[int(ids.I[i/8])*8+i%8])
	}
	checkClose(t, "gather axis 0", got, want, 0)
	if got.DType != ir.BF16 {
		t.Errorf("gather of a bf16 table in bf16 mode gave %s", got.DType)
	}
	ids1 := randI(rng, ir.I64, 0, 6, 7)
	got = runOp(t, FP32, "gather", ir.Attrs{"axis": int64(1)}, x, ids1)[0]
	want = make([]float64, 4*7*5)
	for i := range want {
		o := unravel(i, []int{4, 7, 5})
		want[i] = float64(x.F[(o[0]*6+int(ids1.I[o[1]]))*5+o[2]])
	}
	checkClose(t, "gather axis 1", got, want, 0)
	if _, err := tryOp(FP32, "gather", ir.Attrs{"axis": int64(0)}, table, ints(ir.I32, 50)); err == nil {
		t.Error("gather with an index out of range succeeded")
	}
	// take_along axis 1 and 0
	for _, ax := range []int{1, 0} {
		ishape := []int{4, 6, 5}
		ishape[ax] = 3
		idx := randI(rng, ir.I32, 0, int64(x.Shape[ax]), ishape...)
		got = runOp(t, FP32, "take_along", ir.Attrs{"axis": int64(ax)}, x, idx)[0]
		want = make([]float64, numel(ishape))
		for i := range want {
			o := unravel(i, ishape)
			o[ax] = int(idx.I[i])
			want[i] = float64(x.F[(o[0]*6+o[1])*5+o[2]])
		}
		checkClose(t, "take_along", got, want, 0)
	}
}

func TestShift(t *testing.T) {
	rng := newRNG(t)
	// Three packed sequences of lengths 3, 1, 4 (ids not sorted).
	seq := ints(ir.I32, 7, 7, 7, 2, 5, 5, 5, 5)
	x := randF(rng, ir.F32, 1, 8, 3)
	toks := randI(rng, ir.I32, 0, 100, 8)
	for _, off := range []int64{1, -1, 2, -3, 0, 8} {
		got := runOp(t, FP32, "shift", ir.Attrs{"offset": off}, symArg{x}, symArg{seq})[0]
		gi := runOp(t, FP32, "shift", ir.Attrs{"offset": off}, symArg{toks}, symArg{seq})[0]
		want := make([]float64, 24)
		wanti := make([]int64, 8)
		for t := 0; t < 8; t++ {
			s := t + int(off)
			if s >= 0 && s < 8 && seq.I[s] == seq.I[t] {
				for j := 0; j < 3; j++ {
					want[t*3+j] = float64(x.F[s*3+j])
				}
				wanti[t] = toks.I[s]
			}
		}
		checkClose(t, "shift", got, want, 0)
		checkInts(t, "shift tokens", gi, wanti)
	}
}
