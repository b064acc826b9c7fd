package cpu

// Assembly micro-kernels for amd64 with AVX2 and FMA (gemm_amd64.s): 6x16
// for f32 and 6x8 for f64, accumulating with fused multiply-adds. Selected
// at init when the CPU and OS support them; DEEPC_CPU_GEMM=go forces the
// portable kernels.

import "os"

//go:noescape
func kern6x16f32(kc int, a, b, c *float32, ldc int)

//go:noescape
func kern6x8f64(kc int, a, b, c *float64, ldc int)

//go:noescape
func gemv4f64(k int, x, w *float32, ldw int, out *[4]float64)

//go:noescape
func gemv4f32(k int, x, w *float32, ldw int, out *[4]float32)

func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)

func xgetbv() (eax, edx uint32)

// hasAVX2FMA reports whether AVX2 and FMA3 can be used (CPU flags and OS
// support for saving the YMM state).
func hasAVX2FMA() bool {
	maxID, _, _, _ := cpuid(0, 0)
	if maxID < 7 {
		return false
	}
	_, _, ecx1, _ := cpuid(1, 0)
	const fma, osxsave, avx = 1 << 12, 1 << 27, 1 << 28
	if ecx1&(fma|osxsave|avx) != fma|osxsave|avx {
		return false
	}
	if xcr0, _ := xgetbv(); xcr0&6 != 6 {
		return false
	}
	_, ebx7, _, _ := cpuid(7, 0)
	return ebx7&(1<<5) != 0
}

var asmF32 = microKernel[float32]{6, 16, func(kc int, a, b, c []float32, ldc int) {
	if kc <= 0 {
		return
	}
	_, _, _ = a[6*kc-1], b[16*kc-1], c[5*ldc+15] // bounds, once
	kern6x16f32(kc, &a[0], &b[0], &c[0], ldc)
}, "avx2 6x16"}

var asmF64 = microKernel[float64]{6, 8, func(kc int, a, b, c []float64, ldc int) {
	if kc <= 0 {
		return
	}
	_, _, _ = a[6*kc-1], b[8*kc-1], c[5*ldc+7]
	kern6x8f64(kc, &a[0], &b[0], &c[0], ldc)
}, "avx2 6x8"}

// gemvRows4 sets out[r] = Σ_k x[k]·w[r*ldw + k] for r < 4 with the
// assembly kernel over the largest multiple of its width and Go for the
// tail, accumulating in T.
func gemvRows4[T float](x, w []float32, ldw int, out *[4]T) {
	K := len(x)
	_ = w[3*ldw+K-1]
	var zero T
	var kk int
	if _, ok := any(zero).(float64); ok {
		kk = K &^ 3
		if kk > 0 {
			var o [4]float64
			gemv4f64(kk, &x[0], &w[0], ldw, &o)
			for r := range o {
				out[r] = T(o[r])
			}
		} else {
			*out = [4]T{}
		}
	} else {
		kk = K &^ 7
		if kk > 0 {
			var o [4]float32
			gemv4f32(kk, &x[0], &w[0], ldw, &o)
			for r := range o {
				out[r] = T(o[r])
			}
		} else {
			*out = [4]T{}
		}
	}
	for r := 0; r < 4; r++ {
		row := w[r*ldw : r*ldw+K]
		for k := kk; k < K; k++ {
			out[r] += T(x[k]) * T(row[k])
		}
	}
}

func init() {
	if os.Getenv("DEEPC_CPU_GEMM") != "go" && hasAVX2FMA() {
		kernF32, kernF64 = asmF32, asmF64
		gemvF32, gemvF64 = gemvRows4[float32], gemvRows4[float64]
	}
}
