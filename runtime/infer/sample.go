package infer

import (
	"math"
	"math/rand/v2"
	"slices"
)

// Sampling chooses the next token from logits.
type Sampling struct {
	// Temperature 0 is greedy decoding (the most likely token, lowest id on
	// ties); otherwise logits are divided by it before the softmax.
	Temperature float64
	// TopP keeps the smallest set of most likely tokens whose probability
	// reaches TopP (nucleus sampling); 0 or 1 keeps all.
	TopP float64
	// Seed makes sampling reproducible.
	Seed uint64
}

// sampler draws tokens for one sequence.
type sampler struct {
	s   Sampling
	rng *rand.Rand
}

func newSampler(s Sampling, stream uint64) *sampler {
	return &sampler{s: s, rng: rand.New(rand.NewPCG(s.Seed, stream))}
}

// Argmax is the index of the largest value (the lowest on ties): greedy choice.
func Argmax(x []float32) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}

// next picks a token id from one position's logits.
func (s *sampler) next(logits []float32) int {
	if s.s.Temperature <= 0 {
		return Argmax(logits)
	}
	mx := float64(logits[Argmax(logits)])
	p := make([]float64, len(logits))
	var z float64
	for i, v := range logits {
		p[i] = math.Exp((float64(v) - mx) / s.s.Temperature)
		z += p[i]
	}
	ids := make([]int, len(p))
	for i := range ids {
		ids[i] = i
	}
	if tp := s.s.TopP; tp > 0 && tp < 1 {
		slices.SortStableFunc(ids, func(a, b int) int {
			switch {
			case p[a] > p[b]:
				return -1
			case p[a] < p[b]:
				return 1
			}
			return 0
		})
		var cum, kept float64
		n := 0
		for n < len(ids) && cum < tp*z {
			cum += p[ids[n]]
			n++
		}
		ids = ids[:max(n, 1)]
		for _, i := range ids {
			kept += p[i]
		}
		z = kept
	}
	r := s.rng.Float64() * z
	for _, i := range ids {
		r -= p[i]
		if r < 0 {
			return i
		}
	}
	return ids[len(ids)-1]
}
