package ir_test

import (
	"fmt"

	"github.com/deepc-dev/deepc/ir"
)

// Build a tiny module with the Builder, which infers every result type from
// the op table, verify it and print its text form.
func ExampleBuilder() {
	m := &ir.Module{Name: "tiny"}
	w := &ir.Param{Name: "layers.{e}.w", Type: ir.T(ir.BF16, ir.C(16), ir.C(8))}
	m.Params = append(m.Params, w)

	b := m.NewFunc("forward")
	x := b.Arg("x", ir.T(ir.F32, ir.S("T"), ir.C(8)))
	b.Loc = ir.Loc{File: "tiny.deep", Line: 3, Col: 5}
	h, err := b.Emit1("linear", []*ir.Value{x, b.Param(w)}, nil)
	if err != nil {
		panic(err)
	}
	b.Loc.Line = 4
	y, err := b.Emit1("silu", []*ir.Value{h}, nil)
	if err != nil {
		panic(err)
	}
	b.Return(y)

	if err := ir.Verify(m); err != nil {
		panic(err)
	}
	fmt.Print(ir.Print(m))
	// Output:
	// module @tiny {
	//   param @"layers.{e}.w" : [16, 8] bf16
	//
	//   func @forward(%x: [T, 8] f32) -> ([T, 16] f32) {
	//     %0 = param {name = "layers.{e}.w"} : [16, 8] bf16 loc("tiny.deep":3:5)
	//     %1 = linear %x, %0 : [T, 16] f32 loc("tiny.deep":3:5)
	//     %2 = silu %1 : [T, 16] f32 loc("tiny.deep":4:5)
	//     return %2
	//   }
	// }
}

// Parse the text form, then verify it: Parse checks syntax and that values
// are defined before use; Verify checks types against the op table.
func ExampleParse() {
	src := `module @m {

  func @f(%x: [T, 8] f32) -> ([T, 3] f32, [T, 5] f32) {
    %0, %1 = split %x {axis = 1, sizes = [3, 5]} : [T, 3] f32, [T, 5] f32
    return %0, %1
  }
}
`
	m, err := ir.Parse("m.ir", src)
	if err != nil {
		panic(err)
	}
	fmt.Println("verify:", ir.Verify(m))
	for _, op := range m.Func("f").Body {
		fmt.Println(op.Name, op.Attrs, op.ResultTypes())
	}
	fmt.Println("prints identically:", ir.Print(m) == src)

	// A type error parses but does not verify.
	bad, err := ir.Parse("bad.ir", `module @m {
  func @f(%x: [T, 8] f32) -> ([T, 4] f32) {
    %0 = neg %x : [T, 4] f32 loc("m.deep":2:3)
    return %0
  }
}`)
	if err != nil {
		panic(err)
	}
	fmt.Println("verify:", ir.Verify(bad))

	// A syntax error names the file, line and column.
	_, err = ir.Parse("bad.ir", "module @m {\n  func @f() -> () {\n    %0 = frob : [] f32\n")
	fmt.Println("parse:", err)
	// Output:
	// verify: <nil>
	// split {axis = 1, sizes = [3, 5]} [[T, 3] f32 [T, 5] f32]
	// prints identically: true
	// verify: func @f: %0 = neg (at m.deep:2:3): result 0 has type [T, 4] f32, want [T, 8] f32
	// parse: bad.ir:3:10: unknown op "frob"
}

// Cost counts an op's FLOPs and bytes once the symbols are bound.
func ExampleOp_Cost() {
	m := &ir.Module{Name: "m"}
	b := m.NewFunc("f")
	x := b.Arg("x", ir.T(ir.BF16, ir.S("T"), ir.C(7168)))
	w := b.Arg("w", ir.T(ir.BF16, ir.C(2048), ir.C(7168)))
	y, err := b.Emit1("linear", []*ir.Value{x, w}, nil)
	if err != nil {
		panic(err)
	}
	c := y.Def.Cost(map[string]int64{"T": 4096})
	fmt.Printf("%.1f GFLOP, %.1f MB\n", float64(c.FLOPs)/1e9, float64(c.Bytes)/1e6)
	// Output:
	// 120.3 GFLOP, 104.9 MB
}
