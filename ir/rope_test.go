package ir

import (
	"math"
	"strings"
	"testing"
)

// TestRopeScalings checks RopeFreqs' scaling types against values worked
// out by hand. d = 8, theta = 10000: the frequencies are 1, 0.1, 0.01,
// 0.001, with wavelengths 2π·(1, 10, 100, 1000).
func TestRopeScalings(t *testing.T) {
	close := func(name string, got, want []float64) {
		t.Helper()
		for i := range want {
			if math.Abs(got[i]-want[i]) > 1e-9*math.Max(1, math.Abs(want[i])) {
				t.Errorf("%s: freq[%d] = %.9g, want %.9g", name, i, got[i], want[i])
			}
		}
	}
	f, err := RopeFreqs(8, 10000, Attrs{"type": "linear", "factor": 2.0})
	if err != nil {
		t.Fatal(err)
	}
	close("linear", f, []float64{0.5, 0.05, 0.005, 0.0005})

	// llama3 with L = 1000, lo = 1, hi = 4, factor 8: wavelengths below
	// L/4 = 250 (6.28, 62.8) keep their frequency, above L = 1000 (6283)
	// divide it by 8, and 628.3 is between: s = (1000/628.3185 − 1)/3 =
	// 0.1971830, (1 − s)·0.01/8 + s·0.01 = 0.0029753521.
	f, err = RopeFreqs(8, 10000, Attrs{"type": "llama3", "factor": 8.0, "original_max_position_embeddings": int64(1000),
		"low_freq_factor": 1.0, "high_freq_factor": 4.0})
	if err != nil {
		t.Fatal(err)
	}
	s := (1000/(2*math.Pi*100) - 1) / 3
	close("llama3", f, []float64{1, 0.1, (1-s)*0.01/8 + s*0.01, 0.000125})
	if math.Abs(f[2]-0.0029753521) > 1e-9 {
		t.Errorf("llama3: freq[2] = %.10g, want 0.0029753521", f[2])
	}

	// dynamic (NTK) with L = 100, factor 2: within L the frequencies are
	// the plain ones; at seqLen 300 the base is 10000·(2·300/100 − 1)^(8/6)
	// = 10000·5^(4/3) = 85498.797, so freq[1] = 1/85498.797^(1/4).
	dyn := Attrs{"type": "dynamic", "factor": 2.0, "original_max_position_embeddings": int64(100)}
	f, err = RopeFreqsAt(8, 10000, dyn, 100)
	if err != nil {
		t.Fatal(err)
	}
	close("dynamic within L", f, []float64{1, 0.1, 0.01, 0.001})
	f, err = RopeFreqsAt(8, 10000, dyn, 300)
	if err != nil {
		t.Fatal(err)
	}
	b := 10000 * math.Pow(5, 4.0/3)
	close("dynamic at 300", f, []float64{1, math.Pow(b, -0.25), math.Pow(b, -0.5), math.Pow(b, -0.75)})
	if math.Abs(b-85498.797) > 1e-3 {
		t.Errorf("dynamic base %.6f, want 85498.797", b)
	}

	for _, c := range []struct {
		scaling Attrs
		want    string
	}{
		{Attrs{"type": "longrope", "factor": 2.0}, `rope scaling type "longrope" is not supported (want one of ["dynamic" "linear" "llama3" "yarn"])`},
		{Attrs{"type": "dynamic", "factor": 2.0}, "needs a positive original_max_position_embeddings"},
		{Attrs{"type": "linear"}, "needs a positive, finite factor"},
		{Attrs{"type": "dynamic", "factor": math.Inf(1), "original_max_position_embeddings": int64(100)}, "needs a positive, finite factor"},
		{Attrs{"type": "llama3", "factor": 8.0}, "needs a positive original_max_position_embeddings"},
		{Attrs{"type": "llama3", "factor": 8.0, "original_max_position_embeddings": math.NaN()}, "needs a positive original_max_position_embeddings"},
		{Attrs{"type": "yarn", "factor": 4.0, "original_max_position_embeddings": int64(-5)}, "needs a positive original_max_position_embeddings"},
		{Attrs{"type": "linear", "factor": math.NaN()}, "needs a positive, finite factor"},
		{Attrs{"type": "llama3", "factor": 8.0, "original_max_position_embeddings": 10.0, "low_freq_factor": 4.0, "high_freq_factor": 1.0}, "0 < low_freq_factor < high_freq_factor"},
	} {
		if _, err := RopeFreqs(8, 10000, c.scaling); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want %q", c.scaling, err, c.want)
		}
	}
}
