package infer

import (
	"fmt"
	"time"
)

// PhaseTimes are the wall times of a PrefillDecode: the prefill, and each
// decode step.
type PhaseTimes struct {
	Prefill time.Duration
	Decode  []time.Duration
}

// PrefillDecode runs the prefill program on the first n tokens of every
// sequence, then decodes the rest one token at a time over the KV cache,
// and returns every position's logits: what Forward returns, computed the
// way generation computes it.
func (m *Model) PrefillDecode(seqs [][]int, n int) (Logits, PhaseTimes, error) {
	var pt PhaseTimes
	L := len(seqs[0])
	if maxPos := m.MaxPositions(); maxPos > 0 && int64(L) > maxPos {
		return Logits{}, pt, fmt.Errorf("sequences of %d tokens: more than the model's %d positions, which its cache holds", L, maxPos)
	}
	c, err := m.NewCache(len(seqs) * L)
	if err != nil {
		return Logits{}, pt, err
	}
	ids := make([]int, len(seqs))
	heads := make([][]int, len(seqs))
	for i, s := range seqs {
		ids[i], heads[i] = i, s[:n]
	}
	out := Logits{Rows: make([][][]float32, len(seqs))}
	add := func(l Logits) {
		out.Vocab = l.Vocab
		for i := range seqs {
			out.Rows[i] = append(out.Rows[i], l.Rows[i]...)
		}
	}
	if n > 0 {
		start := time.Now()
		l, err := m.Prefill(c, ids, heads)
		pt.Prefill = time.Since(start)
		if err != nil {
			return out, pt, err
		}
		add(l)
	}
	for p := n; p < L; p++ {
		toks := make([]int, len(seqs))
		for i, s := range seqs {
			toks[i] = s[p]
		}
		start := time.Now()
		l, err := m.Decode(c, ids, toks)
		pt.Decode = append(pt.Decode, time.Since(start))
		if err != nil {
			return out, pt, err
		}
		add(l)
	}
	return out, pt, nil
}
