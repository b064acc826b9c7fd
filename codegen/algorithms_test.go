package codegen

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/deepc-dev/deepc/ir"
)

// Numerics and layouts of the kernels' algorithms, checked on the CPU.

// Every byte the GEMM loader stages is where wgmma's descriptor reads it
// (PTX ISA, K-major, no swizzle: start + (r/8)·SBO + (kb/16)·LBO +
// (r%8)·16 + kb%16), for every k-step of the tile, on both operands; and
// the loader's placement is a bijection onto the tile.
func TestWGMMATileLayout(t *testing.T) {
	for _, rows := range []int64{gemmBM, gemmBN} {
		seen := map[int64]bool{}
		for r := int64(0); r < rows; r++ {
			for kb := int64(0); kb < tileKBytes; kb++ {
				off := coreOffset(r, kb)
				if off < 0 || off >= rows*tileKBytes || seen[off] {
					t.Fatalf("rows %d: byte (%d, %d) stored at %d (outside or twice)", rows, r, kb, off)
				}
				seen[off] = true
			}
		}
		for s := int64(0); s < tileKBytes/kStepBytes; s++ {
			for r := int64(0); r < rows; r++ {
				for kb := int64(0); kb < kStepBytes; kb++ {
					got := descriptorAddress(kStepStart(s), r, kb)
					want := coreOffset(r, s*kStepBytes+kb)
					if got != want {
						t.Fatalf("k-step %d reads (%d, %d) at %d; the loader put it at %d", s, r, kb, got, want)
					}
				}
			}
		}
	}
	// The descriptor fields hold 14 bits of 16-byte units.
	if tileSBO>>4 >= 1<<14 || tileLBO>>4 >= 1<<14 {
		t.Fatalf("LBO %d / SBO %d do not fit the descriptor", tileLBO, tileSBO)
	}
}

// onlineAttention is the attention kernel's algorithm for one query:
// keys in chunks of attnChunk, f32 scores, a running max and sum rescaled
// per chunk (exp of the difference), then the output divided by the sum.
func onlineAttention(q []float32, keys, vals [][]float32, visible []bool, scale float32) []float32 {
	dv := len(vals[0])
	m, l := float32(-math.MaxFloat32), float32(0)
	acc := make([]float32, dv)
	p := make([]float32, attnChunk)
	for c0 := 0; c0 < len(keys); c0 += attnChunk {
		cmax := float32(-math.MaxFloat32)
		for j := range p {
			s := c0 + j
			p[j] = -math.MaxFloat32
			if s < len(keys) && visible[s] {
				var dot float32
				for i := range q {
					dot += q[i] * keys[s][i]
				}
				p[j] = dot * scale
			}
			cmax = max(cmax, p[j])
		}
		mNew := max(m, cmax)
		alpha := float32(1)
		if mNew > -math.MaxFloat32 {
			alpha = float32(math.Exp(float64(m - mNew)))
		}
		var csum float32
		for j := range p {
			if p[j] <= -math.MaxFloat32 {
				p[j] = 0
			} else {
				p[j] = float32(math.Exp(float64(p[j] - mNew)))
			}
			csum += p[j]
		}
		l = l*alpha + csum
		for d := range acc {
			a := acc[d] * alpha
			for j := range p {
				if s := c0 + j; s < len(keys) {
					a += p[j] * vals[s][d]
				}
			}
			acc[d] = a
		}
		m = mNew
	}
	for d := range acc {
		if l > 0 {
			acc[d] /= l
		} else {
			acc[d] = 0
		}
	}
	return acc
}

// The chunked online softmax matches float64 attention to f32 accuracy at
// lengths around the chunk size, with masked keys, and gives 0 to a query
// that sees nothing.
func TestOnlineSoftmaxAttention(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 7, attnChunk - 1, attnChunk, attnChunk + 1, 3*attnChunk + 17} {
		const dq, dv = 24, 16
		q := make([]float32, dq)
		for i := range q {
			q[i] = float32(rng.NormFloat64() * 2)
		}
		keys, vals := make([][]float32, n), make([][]float32, n)
		visible := make([]bool, n)
		for s := range keys {
			keys[s], vals[s] = make([]float32, dq), make([]float32, dv)
			for i := range keys[s] {
				keys[s][i] = float32(rng.NormFloat64())
			}
			for i := range vals[s] {
				vals[s][i] = float32(rng.NormFloat64())
			}
			visible[s] = rng.IntN(5) != 0 || s == 0
		}
		scale := float32(1 / math.Sqrt(dq))
		got := onlineAttention(q, keys, vals, visible, scale)
		// float64 reference.
		var mx float64 = math.Inf(-1)
		sc := make([]float64, n)
		for s := range keys {
			var dot float64
			for i := range q {
				dot += float64(q[i]) * float64(keys[s][i])
			}
			sc[s] = dot * float64(scale)
			if visible[s] {
				mx = math.Max(mx, sc[s])
			}
		}
		var sum float64
		want := make([]float64, dv)
		for s := range keys {
			if !visible[s] {
				continue
			}
			p := math.Exp(sc[s] - mx)
			sum += p
			for d := range want {
				want[d] += p * float64(vals[s][d])
			}
		}
		var num, den float64
		for d := range want {
			want[d] /= sum
			num += (float64(got[d]) - want[d]) * (float64(got[d]) - want[d])
			den += want[d] * want[d]
		}
		if e := math.Sqrt(num / den); e > 2e-6 {
			t.Errorf("%d keys: relative error %.2e", n, e)
		}
	}
	none := onlineAttention([]float32{1}, [][]float32{{1}, {2}}, [][]float32{{3}, {4}}, []bool{false, false}, 1)
	if none[0] != 0 {
		t.Errorf("a query with no visible key got %v, want 0", none)
	}
}

// The rope kernel forms pos·freq in f64 and reduces it mod 2π before the
// f32 sine and cosine; at DeepSeek-V3's context lengths the reduced angle
// keeps the rotation within f32 accuracy, where an f32 angle would not.
func TestRopeAngleReduction(t *testing.T) {
	freqs, err := ir.RopeFreqs(64, 10000, ir.Attrs{"type": "yarn", "factor": 40.0, "original_max_position_embeddings": int64(4096), "beta_fast": 32.0, "beta_slow": 1.0})
	if err != nil {
		t.Fatal(err)
	}
	var worstReduced, worstF32 float64
	for _, pos := range []int64{0, 1, 4095, 65535, 163839} {
		for _, f := range freqs {
			ang := float64(pos) * f
			red := float32(ang - 2*math.Pi*math.Round(ang/(2*math.Pi)))
			worstReduced = math.Max(worstReduced, math.Abs(float64(float32(math.Sin(float64(red))))-math.Sin(ang)))
			naive := float32(float32(pos) * float32(f))
			worstF32 = math.Max(worstF32, math.Abs(math.Sin(float64(naive))-math.Sin(ang)))
		}
	}
	if worstReduced > 1e-6 {
		t.Errorf("reduced angles: sine off by %.2e", worstReduced)
	}
	if worstF32 < 1e-4 {
		t.Errorf("f32 angles were expected to be visibly off (%.2e): the test no longer shows why the reduction is needed", worstF32)
	}
	t.Logf("worst sine error: reduced f64 angle %.1e, f32 angle %.1e", worstReduced, worstF32)
}
