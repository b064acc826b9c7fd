package cpu

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/deepc-dev/deepc/ir"
)

// naiveLinear is the triple-loop baseline: y[m, n] = Σ_k x[m, k] w[n, k].
func naiveLinear(M, N, K int, x, w, y []float32) {
	for m := 0; m < M; m++ {
		for n := 0; n < N; n++ {
			var s float32
			for k := 0; k < K; k++ {
				s += x[m*K+k] * w[n*K+k]
			}
			y[m*N+n] = s
		}
	}
}

// BenchmarkGEMM measures linear-shaped GEMMs (x [T, in] · w[out, in]ᵀ) in
// f32 (BF16 mode's accumulation) and f64 accumulation (FP32 mode), against
// the naive triple loop timed in the same run. Metrics: GFLOP/s of the
// blocked GEMM on all workers, of the naive loop (one goroutine), and
// their ratio.
func BenchmarkGEMM(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	workers := Options{}.workers()
	for _, T := range []int{64, 128, 512} {
		for _, io := range [][2]int{{256, 256}, {2048, 256}, {256, 2048}, {1024, 1024}, {2048, 2048}} {
			in, out := io[0], io[1]
			x := randF(rng, ir.F32, 1, T, in).F
			w := randF(rng, ir.F32, 1, out, in).F
			y := make([]float32, T*out)
			flop := 2 * float64(T) * float64(in) * float64(out)
			// The naive loop, timed once per shape (it is slow).
			var naive float64
			for _, wide := range []bool{false, true} {
				acc := "f32"
				if wide {
					acc = "f64"
				}
				b.Run(fmt.Sprintf("T=%d/in=%d/out=%d/acc=%s", T, in, out, acc), func(b *testing.B) {
					if naive == 0 {
						t0 := time.Now()
						naiveLinear(T, out, in, x, w, y)
						naive = flop / time.Since(t0).Seconds() / 1e9
					}
					mb := &matB{f: w, ld: in, trans: true}
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						gemm(workers, T, out, in, x, in, mb, y, out, wide)
					}
					gf := flop * float64(b.N) / b.Elapsed().Seconds() / 1e9
					b.ReportMetric(gf, "GFLOP/s")
					b.ReportMetric(naive, "naive-GFLOP/s")
					b.ReportMetric(gf/naive, "x-naive")
				})
			}
		}
	}
}

// BenchmarkGEMMOneWorker is BenchmarkGEMM on one goroutine, for the
// single-core speed-up of blocking and the micro-kernel alone.
func BenchmarkGEMMOneWorker(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	T, in, out := 256, 1024, 1024
	x := randF(rng, ir.F32, 1, T, in).F
	w := randF(rng, ir.F32, 1, out, in).F
	y := make([]float32, T*out)
	flop := 2 * float64(T) * float64(in) * float64(out)
	t0 := time.Now()
	naiveLinear(T, out, in, x, w, y)
	naive := flop / time.Since(t0).Seconds() / 1e9
	for _, wide := range []bool{false, true} {
		b.Run(fmt.Sprintf("T=%d/in=%d/out=%d/wide=%v", T, in, out, wide), func(b *testing.B) {
			mb := &matB{f: w, ld: in, trans: true}
			for i := 0; i < b.N; i++ {
				gemm(1, T, out, in, x, in, mb, y, out, wide)
			}
			gf := flop * float64(b.N) / b.Elapsed().Seconds() / 1e9
			b.ReportMetric(gf, "GFLOP/s")
			b.ReportMetric(naive, "naive-GFLOP/s")
			b.ReportMetric(gf/naive, "x-naive")
		})
	}
}

// BenchmarkFP8Linear measures the FP8 path (activation quantization
// included) of a linear with a block-quantized weight.
func BenchmarkFP8Linear(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	T, in, out := 256, 2048, 2048
	x := randF(rng, ir.BF16, 1, T, in).F
	wq := quantizeWeight(randF(rng, ir.F32, 0.05, out, in), 128, 128)
	y := make([]float32, T*out)
	workers := Options{}.workers()
	mb := weightB(wq, 0, 0, ir.BF16)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		qa := quantizeRows(workers, x, T, in)
		gemmFP8(workers, T, out, qa, mb, y, out)
	}
	b.ReportMetric(2*float64(T*in*out)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// BenchmarkGEMMSmallM measures decode-shaped linears: a few rows (tokens)
// against a weight, the case where packing the weight dominates.
func BenchmarkGEMMSmallM(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	workers := Options{}.workers()
	for _, T := range []int{3, 4, 8, 16} {
		for _, io := range [][2]int{{256, 256}, {256, 2048}, {2048, 256}} {
			in, out := io[0], io[1]
			x := randF(rng, ir.F32, 1, T, in).F
			w := randF(rng, ir.F32, 1, out, in).F
			y := make([]float32, T*out)
			mb := &matB{f: w, ld: in, trans: true}
			b.Run(fmt.Sprintf("T=%d/in=%d/out=%d", T, in, out), func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					gemm(workers, T, out, in, x, in, mb, y, out, true)
				}
			})
		}
	}
}

// BenchmarkGEMMLayouts measures a training step's three GEMM layouts at
// the tiny model's shapes (T = 512 tokens, 256 x 256 weight), f32: the
// forward x·Wᵀ (weight layout B), the input gradient dy·W (row-major B)
// and the weight gradient dyᵀ·x (transposed A, K = T), each against the
// forward's GFLOP/s in the same run (x-forward).
func BenchmarkGEMMLayouts(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	workers := Options{}.workers()
	const T, N = 512, 256
	x := randF(rng, ir.F32, 1, T, N).F
	w := randF(rng, ir.F32, 1, N, N).F
	y := make([]float32, T*N)
	flop := 2 * float64(T) * N * N
	layouts := []struct {
		name string
		run  func()
	}{
		{"forward", func() { gemm(workers, T, N, N, x, N, &matB{f: w, ld: N, trans: true}, y, N, false) }},
		{"input-grad", func() { gemm(workers, T, N, N, x, N, &matB{f: w, ld: N}, y, N, false) }},
		{"weight-grad", func() {
			gemmA(workers, N, N, T, matA{f: x, ld: N, trans: true}, &matB{f: x, ld: N}, y, N, false)
		}},
	}
	var forward float64
	for _, l := range layouts {
		b.Run(l.name, func(b *testing.B) {
			if forward == 0 {
				t0 := time.Now()
				for range 20 {
					layouts[0].run()
				}
				forward = 20 * flop / time.Since(t0).Seconds() / 1e9
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				l.run()
			}
			gf := flop * float64(b.N) / b.Elapsed().Seconds() / 1e9
			b.ReportMetric(gf, "GFLOP/s")
			b.ReportMetric(gf/forward, "x-forward")
		})
	}
}
