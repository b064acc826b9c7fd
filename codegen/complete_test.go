package codegen

import (
	"context"
	"fmt"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/passes"
)

// A linear with a residual add becomes one GEMM kernel whose epilogue
// adds; the rms_norm before it is a row kernel.
func ExampleCompile() {
	m := &ir.Module{Name: "example"}
	m.Params = []*ir.Param{
		{Name: "norm", Type: ir.T(ir.BF16, ir.C(256))},
		{Name: "w", Type: ir.T(ir.BF16, ir.C(512), ir.C(256))},
	}
	b := m.NewFunc("f")
	x := b.Arg("x", ir.T(ir.BF16, ir.S("T"), ir.C(256)))
	r := b.Arg("r", ir.T(ir.BF16, ir.S("T"), ir.C(512)))
	h, _ := b.Emit1("rms_norm", []*ir.Value{x, b.Param(m.Params[0])}, ir.Attrs{"eps": 1e-6})
	y, _ := b.Emit1("linear", []*ir.Value{h, b.Param(m.Params[1])}, nil)
	z, _ := b.Emit1("add", []*ir.Value{y, r}, nil)
	b.Return(z)
	pl, _ := passes.ParsePipeline("plan-kernels")
	if err := passes.Run(&passes.Context{}, m, pl); err != nil {
		fmt.Println(err)
		return
	}
	res, err := Compile(context.Background(), m, Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, st := range res.Programs["f"] {
		k := res.Kernel(st.Kernel)
		fmt.Println(k.Kind, k.Ops, k.MMA, "grid", st.Launch.Grid[0].Elems, "/", st.Launch.Grid[0].Div, "×", st.Launch.Grid[1].Elems, "/", st.Launch.Grid[1].Div)
	}
	// Output:
	// rows [rms_norm]  grid [T] / 1 × [] / 1
	// gemm [linear add] bf16 grid [512] / 128 × [T] / 64
}
