// Package ir is deepc's tensor IR: dtypes, symbolic and affine shapes,
// attributes, the op table (one OpDef per op: operands, attributes, type
// rule, fusion kind, FLOPs, linearity), modules of functions in SSA form
// with module parameters, a builder, the verifier that runs after every
// pass, and the text form with its parser (parse(print(m)) prints the
// same). It imports nothing else of the project; every other layer keys
// its own tables (gradient rules, CPU kernels, emitters) by the ops'
// handles (OpAdd, OpRope, ...), and internal/opfaces tests that each op
// has an entry in each. The ops' semantics are written out in
// docs/op-semantics.md.
package ir
