// Package runtime holds what every backend shares: the host Tensor (float
// values exact in their dtype; fp8 weights with block scales) and the
// numerics of the narrow dtypes (bf16, f16, e4m3, e5m2 rounding and bit
// conversions, block quantization). The backends and services live below
// it: cpu (the numerical reference), cuda (the GPU through the driver),
// bundle (the compiled-kernel format), weights, tokenizer, infer, train.
// See docs/design.md §8.
package runtime
