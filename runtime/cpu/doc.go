// Package cpu is deepc's CPU backend and numerical reference: a Go kernel
// for every op in the IR op table (ir.Ops), an executor that runs an
// ir.Func over host tensors, and three precision modes (docs/op-semantics.md):
//
//   - FP32: every float tensor is computed and stored in f32 (its dtype in
//     the IR only says what a GPU would store). Block-quantized weights are
//     dequantised to f32 (fp8 × the scale of its block) where they are used.
//     Matrix products accumulate in f64 and round once to f32.
//   - BF16: results of ops typed bf16 (or f16, f8) are rounded to that dtype
//     (round to nearest even) after every op, as a GPU stores them; matrix
//     products accumulate in f32. Quantized weights are dequantised to bf16.
//   - FP8: as BF16, and linear/grouped_linear with a block-quantized weight
//     follow the FP8 recipe of docs/model.md §5 bit for bit (see fp8.go).
//
// In every mode softmax, rms_norm, rope, attention and routing compute
// internally in f64 and round their results once.
//
// Kernels are parallel over Options.Workers goroutines (default: every
// CPU); matrix products use a cache-blocked, packed GEMM (gemm.go) whose
// register-tile kernels are AVX-512 or AVX2/FMA assembly on amd64 CPUs that
// have them (portable Go otherwise; DEEPC_CPU_GEMM=avx2 or =go caps the
// choice), with gemv kernels for products of fewer than four rows (decode).
// Attention runs its two products through the same GEMM (attention.go).
//
// Entry points: Run executes a function; PrepareParams converts weights
// once for repeated runs; Dequantize expands a block-quantized tensor;
// KernelFor and KernelOps expose the kernel table.
package cpu
