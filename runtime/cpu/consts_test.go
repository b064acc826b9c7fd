package cpu

import (
	"slices"
	"testing"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/runtime"
)

// A program with a chain of ops over a param alone (transpose, neg, a
// reshape view), whose last use is an add that could overwrite it in
// place, and a product with the argument.
const constsIR = `module @m {
  param @w : [4, 4] f32
  func @f(%x: [2, 4] f32) -> ([2, 4] f32, [4, 4] f32) {
    %0 = param {name = "w"} : [4, 4] f32
    %1 = transpose %0 {perm = [1, 0]} : [4, 4] f32
    %2 = neg %1 : [4, 4] f32
    %3 = reshape %2 {shape = [16]} : [16] f32
    %4 = reshape %3 {shape = [4, 4]} : [4, 4] f32
    %5 = matmul %x, %4 : [2, 4] f32
    %6 = add %2, %2 : [4, 4] f32
    return %5, %6
  }
}`

// TestConstsKeepsParamOnlyOps: with Consts, later runs give the bits of
// a run without the cache (the kept results are not overwritten by the op
// that last uses them in place), the params-only ops that are not results
// are kept (a result belongs to the caller), and they are not recomputed:
// once kept, a change to the param does not reach them (which is why the
// params must not change while the cache is in use).
func TestConstsKeepsParamOnlyOps(t *testing.T) {
	m, err := ir.Parse("consts.ir", constsIR)
	if err != nil {
		t.Fatal(err)
	}
	f := m.Funcs[0]
	w := runtime.NewTensor(ir.F32, 4, 4)
	for i := range w.F {
		w.F[i] = float32(i)*0.25 - 1
	}
	params := map[string]*runtime.Tensor{"w": w}
	x := func(k float32) *runtime.Tensor {
		t := runtime.NewTensor(ir.F32, 2, 4)
		for i := range t.F {
			t.F[i] = k * float32(i+1)
		}
		return t
	}
	run := func(k float32, opts Options) []*runtime.Tensor {
		t.Helper()
		opts.Workers = 2
		out, err := Run(f, params, []*runtime.Tensor{x(k)}, opts)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	consts, pool := NewConsts(), NewPool()
	for i, k := range []float32{1, -2, 3} {
		got, want := run(k, Options{Consts: consts, Pool: pool}), run(k, Options{})
		for r := range got {
			if !slices.Equal(got[r].F, want[r].F) {
				t.Fatalf("run %d, result %d: %v with the cache, %v without", i, r, got[r].F, want[r].F)
			}
		}
		if n := len(consts.ops); n != 4 {
			t.Fatalf("run %d: %d ops kept, want 4 (transpose, neg, two reshapes; not the add, a result)", i, n)
		}
	}
	old := run(1, Options{})
	for i := range w.F {
		w.F[i] *= 2
	}
	cached, fresh := run(1, Options{Consts: consts}), run(1, Options{})
	if !slices.Equal(cached[0].F, old[0].F) || slices.Equal(cached[0].F, fresh[0].F) {
		t.Errorf("after the param changed, the cached run gave %v: want the kept chain's %v (fresh: %v)", cached[0].F, old[0].F, fresh[0].F)
	}
	if !slices.Equal(cached[1].F, old[1].F) {
		t.Errorf("the add (a result, computed afresh from the kept neg) gave %v, want %v", cached[1].F, old[1].F)
	}
}

// A params-only chain whose view is a result, and a composite op in the
// same function, for TestConstsRefusals.
const constsViewIR = `module @m {
  param @w : [4, 4] f32
  func @f(%x: [2, 4] f32) -> ([2, 4] f32, [16] f32) {
    %0 = param {name = "w"} : [4, 4] f32
    %1 = neg %0 : [4, 4] f32
    %2 = reshape %1 {shape = [16]} : [16] f32
    %3 = matmul %x, %1 : [2, 4] f32
    return %3, %2
  }
}`

const constsCompositeIR = `module @m {
  composite @negsq_consts_test(%a: [R, C] f32) -> ([R, C] f32) {
    %0 = neg %a : [R, C] f32
    %1 = mul %0, %a : [R, C] f32
    return %1
  }
  param @w : [4, 4] f32
  func @f(%x: [2, 4] f32) -> ([2, 4] f32) {
    %0 = param {name = "w"} : [4, 4] f32
    %1 = negsq_consts_test %0 : [4, 4] f32
    %2 = matmul %x, %1 : [2, 4] f32
    return %2
  }
}`

// TestConstsRefusals: what the cache must not do. A result that is a view
// of a kept value is the caller's own copy (writing to it does not reach
// the cache); a run in another precision mode does not use what an fp32
// run kept; a function with composite ops (expanded afresh on every run)
// keeps nothing, rather than a new copy per run.
func TestConstsRefusals(t *testing.T) {
	w := runtime.NewTensor(ir.F32, 4, 4)
	for i := range w.F {
		w.F[i] = float32(i)*0.125 - 1
	}
	params := map[string]*runtime.Tensor{"w": w}
	x := runtime.NewTensor(ir.F32, 2, 4)
	for i := range x.F {
		x.F[i] = float32(i + 1)
	}
	parse := func(src string) *ir.Func {
		m, err := ir.Parse("consts.ir", src)
		if err != nil {
			t.Fatal(err)
		}
		return m.Funcs[0]
	}
	run := func(f *ir.Func, opts Options) []*runtime.Tensor {
		t.Helper()
		out, err := Run(f, params, []*runtime.Tensor{x}, opts)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}

	f := parse(constsViewIR)
	consts := NewConsts()
	first := run(f, Options{Consts: consts})
	want := slices.Clone(first[0].F)
	for i := range first[1].F {
		first[1].F[i] = 99 // the caller owns its results
	}
	if again := run(f, Options{Consts: consts}); !slices.Equal(again[0].F, want) {
		t.Errorf("writing to a returned view of a kept value changed the next run: %v, want %v", again[0].F, want)
	}

	kept := len(consts.ops)
	bf16 := run(f, Options{Consts: consts, Mode: BF16})
	if fresh := run(f, Options{Mode: BF16}); !slices.Equal(bf16[0].F, fresh[0].F) || len(consts.ops) != kept {
		t.Errorf("a bf16 run used or filled an fp32 run's cache: %v, want %v (%d ops kept, was %d)", bf16[0].F, fresh[0].F, len(consts.ops), kept)
	}

	g := parse(constsCompositeIR)
	consts = NewConsts()
	for range 3 {
		run(g, Options{Consts: consts})
	}
	if n := len(consts.ops); n != 0 {
		t.Errorf("%d ops kept for a function with composites: each run expands a fresh copy, so they would pile up", n)
	}
}
