// Package codegen will turn kernel regions of the IR into LLVM IR (through
// github.com/llir/llvm), PTX (llc) and cubins (ptxas) for Hopper GPUs. It is
// empty until the GPU codegen issue; see ../shared/DESIGN.md §7.
package codegen
