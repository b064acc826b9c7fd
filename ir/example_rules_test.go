package ir_test

import (
	"fmt"

	"github.com/deepc-dev/deepc/ir"
)

// A rule set is data: each rule is a pattern with captures and a rewrite.
// Here x*1 becomes x, and reshape(reshape(x)) one reshape of x; the greedy
// driver applies them until neither matches. The ops they make dead stay
// for dce.
func ExampleRules() {
	m, err := ir.Parse("example.ir", `module @m {
  func @f(%x: [2, 6] f32) -> ([3, 4] f32) {
    %0 = const {dtype = f32, value = 1.0} : [] f32
    %1 = mul %x, %0 : [2, 6] f32
    %2 = reshape %1 {shape = [12]} : [12] f32
    %3 = reshape %2 {shape = [3, 4]} : [3, 4] f32
    return %3
  }
}
`)
	if err != nil {
		panic(err)
	}
	rules := ir.NewRules(
		ir.Rule{
			Name:    "mul-one",
			Pat:     ir.P(ir.OpMul, ir.Any("x"), ir.Splat(1)),
			Rewrite: func(_ *ir.Rewriter, mt *ir.Match) *ir.Value { return mt.V("x") },
		},
		ir.Rule{
			Name: "reshape-of-reshape",
			Pat:  ir.P(ir.OpReshape, ir.P(ir.OpReshape, ir.Any("x"))),
			Rewrite: func(rw *ir.Rewriter, mt *ir.Match) *ir.Value {
				return rw.Op(ir.OpReshape, []*ir.Value{mt.V("x")}, mt.Root.Attrs.Clone())
			},
		},
	)
	changed, err := rules.ApplyModule(m)
	if err != nil {
		panic(err)
	}
	fmt.Println("changed:", changed)
	fmt.Print(ir.Print(m))
	// Output:
	// changed: true
	// module @m {
	//
	//   func @f(%x: [2, 6] f32) -> ([3, 4] f32) {
	//     %0 = const {dtype = f32, value = 1.0} : [] f32
	//     %1 = reshape %x {shape = [12]} : [12] f32
	//     %2 = reshape %x {shape = [3, 4]} : [3, 4] f32
	//     return %2
	//   }
	// }
}

// An Editor keeps use lists while a pass edits. Here neg(neg(x)) is
// replaced by x: the outer neg's users now read x, and the inner neg,
// left without users, is erased too.
func ExampleEditor() {
	m, err := ir.Parse("example.ir", `module @m {
  func @f(%x: [4] f32) -> ([4] f32) {
    %0 = neg %x : [4] f32
    %1 = neg %0 : [4] f32
    %2 = exp %1 : [4] f32
    return %2
  }
}
`)
	if err != nil {
		panic(err)
	}
	f := m.Funcs[0]
	ed := ir.NewEditor(f)
	outer := f.Body[1]
	ed.ReplaceAllUses(outer.Result(), f.Body[0].Args[0]) // neg(neg(x)) is x
	ed.Erase(outer)
	users, _ := ed.Users(f.Body[0].Result())
	fmt.Println("users of the inner neg:", len(users))
	ed.Erase(f.Body[0])
	if err := ed.Commit(); err != nil {
		panic(err)
	}
	fmt.Print(ir.Print(m))
	// Output:
	// users of the inner neg: 0
	// module @m {
	//
	//   func @f(%x: [4] f32) -> ([4] f32) {
	//     %0 = exp %x : [4] f32
	//     return %0
	//   }
	// }
}
