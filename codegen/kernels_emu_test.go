package codegen

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/deepc-dev/deepc/internal/testseed"
	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/program"
	"github.com/deepc-dev/deepc/runtime"
	"github.com/deepc-dev/deepc/runtime/device"
	"github.com/deepc-dev/deepc/runtime/emu"
)

// The kernels' algorithms, checked by running the emitted kernels
// themselves on the PTX emulator (sanitizer on) against float64
// references: the wgmma GEMM's tile staging and descriptors on edge tiles,
// attention's chunked online softmax around its chunk length, rope's
// angle reduction at long positions.

// emuRun compiles the IR module's function to kernels (llc) and runs it
// on the emulator through the program executor.
func emuRun(t *testing.T, seed uint64, src, fn string, params map[string]*runtime.Tensor, args ...*runtime.Tensor) ([]*runtime.Tensor, *Result) {
	t.Helper()
	m, err := ir.Parse("test.ir", src)
	if err != nil {
		t.Fatal(err)
	}
	runPipeline(t, m, "plan-kernels")
	res, err := Compile(context.Background(), m, Options{Toolchain: toolchain(t), NoPTXAS: true, CacheDir: DefaultCacheDir()})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Missing[fn]) > 0 {
		t.Fatalf("regions without kernels: %v", res.Missing[fn])
	}
	dev := emu.NewDevice(emu.Options{Sanitize: true, Seed: seed})
	for _, k := range res.Kernels {
		if _, err := dev.LoadPTX(k.PTX); err != nil {
			t.Fatalf("%s: %v", k.Name, err)
		}
	}
	programs := map[string][]program.Step{}
	for _, s := range res.Programs[fn] {
		programs[fn] = append(programs[fn], *s)
	}
	ex := device.NewExecutor(dev, programs)
	defer ex.Close()
	out, err := ex.Run(m.Func(fn), params, args)
	if err != nil {
		t.Fatal(err)
	}
	return out, res
}

func randTensor(rng *rand.Rand, dt ir.DType, scale float64, round func(float32) float32, shape ...int) *runtime.Tensor {
	x := runtime.NewTensor(dt, shape...)
	for i := range x.F {
		x.F[i] = round(float32(rng.NormFloat64() * scale))
	}
	return x
}

func ints(shape []int, f func(i int) int64) *runtime.Tensor {
	x := runtime.NewTensor(ir.I32, shape...)
	for i := range x.I {
		x.I[i] = f(i)
	}
	return x
}

func noRound(f float32) float32 { return f }

// The tensor-core GEMM (bf16 and FP8 weights, wgmma) on shapes whose
// rows, columns and K end in partial tiles: every output element equals
// the float64 product (the FP8 recipe's, for FP8 weights) to the output's
// rounding. A byte staged where the descriptor does not read it, a wrong
// LBO/SBO or a lost edge row shows as a wrong element.
func TestGEMMKernelTiles(t *testing.T) {
	seed := testseed.Seed(t)
	rng := rand.New(rand.NewPCG(seed, 1))
	for _, c := range []struct {
		T, N, K int
		fp8     bool
	}{{70, 200, 96, false}, {1, 136, 256, false}, {130, 264, 384, true}, {5, 128, 128, true}} {
		t.Run(fmt.Sprintf("T=%d N=%d K=%d fp8=%v", c.T, c.N, c.K, c.fp8), func(t *testing.T) {
			wdt, quant := "bf16", ""
			if c.fp8 {
				wdt, quant = "f8e4m3", " {quant = [128, 128]}"
			}
			src := fmt.Sprintf(`module @g {
  param @w : [%[1]d, %[2]d] %[3]s%[4]s
  func @f(%%x: [T, %[2]d] bf16) -> ([T, %[1]d] bf16) {
    %%0 = param {name = "w"} : [%[1]d, %[2]d] %[3]s
    %%1 = linear %%x, %%0 : [T, %[1]d] bf16
    return %%1
  }
}`, c.N, c.K, wdt, quant)
			x := randTensor(rng, ir.BF16, 1, runtime.RoundBF16, c.T, c.K)
			w := randTensor(rng, ir.BF16, 0.05, runtime.RoundBF16, c.N, c.K)
			if c.fp8 {
				w.DType = ir.F8E4M3
				w.Block = [2]int{128, 128}
				w.Scale = runtime.NewTensor(ir.F32, (c.N+127)/128, (c.K+127)/128)
				for i := range w.Scale.F {
					w.Scale.F[i] = float32(math.Ldexp(1+rng.Float64(), -6))
				}
				for i := range w.F {
					w.F[i] = runtime.RoundE4M3(float32(rng.NormFloat64() * 100))
				}
			}
			out, res := emuRun(t, seed, src, "f", map[string]*runtime.Tensor{"w": w}, x)
			mma := ""
			for _, k := range res.Kernels {
				mma += k.MMA
			}
			if want := map[bool]string{false: "bf16", true: "e4m3"}[c.fp8]; mma != want {
				t.Fatalf("the GEMM took the %q path, want the %s tensor cores", mma, want)
			}
			for i := 0; i < c.T; i++ {
				for j := 0; j < c.N; j++ {
					var want, mag float64
					if c.fp8 {
						want, mag = fp8DotMag(x.F[i*c.K:(i+1)*c.K], w, j)
					} else {
						for k := 0; k < c.K; k++ {
							want += float64(x.F[i*c.K+k]) * float64(w.F[j*c.K+k])
						}
					}
					got := float64(out[0].F[i*c.N+j])
					// Within one bf16 step of the exact value, plus the f32
					// accumulation's error when FP8 terms cancel (2^-20 of
					// their magnitudes: a few f32 roundings of the partial
					// sums; seed 1796195870681910774 cancels to 1/20,000).
					if math.Abs(got-want) > math.Abs(want)/256+mag/(1<<20)+1e-6 {
						t.Fatalf("y[%d, %d] = %g, want %g (terms' magnitudes %g)", i, j, got, want, mag)
					}
				}
			}
		})
	}
}

// fp8Dot is row x times row j of the FP8 weight w in the recipe of
// docs/model.md §5, in float64: x quantized per 128 (scale amax/448, e4m3 to
// nearest), each 128-group's sum scaled by both scales.
func fp8Dot(x []float32, w *runtime.Tensor, j int) float64 {
	y, _ := fp8DotMag(x, w, j)
	return y
}

// fp8DotMag is fp8Dot and the sum of its terms' magnitudes: the kernel
// sums them in f32 (in the tensor cores, then across K blocks), so its
// error scales with that sum, not with the result, which can be far
// smaller when terms cancel.
func fp8DotMag(x []float32, w *runtime.Tensor, j int) (y, mag float64) {
	K := len(x)
	for g := 0; g < K; g += 128 {
		end := min(g+128, K)
		var amax float32
		for _, v := range x[g:end] {
			amax = max(amax, float32(math.Abs(float64(v))))
		}
		sx := amax / 448
		if amax == 0 {
			sx = 1
		}
		var p, pm float64
		for k := g; k < end; k++ {
			t := float64(runtime.RoundE4M3(x[k]/sx)) * float64(w.F[j*K+k])
			p += t
			pm += math.Abs(t)
		}
		s := float64(sx) * float64(w.Scale.F[(j/128)*w.Scale.Shape[1]+g/128])
		y += p * s
		mag += pm * s
	}
	return y, mag
}

// Attention over two packed causal sequences, one longer than the
// kernel's key chunk (attnChunk): its queries see attnChunk−1, attnChunk,
// attnChunk+1 and more keys; the online softmax — a running maximum and
// sum rescaled per chunk — equals float64 softmax attention, and no query
// sees the other sequence. (The kernel scans every key of the batch, so
// the batch is kept short: the emulator's time grows with its square.)
func TestAttentionKernelOnlineSoftmax(t *testing.T) {
	seed := testseed.Seed(t)
	rng := rand.New(rand.NewPCG(seed, 2))
	lens := []int{3, attnChunk + 45}
	const H, D, DV = 2, 24, 16
	T := 0
	for _, n := range lens {
		T += n
	}
	pos, seq := make([]int, T), make([]int, T)
	for s, i := 0, 0; s < len(lens); s++ {
		for p := 0; p < lens[s]; p++ {
			pos[i], seq[i] = p, s
			i++
		}
	}
	q := randTensor(rng, ir.F32, 2, noRound, T, H, D)
	k := randTensor(rng, ir.F32, 1, noRound, T, H, D)
	v := randTensor(rng, ir.F32, 1, noRound, T, H, DV)
	scale := 1 / math.Sqrt(D)
	src := fmt.Sprintf(`module @a {
  func @f(%%q: [T, %[1]d, %[2]d] f32, %%k: [T, %[1]d, %[2]d] f32, %%v: [T, %[1]d, %[3]d] f32, %%pos: [T] i32, %%seq: [T] i32) -> ([T, %[1]d, %[3]d] f32) {
    %%0 = attention %%q, %%k, %%v, %%pos, %%seq {scale = %[4]v} : [T, %[1]d, %[3]d] f32
    return %%0
  }
}`, H, D, DV, scale)
	out, _ := emuRun(t, seed, src, "f", nil, q, k, v,
		ints([]int{T}, func(i int) int64 { return int64(pos[i]) }), ints([]int{T}, func(i int) int64 { return int64(seq[i]) }))
	worst := 0.0
	for i := 0; i < T; i++ {
		for h := 0; h < H; h++ {
			mx := math.Inf(-1)
			sc := map[int]float64{}
			for j := 0; j < T; j++ {
				if seq[j] != seq[i] || pos[j] > pos[i] {
					continue
				}
				var dot float64
				for d := 0; d < D; d++ {
					dot += float64(q.F[(i*H+h)*D+d]) * float64(k.F[(j*H+h)*D+d])
				}
				sc[j] = dot * scale
				mx = math.Max(mx, sc[j])
			}
			var sum float64
			want := make([]float64, DV)
			for j, s := range sc {
				p := math.Exp(s - mx)
				sum += p
				for d := range want {
					want[d] += p * float64(v.F[(j*H+h)*DV+d])
				}
			}
			var num, den float64
			for d := range want {
				want[d] /= sum
				got := float64(out[0].F[(i*H+h)*DV+d])
				num += (got - want[d]) * (got - want[d])
				den += want[d] * want[d]
			}
			worst = math.Max(worst, math.Sqrt(num/den))
		}
	}
	// f32 sums of n terms are within γ_n ≈ n·2^-24 of exact; the longest
	// query sums D products per score and up to T probabilities. (2e-6
	// was a typical error, not a bound: seed 1796230515146669587 gives
	// 2.24e-6, before this test's kernel changed too.) A broken rescaling
	// is off by more than 1e-2.
	tol := float64(T+D) * 0x1p-24
	if worst > tol {
		t.Errorf("attention: worst relative error of a query %.2e, bound %.2e (sequence lengths %v)", worst, tol, lens)
	}
	t.Logf("worst relative error %.2e (bound %.2e)", worst, tol)
}

// attention64 is attention in float64 (docs/op-semantics.md): query head h
// reads key/value head h/(H/Hk); causal; a window > 0 hides keys that many
// positions back or more.
func attention64(q, k, v []float64, pos, seq []int, H, Hk, D, DV int, scale float64, window int) []float64 {
	T := len(pos)
	out := make([]float64, T*H*DV)
	for i := 0; i < T; i++ {
		for h := 0; h < H; h++ {
			hk := h / (H / Hk)
			mx := math.Inf(-1)
			sc := map[int]float64{}
			for j := 0; j < T; j++ {
				if seq[j] != seq[i] || pos[j] > pos[i] || (window > 0 && pos[i]-pos[j] >= window) {
					continue
				}
				var dot float64
				for d := 0; d < D; d++ {
					dot += q[(i*H+h)*D+d] * k[(j*Hk+hk)*D+d]
				}
				sc[j] = dot * scale
				mx = math.Max(mx, sc[j])
			}
			var sum float64
			for _, s := range sc {
				sum += math.Exp(s - mx)
			}
			for j, s := range sc {
				p := math.Exp(s-mx) / sum
				for d := 0; d < DV; d++ {
					out[(i*H+h)*DV+d] += p * v[(j*Hk+hk)*DV+d]
				}
			}
		}
	}
	return out
}

// Grouped-query attention (4 query heads over 2 key/value heads) with a
// sliding window, forward and attention_grad kernels on the emulator,
// against float64 attention and central differences of its Σ g·o.
func TestAttentionKernelGroupedWindow(t *testing.T) {
	// 1<<40 is wider than the kernel's i32 positions can express: no window.
	for _, window := range []int{3, 1 << 40} {
		t.Run(fmt.Sprint(window), func(t *testing.T) { attentionGroupedWindow(t, window) })
	}
}

func attentionGroupedWindow(t *testing.T, window int) {
	seed := testseed.Seed(t)
	rng := rand.New(rand.NewPCG(seed, 3))
	pos := []int{0, 1, 2, 0, 3, 4, 1, 2, 5, 6}
	seq := []int{0, 0, 0, 1, 0, 0, 1, 1, 0, 0}
	const H, Hk, D, DV = 4, 2, 8, 6
	T := len(pos)
	q := randTensor(rng, ir.F32, 1, noRound, T, H, D)
	k := randTensor(rng, ir.F32, 1, noRound, T, Hk, D)
	v := randTensor(rng, ir.F32, 1, noRound, T, Hk, DV)
	g := randTensor(rng, ir.F32, 1, noRound, T, H, DV)
	scale := 0.35
	src := fmt.Sprintf(`module @a {
  func @f(%%q: [T, %[1]d, %[3]d] f32, %%k: [T, %[2]d, %[3]d] f32, %%v: [T, %[2]d, %[4]d] f32, %%pos: [T] i32, %%seq: [T] i32, %%g: [T, %[1]d, %[4]d] f32) -> ([T, %[1]d, %[4]d] f32, [T, %[1]d, %[3]d] f32, [T, %[2]d, %[3]d] f32, [T, %[2]d, %[4]d] f32) {
    %%0 = attention %%q, %%k, %%v, %%pos, %%seq {scale = %[5]v, window = %[6]d} : [T, %[1]d, %[4]d] f32
    %%1, %%2, %%3 = attention_grad %%q, %%k, %%v, %%pos, %%seq, %%g {scale = %[5]v, window = %[6]d} : [T, %[1]d, %[3]d] f32, [T, %[2]d, %[3]d] f32, [T, %[2]d, %[4]d] f32
    return %%0, %%1, %%2, %%3
  }
}`, H, Hk, D, DV, scale, window)
	out, _ := emuRun(t, seed, src, "f", nil, q, k, v,
		ints([]int{T}, func(i int) int64 { return int64(pos[i]) }), ints([]int{T}, func(i int) int64 { return int64(seq[i]) }), g)
	f64 := func(x *runtime.Tensor) []float64 {
		r := make([]float64, len(x.F))
		for i, v := range x.F {
			r[i] = float64(v)
		}
		return r
	}
	relErr := func(got *runtime.Tensor, want []float64) float64 {
		var num, den float64
		for i, w := range want {
			d := float64(got.F[i]) - w
			num, den = num+d*d, den+w*w
		}
		return math.Sqrt(num / den)
	}
	x := [][]float64{f64(q), f64(k), f64(v)}
	if e := relErr(out[0], attention64(x[0], x[1], x[2], pos, seq, H, Hk, D, DV, scale, window)); e > 2e-6 {
		t.Errorf("attention: relative error %.2e", e)
	}
	loss := func() float64 {
		o := attention64(x[0], x[1], x[2], pos, seq, H, Hk, D, DV, scale, window)
		var l float64
		for i, y := range o {
			l += y * float64(g.F[i])
		}
		return l
	}
	for i, name := range []string{"dq", "dk", "dv"} {
		want := make([]float64, len(x[i]))
		for j := range want {
			const h = 1e-6
			keep := x[i][j]
			x[i][j] = keep + h
			up := loss()
			x[i][j] = keep - h
			down := loss()
			x[i][j] = keep
			want[j] = (up - down) / (2 * h)
		}
		if e := relErr(out[1+i], want); e > 1e-5 {
			t.Errorf("attention_grad %s: relative error %.2e", name, e)
		}
	}
}

// The rope kernel at DeepSeek-V3's positions (up to 160K, YaRN): it forms
// pos·freq in f64 and reduces it mod 2π before the f32 sine and cosine,
// so the rotation stays within f32 accuracy (an f32 angle would be off by
// about 1e-2 at these positions).
func TestRopeKernelAngleReduction(t *testing.T) {
	seed := testseed.Seed(t)
	rng := rand.New(rand.NewPCG(seed, 3))
	scaling := `{beta_fast = 32.0, beta_slow = 1.0, factor = 40.0, mscale = 1.0, mscale_all_dim = 1.0, original_max_position_embeddings = 4096, type = "yarn"}`
	freqs, err := ir.RopeFreqs(64, 10000, ir.Attrs{"type": "yarn", "factor": 40.0, "original_max_position_embeddings": int64(4096), "beta_fast": 32.0, "beta_slow": 1.0})
	if err != nil {
		t.Fatal(err)
	}
	positions := []int64{0, 1, 4095, 65535, 163839, 100003}
	T := len(positions)
	x := randTensor(rng, ir.F32, 1, noRound, T, 1, 64)
	src := fmt.Sprintf(`module @r {
  func @f(%%x: [T, 1, 64] f32, %%pos: [T] i32) -> ([T, 1, 64] f32) {
    %%0 = rope %%x, %%pos {scaling = %s, theta = 10000.0} : [T, 1, 64] f32
    return %%0
  }
}`, scaling)
	out, _ := emuRun(t, seed, src, "f", nil, x, ints([]int{T}, func(i int) int64 { return positions[i] }))
	worst := 0.0
	for i, p := range positions {
		for j, f := range freqs {
			ang := float64(p) * f
			c, s := math.Cos(ang), math.Sin(ang)
			a, b := float64(x.F[i*64+2*j]), float64(x.F[i*64+2*j+1])
			worst = math.Max(worst, math.Abs(float64(out[0].F[i*64+2*j])-(a*c-b*s)))
			worst = math.Max(worst, math.Abs(float64(out[0].F[i*64+2*j+1])-(a*s+b*c)))
		}
	}
	if worst > 2e-6 {
		t.Errorf("rope: worst absolute error %.2e at long positions", worst)
	}
	t.Logf("worst absolute error %.2e", worst)
}
