package ir

import (
	"fmt"
	"maps"
	"math"
	"slices"
)

// RopeFreqs returns rope's d/2 rotary frequencies (docs/op-semantics.md),
// corrected as scaling's type says, in f64: every backend derives its
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
	typ, _ := scaling.Str("type")
	rule, ok := ropeScalings[typ]
	if !ok {
		return nil, fmt.Errorf("rope scaling type %q is not supported (want one of %q)", typ, slices.Sorted(maps.Keys(ropeScalings)))
	}
	factor, ok := scaling.Float("factor")
	if !ok || !(factor > 0) {
		return nil, fmt.Errorf("rope scaling %s needs a positive factor", typ)
	}
	if err := rule(freq, d, theta, factor, scaling); err != nil {
		return nil, fmt.Errorf("rope scaling %s: %w", typ, err)
	}
	return freq, nil
}

// ropeScalings correct the frequencies in place, one rule per scaling type
// (Hugging Face's rope_type names). "dynamic" (NTK) is not among them: its
// base depends on the sequence length at run time.
var ropeScalings = map[string]func(freq []float64, d int, theta, factor float64, s Attrs) error{
	"yarn":   yarnFreqs,
	"linear": func(freq []float64, _ int, _, factor float64, _ Attrs) error { return scaleAll(freq, factor) },
	"llama3": llama3Freqs,
}

func scaleAll(freq []float64, factor float64) error {
	for i := range freq {
		freq[i] /= factor
	}
	return nil
}

// yarnFreqs: the frequencies below the correction range are divided by the
// factor, those above kept, a linear ramp between (DeepSeek's YaRN).
func yarnFreqs(freq []float64, d int, theta, factor float64, s Attrs) error {
	orig, err := origContext(s)
	if err != nil {
		return err
	}
	betaFast, betaSlow := floatOr(s, "beta_fast", 32), floatOr(s, "beta_slow", 1)
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
	return nil
}

// llama3Freqs: by wavelength w = 2π/freq against the original context L,
// frequencies with w < L/high_freq_factor are kept, those with
// w > L/low_freq_factor divided by the factor, and between them mixed by
// s = (L/w − low)/(high − low): (1 − s)·freq/factor + s·freq.
func llama3Freqs(freq []float64, _ int, _, factor float64, s Attrs) error {
	orig, err := origContext(s)
	if err != nil {
		return err
	}
	low, high := floatOr(s, "low_freq_factor", 1), floatOr(s, "high_freq_factor", 4)
	if !(high > low) || !(low > 0) {
		return fmt.Errorf("needs 0 < low_freq_factor < high_freq_factor, got %g and %g", low, high)
	}
	for i, f := range freq {
		w := 2 * math.Pi / f
		switch {
		case w < orig/high:
		case w > orig/low:
			freq[i] = f / factor
		default:
			sm := (orig/w - low) / (high - low)
			freq[i] = (1-sm)*f/factor + sm*f
		}
	}
	return nil
}

// origContext is the scaling's original_max_position_embeddings, which
// must be a positive number.
func origContext(s Attrs) (float64, error) {
	orig, ok := s.Float("original_max_position_embeddings")
	if !ok || !(orig > 0) {
		return 0, fmt.Errorf("needs a positive original_max_position_embeddings")
	}
	return orig, nil
}

// floatOr is the number s holds under k, or def.
func floatOr(s Attrs, k string, def float64) float64 {
	if v, ok := s.Float(k); ok {
		return v
	}
	return def
}
