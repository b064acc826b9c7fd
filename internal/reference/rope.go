package reference

import "math"

// yarnRange returns YaRN's low and high correction dims (docs/model.md §3) for a
// rotary dimension d: low = floor(d·ln(orig/(beta_fast·2π)) / (2 ln theta)),
// high = ceil(d·ln(orig/(beta_slow·2π)) / (2 ln theta)), clamped to [0, d−1].
func yarnRange(d int, theta float64, y Yarn) (low, high float64) {
	corr := func(beta float64) float64 {
		return float64(d) * math.Log(float64(y.OrigMaxPos)/(beta*2*math.Pi)) / (2 * math.Log(theta))
	}
	low = math.Max(math.Floor(corr(y.BetaFast)), 0)
	high = math.Min(math.Ceil(corr(y.BetaSlow)), float64(d-1))
	return low, high
}

// ropeFreqs returns freq[i] for i < d/2: theta^(−2i/d), YaRN-corrected when
// y != nil: freq/factor·ramp + freq·(1 − ramp).
func ropeFreqs(d int, theta float64, y *Yarn) []float64 {
	f := make([]float64, d/2)
	for i := range f {
		f[i] = 1 / math.Pow(theta, float64(2*i)/float64(d))
	}
	if y == nil {
		return f
	}
	low, high := yarnRange(d, theta, *y)
	if low == high {
		high += 0.001
	}
	for i := range f {
		ramp := math.Min(math.Max((float64(i)-low)/(high-low), 0), 1)
		f[i] = f[i]/y.Factor*ramp + f[i]*(1-ramp)
	}
	return f
}

// rope rotates the pairs (x[2i], x[2i+1]) by angle pos·freq[i] in place:
// (a + ib)·(cos θ + i sin θ).
func rope(x []float64, pos int, freq []float64) {
	for i, f := range freq {
		th := float64(pos) * f
		c, s := math.Cos(th), math.Sin(th)
		a, b := x[2*i], x[2*i+1]
		x[2*i] = a*c - b*s
		x[2*i+1] = a*s + b*c
	}
}

// yarnMScale is g(ms) = 0.1·ms·ln(factor) + 1, or 1 when the factor does
// not extend the context.
func yarnMScale(y *Yarn, ms float64) float64 {
	if y == nil || y.Factor <= 1 {
		return 1
	}
	return 0.1*ms*math.Log(y.Factor) + 1
}

// softmaxScale is (nope + rope)^−0.5, times g(mscale_all_dim)² under YaRN.
func softmaxScale(c Config) float64 {
	m := yarnMScale(c.Yarn, 0)
	if c.Yarn != nil {
		m = yarnMScale(c.Yarn, c.Yarn.MScaleAllDim)
	}
	return m * m / math.Sqrt(float64(c.QKNopeDim+c.QKRopeDim))
}

// ropeMagnitude is what YaRN multiplies the rotated parts by:
// g(mscale) / g(mscale_all_dim), 1 without YaRN.
func ropeMagnitude(y *Yarn) float64 {
	if y == nil {
		return 1
	}
	return yarnMScale(y, y.MScale) / yarnMScale(y, y.MScaleAllDim)
}
