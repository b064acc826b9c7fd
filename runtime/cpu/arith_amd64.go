package cpu

import "os"

// AVX loops for arithF32's contiguous cases (arith_amd64.s): the same IEEE
// f32 operations eight lanes at a time.

//go:noescape
func add8F32(dst, x, y *float32, n int)

//go:noescape
func sub8F32(dst, x, y *float32, n int)

//go:noescape
func mul8F32(dst, x, y *float32, n int)

//go:noescape
func div8F32(dst, x, y *float32, n int)

//go:noescape
func add8sF32(dst, x, v *float32, n int)

//go:noescape
func sub8sF32(dst, x, v *float32, n int)

//go:noescape
func mul8sF32(dst, x, v *float32, n int)

//go:noescape
func div8sF32(dst, x, v *float32, n int)

//go:noescape
func adamw8F32(p, gr, m, v, np, nm, nv *float32, n int, c *[10]float32)

//go:noescape
func roundBF16x8(p *float32, n int)

func init() {
	if os.Getenv("DEEPC_CPU_GEMM") == "go" || !hasAVX2FMA() {
		return
	}
	vv := map[byte]func(dst, x, y *float32, n int){'+': add8F32, '-': sub8F32, '*': mul8F32, '/': div8F32}
	vs := map[byte]func(dst, x, v *float32, n int){'+': add8sF32, '-': sub8sF32, '*': mul8sF32, '/': div8sF32}
	arithVec = func(op byte, d, x, y []float32) int {
		f, n := vv[op], len(d)&^7
		if f == nil || n == 0 {
			return 0
		}
		f(&d[0], &x[0], &y[0], n)
		return n
	}
	roundBF16Vec = func(xs []float32) int {
		n := len(xs) &^ 7
		if n > 0 {
			roundBF16x8(&xs[0], n)
		}
		return n
	}
	adamwVec = func(p, g, m, v, np, nm, nv []float32, c *[10]float32) int {
		n := len(p) &^ 7
		if n > 0 {
			adamw8F32(&p[0], &g[0], &m[0], &v[0], &np[0], &nm[0], &nv[0], n, c)
		}
		return n
	}
	arithVecScalar = func(op byte, d, x []float32, v float32) int {
		f, n := vs[op], len(d)&^7
		if f == nil || n == 0 {
			return 0
		}
		f(&d[0], &x[0], &v, n)
		return n
	}
}
