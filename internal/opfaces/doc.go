// Package opfaces holds the tests that see every face of every op at once:
// its kind in the op table (ir), its gradient rule (passes/autodiff), its
// CPU kernel (runtime/cpu), its GPU emitter (codegen), its float64
// semantics (internal/eval64) and its entry in docs/op-semantics.md; and
// the test that keeps op-name strings out of the code outside ir, so that
// ops are named by their handles (ir.OpAdd, ...). ir cannot import the
// packages that hold the faces, so the tests live here. It has no code.
package opfaces
