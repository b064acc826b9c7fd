package infer

import (
	"fmt"
	"math"
	"time"
)

// GenerateOptions control Generate.
type GenerateOptions struct {
	MaxTokens int
	Sampling  Sampling
	// EOS stops a sequence when generated (it is kept in the output); -1
	// means no EOS.
	EOS int
	// OnToken, if set, sees every generated token as it is chosen.
	OnToken func(seq, id int)
}

// Check refuses options no generation can use: a negative token count, a
// temperature or top-p that is not a finite number in its range.
func (o GenerateOptions) Check() error {
	switch t, p := o.Sampling.Temperature, o.Sampling.TopP; {
	case o.MaxTokens < 0:
		return fmt.Errorf("%d tokens to generate: want 0 or more", o.MaxTokens)
	case math.IsNaN(t) || math.IsInf(t, 0) || t < 0:
		return fmt.Errorf("temperature %g: want a finite number ≥ 0 (0: greedy)", t)
	case math.IsNaN(p) || p < 0 || p > 1:
		return fmt.Errorf("top-p %g: want 0 ≤ p ≤ 1", p)
	}
	return nil
}

// GenerateStats are the token counts and wall times of the two phases.
type GenerateStats struct {
	PrefillTokens, DecodeTokens int
	Prefill, Decode             time.Duration
}

// Rate returns tokens per second.
func Rate(tokens int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(tokens) / d.Seconds()
}

// Generate continues every prompt: one prefill of all prompts, then one
// batched decode step per token over the sequences still running.
func (m *Model) Generate(prompts [][]int, o GenerateOptions) ([][]int, GenerateStats, error) {
	var st GenerateStats
	if err := o.Check(); err != nil {
		return nil, st, err
	}
	if o.MaxTokens == 0 {
		return make([][]int, len(prompts)), st, nil
	}
	capacity, err := cacheTokens(prompts, o.MaxTokens, 0, m.MaxPositions())
	if err != nil {
		return nil, st, err
	}
	ids := make([]int, len(prompts))
	samplers := make([]*sampler, len(prompts))
	for i, p := range prompts {
		ids[i] = i
		samplers[i] = newSampler(o.Sampling, uint64(i))
		st.PrefillTokens += len(p)
	}
	c, err := m.NewCache(capacity)
	if err != nil {
		return nil, st, err
	}
	start := time.Now()
	l, err := m.Prefill(c, ids, prompts)
	st.Prefill = time.Since(start)
	if err != nil {
		return nil, st, err
	}
	out := make([][]int, len(prompts))
	next := make([]int, len(prompts))
	var running []int
	emit := func(i int, logits []float32) {
		id := samplers[i].next(logits)
		out[i] = append(out[i], id)
		if o.OnToken != nil {
			o.OnToken(i, id)
		}
		next[i] = id
		if id != o.EOS && len(out[i]) < o.MaxTokens {
			running = append(running, i)
		}
	}
	for i, rows := range l.Rows {
		emit(i, rows[len(rows)-1])
	}
	start = time.Now()
	for len(running) > 0 {
		step := running
		running = nil
		toks := make([]int, len(step))
		for k, i := range step {
			toks[k] = next[i]
		}
		l, err := m.Decode(c, step, toks)
		if err != nil {
			return out, st, err
		}
		st.DecodeTokens += len(step)
		for k, i := range step {
			emit(i, l.Rows[k][0])
		}
	}
	st.Decode = time.Since(start)
	return out, st, nil
}
