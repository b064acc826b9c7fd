package cpu

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/runtime"
)

// The model ops (top-k, routing, rope, attention) against float64
// references written from docs/op-semantics.md, as in ops_test.go.

// refTopK is a stable sort by value, descending.
func refTopK(row []float32, k int) []int {
	idx := make([]int, len(row))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case row[a] > row[b]:
			return -1
		case row[a] < row[b]:
			return 1
		}
		return 0
	})
	return idx[:k]
}

func TestTopK(t *testing.T) {
	rng := newRNG(t)
	x := randI(rng, ir.I64, 0, 6, 5, 3, 12) // many ties
	xf := runtime.NewTensor(ir.F32, 5, 3, 12)
	for i, v := range x.I {
		xf.F[i] = float32(v) * 0.25
	}
	for _, k := range []int64{1, 4, 12} {
		outs := runOp(t, FP32, "topk", ir.Attrs{"k": k}, xf)
		for r := 0; r < 15; r++ {
			want := refTopK(xf.F[r*12:(r+1)*12], int(k))
			for j, i := range want {
				p := r*int(k) + j
				if outs[1].I[p] != int64(i) || outs[0].F[p] != xf.F[r*12+i] {
					t.Fatalf("topk k=%d row %d: got %v / %v, want indices %v", k, r, outs[0].F[r*int(k):(r+1)*int(k)], outs[1].I[r*int(k):(r+1)*int(k)], want)
				}
			}
		}
		if outs[1].DType != ir.I32 {
			t.Errorf("topk indices are %s", outs[1].DType)
		}
		oi := runOp(t, FP32, "topk", ir.Attrs{"k": k}, x)
		checkInts(t, "topk int indices", oi[1], outs[1].I)
	}
}

// refRoute is group-limited top-k from docs/op-semantics.md, with stable
// sorts for every tie rule and group sums in f32 added largest first.
func refRoute(s []float32, E, k, groups, kg, top int) []int64 {
	T := len(s) / E
	per := E / groups
	var out []int64
	for t := 0; t < T; t++ {
		row := s[t*E : (t+1)*E]
		gs := make([]float32, groups)
		for g := 0; g < groups; g++ {
			for _, i := range refTopK(row[g*per:(g+1)*per], top) {
				gs[g] += row[g*per+i]
			}
		}
		kept := refTopK(gs, kg)
		masked := make([]float32, E)
		for i := range masked {
			masked[i] = float32(math.Inf(-1))
		}
		for _, g := range kept {
			copy(masked[g*per:(g+1)*per], row[g*per:(g+1)*per])
		}
		for _, i := range refTopK(masked, k) {
			out = append(out, int64(i))
		}
	}
	return out
}

func TestRoute(t *testing.T) {
	rng := newRNG(t)
	T, E := 40, 32
	// Sigmoid scores plus a bias, as DeepSeek-V3 selects (group_top 2), and
	// coarse values so ties between experts and between groups occur.
	s := runtime.NewTensor(ir.F32, T, E)
	bias := runtime.NewTensor(ir.F32, E)
	for i := range bias.F {
		bias.F[i] = float32(rng.IntN(3)) * 0.125
	}
	for i := range s.F {
		s.F[i] = float32(1/(1+math.Exp(-rng.NormFloat64()))) + bias.F[i%E]
		if i%7 == 0 {
			s.F[i] = 0.5
		}
	}
	for _, c := range []struct{ k, groups, kg, top int }{{8, 8, 4, 2}, {4, 4, 2, 1}, {6, 1, 1, 1}, {3, 32, 3, 1}, {5, 4, 4, 8}} {
		attrs := ir.Attrs{"k": int64(c.k), "groups": int64(c.groups), "topk_groups": int64(c.kg)}
		if c.top != 1 {
			attrs["group_top"] = int64(c.top)
		}
		got := runOp(t, FP32, "route", attrs, symArg{s})[0]
		checkInts(t, "route", got, refRoute(s.F, E, c.k, c.groups, c.kg, c.top))
	}
	// All-equal scores: the lowest groups and indices win.
	eq := runtime.NewTensor(ir.F32, 1, 8)
	for i := range eq.F {
		eq.F[i] = 1
	}
	got := runOp(t, FP32, "route", ir.Attrs{"k": int64(3), "groups": int64(4), "topk_groups": int64(2)}, eq)[0]
	checkInts(t, "route ties", got, []int64{0, 1, 2})
}

// refRope implements rope from docs/op-semantics.md in float64.
func refRope(x []float64, pos []int64, T, per, d int, theta float64, yarn map[string]float64) []float64 {
	freq := make([]float64, d/2)
	for i := range freq {
		freq[i] = 1 / math.Pow(theta, float64(2*i)/float64(d))
	}
	if yarn != nil {
		dim := float64(d)
		low := math.Floor(dim * math.Log(yarn["orig"]/(yarn["beta_fast"]*2*math.Pi)) / (2 * math.Log(theta)))
		high := math.Ceil(dim * math.Log(yarn["orig"]/(yarn["beta_slow"]*2*math.Pi)) / (2 * math.Log(theta)))
		low, high = math.Min(math.Max(low, 0), dim-1), math.Min(math.Max(high, 0), dim-1)
		if low == high {
			high += 0.001
		}
		for i := range freq {
			ramp := math.Min(math.Max((float64(i)-low)/(high-low), 0), 1)
			freq[i] = freq[i]/yarn["factor"]*ramp + freq[i]*(1-ramp)
		}
	}
	out := make([]float64, len(x))
	for t := 0; t < T; t++ {
		for v := 0; v < per; v++ {
			for i := 0; i < d/2; i++ {
				a := float64(pos[t]) * freq[i]
				p := (t*per+v)*d + 2*i
				re, im := x[p], x[p+1]
				out[p] = re*math.Cos(a) - im*math.Sin(a)
				out[p+1] = re*math.Sin(a) + im*math.Cos(a)
			}
		}
	}
	return out
}

// Partial rotary (the first r of d dims rotate, rotate-half within them)
// with Hugging Face's dynamic NTK scaling: above the original context L0
// the base is θ·(factor·L/L0 − (factor − 1))^(r/(r−2)), L the largest
// position plus one; at or below it, the plain frequencies.
func TestRopePartialDynamic(t *testing.T) {
	rng := newRNG(t)
	T, H, d, r := 7, 2, 32, 12
	x := randF(rng, ir.F32, 1, T, H, d)
	for _, c := range []struct {
		maxPos int64
		layout string
	}{{40, "half"}, {900, "half"}, {900, "interleaved"}} {
		pos := randI(rng, ir.I32, 0, c.maxPos, T)
		pos.I[3] = c.maxPos // L = maxPos + 1
		attrs := ir.Attrs{"theta": 10000.0, "rotary_dim": int64(r), "layout": c.layout,
			"scaling": ir.Attrs{"type": "dynamic", "factor": 3.0, "original_max_position_embeddings": int64(64)}}
		got := runOp(t, FP32, "rope", attrs, symArg{x}, symArg{pos})[0]
		base := 10000.0
		if L := float64(c.maxPos + 1); L > 64 {
			base *= math.Pow(3*L/64-2, float64(r)/float64(r-2))
		}
		want := f64s(x)
		for tok := 0; tok < T; tok++ {
			for h := 0; h < H; h++ {
				v := want[(tok*H+h)*d : (tok*H+h+1)*d]
				for i := 0; i < r/2; i++ {
					a := float64(pos.I[tok]) / math.Pow(base, float64(2*i)/float64(r))
					j, k := 2*i, 2*i+1
					if c.layout == "half" {
						j, k = i, i+r/2
					}
					re, im := v[j], v[k]
					v[j], v[k] = re*math.Cos(a)-im*math.Sin(a), re*math.Sin(a)+im*math.Cos(a)
				}
			}
		}
		checkClose(t, fmt.Sprintf("rope rotary_dim %d of %d, %s, dynamic, max position %d", r, d, c.layout, c.maxPos), got, want, tolF32)
	}
}

func TestRope(t *testing.T) {
	rng := newRNG(t)
	T, H, d := 9, 3, 64
	x := randF(rng, ir.F32, 1, T, H, d)
	pos := randI(rng, ir.I32, 0, 5000, T)
	pos.I[0] = 0
	for _, yarn := range []map[string]float64{
		nil,
		{"factor": 40, "orig": 4096, "beta_fast": 32, "beta_slow": 1},
		{"factor": 4, "orig": 256, "beta_fast": 32, "beta_slow": 1},
		{"factor": 8, "orig": 4, "beta_fast": 32, "beta_slow": 1}, // both clamp to 0: low == high
	} {
		attrs := ir.Attrs{"theta": 10000.0}
		if yarn != nil {
			attrs["scaling"] = ir.Attrs{"type": "yarn", "factor": yarn["factor"],
				"original_max_position_embeddings": int64(yarn["orig"]), "beta_fast": yarn["beta_fast"], "beta_slow": yarn["beta_slow"],
				"mscale": 1.0, "mscale_all_dim": 1.0}
		}
		got := runOp(t, FP32, "rope", attrs, symArg{x}, symArg{pos})[0]
		checkClose(t, "rope", got, refRope(f64s(x), pos.I, T, H, d, 10000, yarn), tolF32)
	}
	// layout "half" rotates (x[i], x[i+d/2]): the interleaved rotation of
	// the vector with its halves interleaved, halves restored after.
	inter := func(v []float64, n int) []float64 { // (a₀..a₍d/2₋1₎, b₀..) → (a₀, b₀, a₁, b₁, ...)
		out := make([]float64, len(v))
		for o := 0; o < len(v); o += n {
			for i := 0; i < n/2; i++ {
				out[o+2*i], out[o+2*i+1] = v[o+i], v[o+i+n/2]
			}
		}
		return out
	}
	deinter := func(v []float64, n int) []float64 {
		out := make([]float64, len(v))
		for o := 0; o < len(v); o += n {
			for i := 0; i < n/2; i++ {
				out[o+i], out[o+i+n/2] = v[o+2*i], v[o+2*i+1]
			}
		}
		return out
	}
	yarn := map[string]float64{"factor": 4, "orig": 256, "beta_fast": 32, "beta_slow": 1}
	attrs := ir.Attrs{"theta": 10000.0, "layout": "half", "scaling": ir.Attrs{"type": "yarn", "factor": 4.0,
		"original_max_position_embeddings": int64(256), "beta_fast": 32.0, "beta_slow": 1.0, "mscale": 1.0, "mscale_all_dim": 1.0}}
	got := runOp(t, FP32, "rope", attrs, symArg{x}, symArg{pos})[0]
	checkClose(t, "rope layout=half", got, deinter(refRope(inter(f64s(x), d), pos.I, T, H, d, 10000, yarn), d), tolF32)
	if _, err := tryOp(FP32, "rope", ir.Attrs{"theta": 10000.0, "layout": "neox"}, symArg{x}, symArg{pos}); err == nil {
		t.Error("layout neox: accepted")
	}

	// [T, 1, d] (MLA's shared k_pe) with a small theta.
	x1 := randF(rng, ir.F32, 1, T, 1, 16)
	got = runOp(t, FP32, "rope", ir.Attrs{"theta": 500.0}, symArg{x1}, symArg{pos})[0]
	checkClose(t, "rope [T,1,16]", got, refRope(f64s(x1), pos.I, T, 1, 16, 500, nil), tolF32)
}

// refAttention is attention over packed sequences (docs/op-semantics.md):
// query head h reads key/value head h/(H/Hk); a window > 0 hides keys that
// many positions back or more.
func refAttention(q, k, v []float64, kpos, kseq, pos, seq []int64, H, Hk, dq, dv int, scale float64, causal bool, window ...int64) []float64 {
	T, C := len(pos), len(kpos)
	out := make([]float64, T*H*dv)
	for t := 0; t < T; t++ {
		for h := 0; h < H; h++ {
			hk := h / (H / Hk)
			var ss []float64
			var vis []int
			for s := 0; s < C; s++ {
				if kseq[s] != seq[t] || kseq[s] == -1 || causal && kpos[s] > pos[t] {
					continue
				}
				if len(window) > 0 && window[0] > 0 && pos[t]-kpos[s] >= window[0] {
					continue
				}
				var dot float64
				for i := 0; i < dq; i++ {
					dot += q[(t*H+h)*dq+i] * k[(s*Hk+hk)*dq+i]
				}
				ss = append(ss, dot*scale)
				vis = append(vis, s)
			}
			m := math.Inf(-1)
			for _, x := range ss {
				m = math.Max(m, x)
			}
			var sum float64
			for j := range ss {
				ss[j] = math.Exp(ss[j] - m)
				sum += ss[j]
			}
			for j, s := range vis {
				for i := 0; i < dv; i++ {
					out[(t*H+h)*dv+i] += ss[j] / sum * v[(s*Hk+hk)*dv+i]
				}
			}
		}
	}
	return out
}

func TestAttention(t *testing.T) {
	rng := newRNG(t)
	// Sequences of lengths 5, 1, 7 and 3, interleaved in the packing, with
	// positions not starting at 0 for one of them.
	seq := ints(ir.I32, 0, 0, 0, 0, 0, 1, 2, 2, 2, 3, 2, 2, 2, 2, 3, 3)
	pos := ints(ir.I32, 0, 1, 2, 3, 4, 0, 0, 1, 2, 10, 3, 4, 5, 6, 11, 12)
	T, H, dq, dv := 16, 6, 24, 16
	q := randF(rng, ir.F32, 1, T, H, dq)
	// MHA, grouped-query (2 and 3 query heads per key/value head) and
	// multi-query; causal or not; with and without a sliding window.
	for _, Hk := range []int{H, 3, 2, 1} {
		k, v := randF(rng, ir.F32, 1, T, Hk, dq), randF(rng, ir.F32, 1, T, Hk, dv)
		for _, causal := range []bool{true, false} {
			// MaxInt64: wider than any position difference (no overflow).
			for _, window := range []int64{0, 1, 3, math.MaxInt64} {
				attrs := ir.Attrs{"scale": 0.2}
				if !causal {
					attrs["causal"] = false
				}
				if window > 0 {
					attrs["window"] = window
				}
				got := runOp(t, FP32, "attention", attrs, symArg{q}, symArg{k}, symArg{v}, symArg{pos}, symArg{seq})[0]
				want := refAttention(f64s(q), f64s(k), f64s(v), pos.I, seq.I, pos.I, seq.I, H, Hk, dq, dv, 0.2, causal, window)
				checkClose(t, fmt.Sprintf("attention Hk=%d causal=%v window=%d", Hk, causal, window), got, want, tolF32)
			}
		}
	}
}

// attention_grad against central differences of the float64 reference's
// Σ g·o, for grouped-query attention (dk and dv sum over the query heads
// that share a key/value head) with and without a sliding window.
func TestAttentionGradGroupedWindow(t *testing.T) {
	rng := newRNG(t)
	seq := ints(ir.I32, 0, 0, 0, 1, 0, 0, 1, 1, 0)
	pos := ints(ir.I32, 0, 1, 2, 0, 3, 4, 1, 2, 5)
	T, H, Hk, dq, dv := 9, 4, 2, 6, 5
	q, k, v := randF(rng, ir.F32, 1, T, H, dq), randF(rng, ir.F32, 1, T, Hk, dq), randF(rng, ir.F32, 1, T, Hk, dv)
	g := randF(rng, ir.F32, 1, T, H, dv)
	for _, window := range []int64{0, 2} {
		attrs := ir.Attrs{"scale": 0.4, "window": window}
		got := runOp(t, FP32, "attention_grad", attrs, symArg{q}, symArg{k}, symArg{v}, symArg{pos}, symArg{seq}, symArg{g})
		loss := func(q, k, v []float64) float64 {
			o := refAttention(q, k, v, pos.I, seq.I, pos.I, seq.I, H, Hk, dq, dv, 0.4, true, window)
			var l float64
			for i, x := range o {
				l += x * float64(g.F[i])
			}
			return l
		}
		x := [][]float64{f64s(q), f64s(k), f64s(v)}
		for i, name := range []string{"dq", "dk", "dv"} {
			want := make([]float64, len(x[i]))
			for j := range want {
				const h = 1e-6
				keep := x[i][j]
				x[i][j] = keep + h
				up := loss(x[0], x[1], x[2])
				x[i][j] = keep - h
				down := loss(x[0], x[1], x[2])
				x[i][j] = keep
				want[j] = (up - down) / (2 * h)
			}
			checkClose(t, fmt.Sprintf("attention_grad %s window=%d", name, window), got[i], want, 1e-5)
		}
	}
}

func TestAttentionCacheAndKVWrite(t *testing.T) {
	rng := newRNG(t)
	C, T, H, dq, dv := 12, 5, 3, 16, 8
	kseq := ints(ir.I32, 0, 0, 1, -1, 1, 0, -1, 1, 0, -1, 2, 0)
	kpos := ints(ir.I32, 0, 1, 0, 0, 1, 2, 0, 2, 3, 0, 0, 4)
	seq := ints(ir.I32, 0, 1, 1, 3, -1) // sequence 3 has no slot, nor does -1 (free slots are not a sequence): output 0
	pos := ints(ir.I32, 3, 1, 2, 0, 5)
	q := randF(rng, ir.F32, 1, T, H, dq)
	for _, Hk := range []int{H, 1} {
		k, v := randF(rng, ir.F32, 1, C, Hk, dq), randF(rng, ir.F32, 1, C, Hk, dv)
		for _, causal := range []bool{true, false} {
			for _, window := range []int64{0, 2} {
				attrs := ir.Attrs{"scale": 0.3, "causal": causal, "window": window}
				got := runOp(t, FP32, "attention_cache", attrs, symArg{q}, k, v, symArg{pos}, symArg{seq}, kpos, kseq)[0]
				want := refAttention(f64s(q), f64s(k), f64s(v), kpos.I, kseq.I, pos.I, seq.I, H, Hk, dq, dv, 0.3, causal, window)
				checkClose(t, fmt.Sprintf("attention_cache Hk=%d causal=%v window=%d", Hk, causal, window), got, want, tolF32)
			}
		}
	}
	cache := randF(rng, ir.F32, 1, C, 5)
	x := randF(rng, ir.F32, 1, T, 5)
	slot := ints(ir.I32, 3, 6, 0, 11, 2)
	got := runOp(t, FP32, "kv_write", nil, cache, symArg{x}, symArg{slot})[0]
	want := f64s(cache)
	for t, s := range slot.I {
		for j := 0; j < 5; j++ {
			want[int(s)*5+j] = float64(x.F[t*5+j])
		}
	}
	checkClose(t, "kv_write", got, want, 0)
	if got == cache || cache.F[15] != float32(want[15]) && cache.F[15] == x.F[0] {
		t.Error("kv_write overwrote a function argument without Donate")
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
