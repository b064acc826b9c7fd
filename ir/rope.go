package ir

import (
	"fmt"
	"math"
)

// RopeFreqs returns rope's d/2 rotary frequencies (docs/op-semantics.md),
// YaRN-corrected when scaling says so, in f64: every backend derives its
// angles from these.
func RopeFreqs(d int, theta float64, scaling Attrs) ([]float64, error) {
	half := d / 2
	freq := make([]float64, half)
	for i := range freq {
		freq[i] = math.Pow(theta, -float64(2*i)/float64(d))
	}
	if scaling == nil {
		return freq, nil
	}
	if typ, _ := scaling.Str("type"); typ != "yarn" {
		return nil, fmt.Errorf("rope scaling type %q is not supported (want \"yarn\")", typ)
	}
	factor, ok := scaling.Float("factor")
	if !ok {
		return nil, fmt.Errorf("rope scaling needs a factor")
	}
	orig, ok := scaling.Float("original_max_position_embeddings")
	if !ok {
		return nil, fmt.Errorf("rope scaling needs original_max_position_embeddings")
	}
	betaFast, ok := scaling.Float("beta_fast")
	if !ok {
		betaFast = 32
	}
	betaSlow, ok := scaling.Float("beta_slow")
	if !ok {
		betaSlow = 1
	}
	corr := func(rot float64) float64 {
		return float64(d) * math.Log(orig/(rot*2*math.Pi)) / (2 * math.Log(theta))
	}
	clamp := func(v float64) float64 { return min(max(v, 0), float64(d-1)) }
	low, high := clamp(math.Floor(corr(betaFast))), clamp(math.Ceil(corr(betaSlow)))
	if low == high {
		high += 0.001
	}
	for i := range freq {
		ramp := min(max((float64(i)-low)/(high-low), 0), 1)
		freq[i] = freq[i]/factor*ramp + freq[i]*(1-ramp)
	}
	return freq, nil
}
