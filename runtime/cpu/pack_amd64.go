package cpu

// The packing routines' hot cases in assembly (pack_amd64.s): four f32
// rows into four columns of a strip, 4x4 blocks with SSE shuffles, several
// times the Go loop's speed; and a strip of row pieces copied without a
// call per piece.

//go:noescape
func transpose4F32(n int, dst *float32, w int, r0, r1, r2, r3 *float32)

//go:noescape
func copyStripF32(kcb int, dst *float32, w int, src *float32, ld int)

func init() {
	if !hasAVX2FMA() {
		return
	}
	interleave4F32 = func(dst []float32, w int, r0, r1, r2, r3 []float32) int {
		n := len(r0) &^ 3
		if n == 0 {
			return 0
		}
		_, _, _, _, _ = dst[(n-1)*w+3], r1[n-1], r2[n-1], r3[n-1], r0[n-1]
		transpose4F32(n, &dst[0], w, &r0[0], &r1[0], &r2[0], &r3[0])
		return n
	}
	copyStrip = func(dst []float32, w int, src []float32, ld, kcb int) {
		if kcb == 0 {
			return
		}
		_, _ = dst[kcb*w-1], src[(kcb-1)*ld+w-1]
		copyStripF32(kcb, &dst[0], w, &src[0], ld)
	}
}
