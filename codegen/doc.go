// Package codegen turns the kernel regions plan-kernels marks in the IR
// into GPU kernels for Hopper (sm_90a): each region is written as LLVM IR
// with github.com/llir/llvm (NVPTX, Hopper instructions as inline PTX),
// llc makes PTX of it and ptxas a cubin, whose resources ptxas reports.
//
// One emitter per region kind (the table in compile.go): pointwise chains,
// data movement, row reductions, GEMMs (wgmma tensor cores for bf16 and
// FP8 with fine-grained scales; a SIMT fallback), rope, routing, MoE
// dispatch and combine, attention and its gradient, the optimizer, scatter
// and quantization. Regions equal in everything an emitter reads share one
// kernel; compiled kernels are cached by content. Compile returns the
// kernels and, per function, the program of launches that runtime/device
// executes (types in package program). See docs/design.md §7 and
// docs/ARCHITECTURE.md.
package codegen
