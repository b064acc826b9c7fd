package reference

import (
	"math"
	"testing"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol*math.Max(1, math.Abs(b)) }

func wantNear(t *testing.T, what string, got, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if !near(got[i], want[i], tol) {
			t.Fatalf("%s[%d] = %.17g, want %.17g (all: %v)", what, i, got[i], want[i], got)
		}
	}
}

func TestRMSNorm(t *testing.T) {
	// mean(x²) = (4+4+4+4)/4 = 4, sqrt = 2: y = x/2 · w.
	wantNear(t, "rmsnorm", rmsNorm([]float64{2, -2, 2, -2}, []float64{1, 2, 3, 4}, 0),
		[]float64{1, -2, 3, -4}, 1e-15)
	// mean(x²) = 1, eps = 3: sqrt(1+3) = 2.
	wantNear(t, "rmsnorm eps", rmsNorm([]float64{1, -1, 1, -1}, []float64{1, 1, 1, 1}, 3),
		[]float64{0.5, -0.5, 0.5, -0.5}, 1e-15)
	// x = (3, 4): mean(x²) = 12.5, rms = 5/√2; y = (3√2/5, 4√2/5).
	wantNear(t, "rmsnorm 3-4", rmsNorm([]float64{3, 4}, []float64{1, 1}, 0),
		[]float64{3 * math.Sqrt2 / 5, 4 * math.Sqrt2 / 5}, 1e-15)
}

func TestRope(t *testing.T) {
	// freq[i] = theta^(−2i/d): d = 4, theta = 100 gives 1 and 1/10.
	wantNear(t, "freqs", ropeFreqs(4, 100, nil), []float64{1, 0.1}, 1e-15)

	// The unit vector (1, 0) rotated by π/3 is (1/2, √3/2); by 2π/3 (pos 2)
	// it is (−1/2, √3/2). The second pair (0, 1) at pos·freq = 0 stays.
	freq := []float64{math.Pi / 3, 0}
	x := []float64{1, 0, 0, 1}
	rope(x, 1, freq)
	wantNear(t, "rope pos 1", x, []float64{0.5, math.Sqrt(3) / 2, 0, 1}, 1e-15)
	x = []float64{1, 0, 0, 1}
	rope(x, 2, freq)
	wantNear(t, "rope pos 2", x, []float64{-0.5, math.Sqrt(3) / 2, 0, 1}, 1e-15)
	// (0, 1) rotated by π/2 (pos 3, freq π/6) is (−1, 0): pairs are (x[2i], x[2i+1]).
	x = []float64{0, 0, 0, 1}
	rope(x, 3, []float64{0, math.Pi / 6})
	wantNear(t, "rope second pair", x, []float64{0, 0, -1, 0}, 1e-15)

	// q·k after RoPE depends only on the position difference.
	f := ropeFreqs(8, 10000, &Yarn{Factor: 40, OrigMaxPos: 64, BetaFast: 32, BetaSlow: 1, MScale: 1})
	qk := func(m, n int) float64 {
		q := []float64{0.3, -1, 2, 0.5, 1, 1, -0.7, 0.2}
		k := []float64{1, 0.4, -0.3, 2, 0.1, -1, 0.6, 0.9}
		rope(q, m, f)
		rope(k, n, f)
		return dot(q, k)
	}
	if a, b := qk(7, 3), qk(1004, 1000); !near(a, b, 1e-9) {
		t.Fatalf("RoPE score depends on absolute position: %g vs %g", a, b)
	}
}

func TestYarnV3(t *testing.T) {
	y := Yarn{Factor: 40, OrigMaxPos: 4096, BetaFast: 32, BetaSlow: 1, MScale: 1, MScaleAllDim: 1}
	// low  = floor(64·ln(4096/(32·2π)) / (2 ln 10000)) = floor(64·ln(20.3718)/18.4207)
	//      = floor(64·3.01415/18.4207) = floor(10.472) = 10
	// high = ceil(64·ln(4096/(2π)) / 18.4207) = ceil(64·6.47989/18.4207) = ceil(22.513) = 23
	low, high := yarnRange(64, 10000, y)
	if low != 10 || high != 23 {
		t.Fatalf("yarn range = [%g, %g], want [10, 23]", low, high)
	}
	// ramp[i] = clamp((i − 10)/13, 0, 1); freq[i] = b/40·ramp + b·(1 − ramp), b = 10000^(−i/32).
	f := ropeFreqs(64, 10000, &y)
	cases := []struct {
		i    int
		want float64
	}{
		{0, 1},                    // ramp 0: unchanged
		{10, math.Pow(10, -1.25)}, // ramp 0: 10000^(−10/32) = 0.0562341
		{11, math.Pow(10, -1.375) * (1.0/40*1/13 + 12.0/13)}, // ramp 1/13: 0.0390069
		{16, 0.0055}, // b = 0.01, ramp 6/13: 0.01·(6/520 + 7/13) = 0.01·286/520
		{22, math.Pow(10, -2.75) * (1.0/40*12/13 + 1.0/13)}, // ramp 12/13: 1.77828e-4
		{23, math.Pow(10, -2.875) / 40},                     // ramp 1: 3.33380e-5
		{31, math.Pow(10, -3.875) / 40},                     // ramp 1: 3.33380e-6
	}
	for _, c := range cases {
		if !near(f[c.i], c.want, 1e-12) {
			t.Errorf("freq[%d] = %.17g, want %.17g", c.i, f[c.i], c.want)
		}
	}
	// m = 0.1·ln 40 + 1 = 1.368888, m² = 1.873854; scale = m²/√192 = 0.1352338.
	c := Config{QKNopeDim: 128, QKRopeDim: 64, Yarn: &y}
	if s := softmaxScale(c); !near(s, 0.1352337788608801, 1e-12) {
		t.Fatalf("softmax scale = %.17g, want 0.1352337788608801", s)
	}
	c.Yarn = nil
	if s := softmaxScale(c); !near(s, 1/math.Sqrt(192), 1e-15) {
		t.Fatalf("softmax scale without YaRN = %g", s)
	}
}

func TestYarnEqualRange(t *testing.T) {
	// orig = 2π·beta for both betas: ln 1 = 0, so low = high = 0 and high
	// becomes 0.001: ramp[0] = 0, ramp[i ≥ 1] = 1.
	y := Yarn{Factor: 4, OrigMaxPos: 1, BetaFast: 1 / (2 * math.Pi), BetaSlow: 1 / (2 * math.Pi), MScale: 1}
	f := ropeFreqs(4, 100, &y)
	wantNear(t, "freqs", f, []float64{1, 0.1 / 4}, 1e-12)
}

func TestRouteGroupLimitSigmoid(t *testing.T) {
	// 8 experts, 4 groups of 2, keep 2 groups, pick 2 experts.
	c := Config{NRoutedExperts: 8, NActivated: 2, NGroups: 4, NLimitedGroups: 2, RouteScale: 2.5, ScoreFunc: "sigmoid"}
	logits := []float64{1, 0, -1, 0, 0, 2, 0, 0}
	// The bias makes the selection scores exactly-ish these targets:
	//   group 0: 0.9 0.0   sum 0.90
	//   group 1: 0.8 0.05  sum 0.85   (max rule would keep it: 0.8 > 0.52)
	//   group 2: 0.5 0.52  sum 1.02
	//   group 3: 0.45 0.44 sum 0.89
	// Kept groups: 2 and 0; top-2 over experts 0, 1, 4, 5: expert 0 (0.9), expert 5 (0.52).
	// Without group limitation it would be experts 0 and 2 (0.8).
	target := []float64{0.9, 0, 0.8, 0.05, 0.5, 0.52, 0.45, 0.44}
	bias := make([]float64, 8)
	for i := range bias {
		bias[i] = target[i] - sigmoid(logits[i])
	}
	idx, w := route(c, logits, bias)
	if len(idx) != 2 || idx[0] != 0 || idx[1] != 5 {
		t.Fatalf("route = %v, want [0 5]", idx)
	}
	// Weights: the unbiased scores σ(1) = 0.7310586, σ(2) = 0.8807971,
	// renormalised and × 2.5: 2.5·0.7310586/1.6118557 = 1.1338772, 1.3661228.
	wantNear(t, "weights", w, []float64{1.1338772420982481, 1.3661227579017519}, 1e-12)

	// With one group the limitation is off: experts 0 and 2.
	c.NGroups, c.NLimitedGroups = 1, 1
	if idx, _ := route(c, logits, bias); idx[0] != 0 || idx[1] != 2 {
		t.Fatalf("route without groups = %v, want [0 2]", idx)
	}
}

func TestRouteSoftmaxMaxGroupTies(t *testing.T) {
	// No bias, softmax: group score = max. Logits 0 3 | 3 0 | 1 2 | 3 0:
	// group maxima 3, 3, 2, 3; the top-2 groups with ties to the lower index
	// are 0 and 1. Over experts 0..3 (scores ∝ e^0, e^3, e^3, e^0) the top-3
	// are 1, 2 (tie, lower first) and 0 (tie with 3, lower first).
	// Without the limitation expert 6 (also e^3) would beat expert 0.
	c := Config{NRoutedExperts: 8, NActivated: 3, NGroups: 4, NLimitedGroups: 2, RouteScale: 1, ScoreFunc: "softmax"}
	idx, w := route(c, []float64{0, 3, 3, 0, 1, 2, 3, 0}, nil)
	if len(idx) != 3 || idx[0] != 1 || idx[1] != 2 || idx[2] != 0 {
		t.Fatalf("route = %v, want [1 2 0]", idx)
	}
	// Softmax weights, not renormalised: with S = 3 + 3e^−3 + e^−2 + e^−1,
	// w = (1/S, 1/S, e^−3/S).
	S := 3 + 3*math.Exp(-3) + math.Exp(-2) + math.Exp(-1)
	wantNear(t, "weights", w, []float64{1 / S, 1 / S, math.Exp(-3) / S}, 1e-14)
}

func TestAttendPackedMask(t *testing.T) {
	// Three tokens: t0 (seq 0, pos 0), t1 (seq 1, pos 0), t2 (seq 0, pos 1).
	// t0 and t1 see only themselves; t2 sees t0 and itself with scores
	// q·k = 0 and ln 3, so probabilities 1/4 and 3/4.
	q := [][]float64{{1}, {1}, {1}}
	k := [][]float64{{0}, {5}, {math.Log(3)}}
	v := [][]float64{{1}, {10}, {100}}
	o := attend(q, k, v, []int{0, 0, 1}, []int{0, 1, 0}, 1)
	wantNear(t, "o", []float64{o[0][0], o[1][0], o[2][0]}, []float64{1, 10, 0.25*1 + 0.75*100}, 1e-14)

	// The same token in sequence 1 at pos 1 must ignore sequence 0 entirely.
	o = attend(q, k, v, []int{0, 0, 1}, []int{0, 1, 1}, 1)
	// t2 now sees t1 (score 5) and itself (ln 3): p = (e^5, 3)/(e^5 + 3).
	e5 := math.Exp(5)
	wantNear(t, "o seq 1", []float64{o[0][0], o[1][0], o[2][0]}, []float64{1, 10, (10*e5 + 300) / (e5 + 3)}, 1e-14)
}

func TestDequantPartialBlocks(t *testing.T) {
	// 130 x 257: 2 x 3 blocks, the last row of blocks 2 rows high, the last
	// column of blocks 1 column wide.
	rows, cols := 130, 257
	fp8 := make([]float64, rows*cols)
	for i := range fp8 {
		fp8[i] = 1
	}
	fp8[129*cols+256] = -0.5
	scale := []float64{1, 2, 3, 4, 5, 6}
	out := Dequant(fp8, scale, rows, cols)
	for _, c := range []struct {
		r, c int
		want float64
	}{
		{0, 0, 1}, {127, 127, 1}, {0, 128, 2}, {127, 255, 2}, {0, 256, 3}, {127, 256, 3},
		{128, 0, 4}, {129, 127, 4}, {128, 128, 5}, {129, 255, 5}, {128, 256, 6}, {129, 256, -3},
	} {
		if got := out[c.r*cols+c.c]; got != c.want {
			t.Errorf("dequant[%d][%d] = %g, want %g", c.r, c.c, got, c.want)
		}
	}
	defer func() {
		if recover() == nil {
			t.Fatal("Dequant accepted a scale of the wrong length")
		}
	}()
	Dequant(fp8, scale[:4], rows, cols)
}

func TestTopKTies(t *testing.T) {
	got := topK([]float64{1, 3, 2, 3, math.Inf(-1), 2}, 5)
	want := []int{1, 3, 2, 5, 0}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("topK = %v, want %v", got, want)
		}
	}
}
