package cpu

import "os"

// AVX2 loops for sigmoid and SiLU (sigmoid_amd64.s): the f64 computation
// of sigmoidFast, four lanes at a time.

//go:noescape
func sigmoid4F32(dst, src *float32, n int)

//go:noescape
func silu4F32(dst, src *float32, n int)

func init() {
	if os.Getenv("DEEPC_CPU_GEMM") == "go" || !hasAVX2FMA() {
		return
	}
	sigmoidVec = func(dst, src []float32) int { return vec4(sigmoid4F32, dst, src) }
	siluVec = func(dst, src []float32) int { return vec4(silu4F32, dst, src) }
}

// vec4 runs a 4-lane kernel over the longest multiple of 4 and returns how
// many elements it did.
func vec4(k func(dst, src *float32, n int), dst, src []float32) int {
	n := len(src) &^ 3
	if n > 0 {
		k(&dst[0], &src[0], n)
	}
	return n
}
