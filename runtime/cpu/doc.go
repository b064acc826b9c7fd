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
//     follow the FP8 recipe of MODEL.md §5 bit for bit (see fp8.go).
//
// In every mode softmax, rms_norm, rope, attention and routing compute
// internally in f64 and round their results once.
//
// Kernels are parallel over Options.Workers goroutines (default: every
// CPU); matrix products use a cache-blocked, packed GEMM (gemm.go).
package cpu
