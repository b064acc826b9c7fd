package cpu

// Assembly micro-kernels for amd64 (gemm_amd64.s), accumulating with fused
// multiply-adds: with AVX-512, 12x32 for f32 and 12x16 for f64; with AVX2
// and FMA, 6x16 and 6x8; plus AVX2 gemv kernels for a few rows. Selected at
// init from what the CPU and OS support; DEEPC_CPU_GEMM=avx2 caps the
// choice at AVX2 and DEEPC_CPU_GEMM=go forces the portable kernels.

import (
	"os"
	"sync"
)

//go:noescape
func kern6x16f32(kc int, a, b, c *float32, ldc int)

//go:noescape
func kern6x8f64(kc int, a, b, c *float64, ldc int)

//go:noescape
func gemv4f64(k int, x, w *float32, ldw int, out *[4]float64)

//go:noescape
func gemv4f32(k int, x, w *float32, ldw int, out *[4]float32)

//go:noescape
func dotRowsF32(k int, x, w *float32, ldw int, rows int, out *float32)

//go:noescape
func dotRows4F32(k int, x *float32, ldx int, w *float32, ldw int, rows int, out *float32)

//go:noescape
func kern12x32f32(kc int, a, b, c *float32, ldc int)

//go:noescape
func kern12x16f64(kc int, a, b, c *float64, ldc int)

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

// hasAVX512 reports whether AVX-512F can be used (CPU flag and OS support
// for the opmask and ZMM state).
func hasAVX512() bool {
	if !hasAVX2FMA() {
		return false
	}
	if xcr0, _ := xgetbv(); xcr0&0xe6 != 0xe6 {
		return false
	}
	_, ebx7, _, _ := cpuid(7, 0)
	return ebx7&(1<<16) != 0
}

var avx512F32 = microKernel[float32]{12, 32, func(kc int, a, b, c []float32, ldc int) {
	if kc <= 0 {
		return
	}
	_, _, _ = a[12*kc-1], b[32*kc-1], c[11*ldc+31]
	kern12x32f32(kc, &a[0], &b[0], &c[0], ldc)
}, "avx512 12x32"}

var avx512F64 = microKernel[float64]{12, 16, func(kc int, a, b, c []float64, ldc int) {
	if kc <= 0 {
		return
	}
	_, _, _ = a[12*kc-1], b[16*kc-1], c[11*ldc+15]
	kern12x16f64(kc, &a[0], &b[0], &c[0], ldc)
}, "avx512 12x16"}

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
	switch sel := os.Getenv("DEEPC_CPU_GEMM"); {
	case sel == "go" || !hasAVX2FMA():
		return
	case sel != "avx2" && hasAVX512():
		kernF32, kernF64 = avx512F32, avx512F64
	default:
		kernF32, kernF64 = asmF32, asmF64
	}
	gemvF32, gemvF64 = gemvRows4[float32], gemvRows4[float64]
	gemvSeqF32 = dotRows
}

// padScratch holds dotRows' padded rows (decode calls it for every expert).
var padScratch = sync.Pool{New: func() any { return new([]float32) }}

// dotRows computes, for M rows of A packed in xs (K = len(xs)/M apart)
// and rows = len(out)/M weight rows, out[m*rows + r] = Σ_k xs[m*K+k]·
// w[r*ldw + k], reading the weight rows once and in address order. Each
// output gets gemvRows4's arithmetic (the assembly kernel over the largest
// multiple of 8, then Go for the tail): the same bits as gemvRows4.
func dotRows(xs []float32, M int, w []float32, ldw int, out []float32) {
	K, rows := len(xs)/M, len(out)/M
	if rows == 0 {
		return
	}
	_ = w[(rows-1)*ldw+K-1]
	kk := K &^ 7
	switch {
	case kk == 0:
		clear(out)
	case M == 1:
		dotRowsF32(kk, &xs[0], &w[0], ldw, rows, &out[0])
	case M == 4:
		dotRows4F32(kk, &xs[0], K, &w[0], ldw, rows, &out[0])
	default: // rows M..3 repeat row 0; their sums are dropped
		sc := padScratch.Get().(*[]float32)
		if cap(*sc) < 4*K+4*rows {
			*sc = make([]float32, 4*K+4*rows)
		}
		x4, o4 := (*sc)[:4*K], (*sc)[4*K:4*K+4*rows]
		copy(x4, xs)
		for m := M; m < 4; m++ {
			copy(x4[m*K:], xs[:K])
		}
		dotRows4F32(kk, &x4[0], K, &w[0], ldw, rows, &o4[0])
		copy(out, o4)
		padScratch.Put(sc)
	}
	if kk == K {
		return
	}
	for m := range M {
		x := xs[m*K : (m+1)*K]
		for r := range rows {
			row := w[r*ldw : r*ldw+K]
			for k := kk; k < K; k++ {
				out[m*rows+r] += x[k] * row[k]
			}
		}
	}
}
