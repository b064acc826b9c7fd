package reference

import (
	"math"
	"sort"
)

// rmsNorm returns x / sqrt(mean(x²) + eps) · w.
func rmsNorm(x, w []float64, eps float64) []float64 {
	var ss float64
	for _, v := range x {
		ss += v * v
	}
	r := 1 / math.Sqrt(ss/float64(len(x))+eps)
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = v * r * w[i]
	}
	return y
}

// linear returns y = x · Wᵀ for W stored [out, in] row-major.
func linear(x []float64, w *Tensor) []float64 {
	out, in := w.Shape[0], w.Shape[1]
	if len(x) != in {
		panic("reference: linear input length mismatch")
	}
	y := make([]float64, out)
	for o := 0; o < out; o++ {
		row := w.Data[o*in : (o+1)*in]
		var s float64
		for i, v := range x {
			s += v * row[i]
		}
		y[o] = s
	}
	return y
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

func silu(x float64) float64 { return x * sigmoid(x) }

// softmax returns exp(x - max) / Σ exp(x - max).
func softmax(x []float64) []float64 {
	m := math.Inf(-1)
	for _, v := range x {
		m = math.Max(m, v)
	}
	y := make([]float64, len(x))
	var s float64
	for i, v := range x {
		y[i] = math.Exp(v - m)
		s += y[i]
	}
	for i := range y {
		y[i] /= s
	}
	return y
}

// topK returns the indices of the k largest values, largest first; on ties
// the lower index comes first.
func topK(x []float64, k int) []int {
	idx := make([]int, len(x))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return x[idx[a]] > x[idx[b]] })
	return idx[:k]
}

func dot(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}
