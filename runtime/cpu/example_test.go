package cpu_test

import (
	"fmt"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/runtime"
	"github.com/deepc-dev/deepc/runtime/cpu"
)

// Build y = silu(x · wᵀ) with ir.Builder and run it on the CPU in BF16 mode.
func ExampleRun() {
	m := &ir.Module{Name: "demo", Params: []*ir.Param{{Name: "w", Type: ir.T(ir.BF16, ir.C(2), ir.C(3))}}}
	b := m.NewFunc("f")
	x := b.Arg("x", ir.T(ir.BF16, ir.S("T"), ir.C(3)))
	h, _ := b.Emit1("linear", []*ir.Value{x, b.Param(m.Params[0])}, nil)
	y, _ := b.Emit1("silu", []*ir.Value{h}, nil)
	b.Return(y)

	w := runtime.NewTensor(ir.BF16, 2, 3)
	copy(w.F, []float32{1, 0, 0, 0, 1, 1})
	in := runtime.NewTensor(ir.BF16, 1, 3)
	copy(in.F, []float32{1, 2, 3})
	mode, _ := cpu.ParseMode("bf16")
	out, err := cpu.Run(b.F, map[string]*runtime.Tensor{"w": w}, []*runtime.Tensor{in}, cpu.Options{Mode: mode})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(out[0].DType, out[0].Shape, out[0].F)
	// Output: bf16 [1 2] [0.73046875 4.96875]
}
