package ir

import (
	"fmt"
	"maps"
	"math"
	"slices"
)

// RopeFreqs returns rope's d/2 rotary frequencies (docs/op-semantics.md),
// corrected as scaling's type says, in f64: every backend derives its
// angles from these. A dynamic scaling gives its frequencies for sequences
// within the original context (RopeFreqsAt gives them for longer ones).
func RopeFreqs(d int, theta float64, scaling Attrs) ([]float64, error) {
	return RopeFreqsAt(d, theta, scaling, 0)
}

// RopeFreqsAt is RopeFreqs for one call of rope whose longest sequence is
// seqLen positions (the largest position plus one): Hugging Face's
// dynamic NTK scaling raises the base once seqLen exceeds the original
// context L, to θ·(factor·seqLen/L − (factor − 1))^(d/(d−2)).
func RopeFreqsAt(d int, theta float64, scaling Attrs, seqLen int64) ([]float64, error) {
	half := d / 2
	freq := make([]float64, half)
	if typ, _ := scaling.Str("type"); typ == "dynamic" {
		factor, _ := scaling.Float("factor")
		orig, err := origContext(scaling)
		if err == nil && d > 2 && factor > 0 && float64(seqLen) > orig {
			theta *= math.Pow(factor*float64(seqLen)/orig-(factor-1), float64(d)/float64(d-2))
		}
	}
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
	if !ok || !(factor > 0) || math.IsInf(factor, 1) {
		return nil, fmt.Errorf("rope scaling %s needs a positive, finite factor", typ)
	}
	if err := rule(freq, d, theta, factor, scaling); err != nil {
		return nil, fmt.Errorf("rope scaling %s: %w", typ, err)
	}
	return freq, nil
}

// ropeScalings correct the frequencies in place, one rule per scaling type
// (Hugging Face's rope_type names).
var ropeScalings = map[string]func(freq []float64, d int, theta, factor float64, s Attrs) error{
	"yarn":   yarnFreqs,
	"linear": func(freq []float64, _ int, _, factor float64, _ Attrs) error { return scaleAll(freq, factor) },
	"llama3": llama3Freqs,
	// dynamic's correction is to the base (RopeFreqsAt); this checks it.
	"dynamic": func(_ []float64, d int, _, _ float64, s Attrs) error {
		if d <= 2 {
			return fmt.Errorf("needs a rotary dim above 2, got %d", d)
		}
		_, err := origContext(s)
		return err
	},
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

// RopeRotaryDim reads rope's rotary_dim attribute for a last axis of d: the
// leading dims that rotate (partial rotary; the rest pass through), d when
// absent. It must be even and in 2..d.
func RopeRotaryDim(at Attrs, d int64) (int64, error) {
	if _, ok := at["rotary_dim"]; !ok {
		return d, nil
	}
	r, ok := at.Int("rotary_dim")
	if !ok || r < 2 || r > d || r%2 != 0 {
		return 0, fmt.Errorf("attribute rotary_dim must be an even integer in 2..%d, got %v", d, at["rotary_dim"])
	}
	return r, nil
}
