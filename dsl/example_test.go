package dsl_test

import (
	"fmt"

	"github.com/deepc-dev/deepc/dsl"
	"github.com/deepc-dev/deepc/ir"
)

// A model is config, blocks and exported blocks. Blocks are inlined, loops
// unrolled, and --set overrides recompute derived config values.
func ExampleCompileSource() {
	src := `model mlp
config {
  d = 4
  hidden = 2 * d          # derived: follows --set d=...
  n = 2
}
block layer(x: [T, d] f32, i: int) -> [T, d] f32 {
  param up: [hidden, d] f32 {init = normal(0.02), ckpt = "layers.{i}.up"}
  param down: [d, hidden] f32 {init = normal(0.02), ckpt = "layers.{i}.down"}
  return x + linear(silu(linear(x, up)), down)
}
export block forward(x: [T, d] f32) {
  for i in 0..n {
    x = layer(x, i)
  }
  return x
}
`
	m, err := dsl.CompileSource("mlp.deep", src, dsl.Options{Sets: []string{"d=2", "n=1"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	m.Attrs = nil // the config, printed as a module attribute, is long
	for _, op := range m.Funcs[0].Body {
		op.Loc = ir.Loc{}
	}
	fmt.Print(ir.Print(m))
	// Output:
	// module @mlp {
	//   param @layers.0.up : [4, 2] f32 {init = {dist = "normal", std = 0.02}, trainable = true}
	//   param @layers.0.down : [2, 4] f32 {init = {dist = "normal", std = 0.02}, trainable = true}
	//
	//   func @forward(%x: [T, 2] f32) -> ([T, 2] f32) {
	//     %0 = param {name = "layers.0.up"} : [4, 2] f32
	//     %1 = param {name = "layers.0.down"} : [2, 4] f32
	//     %2 = linear %x, %0 : [T, 4] f32
	//     %3 = silu %2 : [T, 4] f32
	//     %4 = linear %3, %1 : [T, 2] f32
	//     %5 = add %x, %4 : [T, 2] f32
	//     return %5
	//   }
	// }
}

// Errors point into the source.
func ExampleCompileSource_error() {
	_, err := dsl.CompileSource("bad.deep", "model m\nconfig { d = 4 }\nassert d % 3 == 0, \"d must be a multiple of 3\"\n", dsl.Options{})
	fmt.Println(err)
	// Output:
	// bad.deep:3:1: assertion failed: d must be a multiple of 3
	//     assert d % 3 == 0, "d must be a multiple of 3"
	//     ^
}
