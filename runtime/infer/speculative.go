package infer

import (
	"fmt"
	"time"

	"github.com/deepc-dev/deepc/runtime"
)

// SpeculativeStats counts MTP drafts and how many the main model accepted.
type SpeculativeStats struct {
	Drafted, Accepted int
}

// AcceptanceRate is Accepted / Drafted.
func (s SpeculativeStats) AcceptanceRate() float64 {
	if s.Drafted == 0 {
		return 0
	}
	return float64(s.Accepted) / float64(s.Drafted)
}

// GenerateSpeculative is Generate with multi-token-prediction speculative
// decoding (docs/model.md §6): after each step the MTP module drafts the token
// after next from the main model's hidden state; the next main step decodes
// the chosen token and the draft together, and the draft is kept when the
// main model, sampling as usual, picks the same token — two tokens for one
// step. A rejected draft's cache entry is dropped. Every emitted token is
// sampled from the main model, so greedy output equals Generate's.
func (m *Model) GenerateSpeculative(prompts [][]int, o GenerateOptions) ([][]int, GenerateStats, SpeculativeStats, error) {
	var st GenerateStats
	var sp SpeculativeStats
	out := make([][]int, len(prompts))
	if o.MaxTokens <= 0 {
		return out, st, sp, nil
	}
	capacity := 0
	ids := make([]int, len(prompts))
	samplers := make([]*sampler, len(prompts))
	for i, p := range prompts {
		if len(p) == 0 {
			return nil, st, sp, fmt.Errorf("prompt %d is empty", i+1)
		}
		capacity += len(p) + o.MaxTokens + 1
		ids[i] = i
		samplers[i] = newSampler(o.Sampling, uint64(i))
		st.PrefillTokens += len(p)
	}
	main, err := m.NewCache(capacity)
	if err != nil {
		return nil, st, sp, err
	}
	mtp, err := m.NewMTPCache(capacity)
	if err != nil {
		return nil, st, sp, err
	}
	done := make([]bool, len(prompts))
	emit := func(i, id int) {
		out[i] = append(out[i], id)
		if o.OnToken != nil {
			o.OnToken(i, id)
		}
		if id == o.EOS || len(out[i]) >= o.MaxTokens {
			done[i] = true
		}
	}

	start := time.Now()
	res, err := m.step(prefillFn, main, ids, prompts, nil)
	if err != nil {
		return nil, st, sp, err
	}
	logits, hidden := res[0], res[1]
	V := logits.Shape[1]
	last := make([]int, len(prompts)) // the newest token, not yet in the main cache
	var rows []int                    // rows of hidden that feed the MTP step
	next := make([][]int, len(prompts))
	k := 0
	for i, p := range prompts {
		k += len(p)
		last[i] = samplers[i].next(logits.F[(k-1)*V : k*V])
		emit(i, last[i])
		for j := range p {
			rows = append(rows, k-len(p)+j)
		}
		next[i] = append(append([]int(nil), p[1:]...), last[i])
	}
	drafts, err := m.draft(mtpPrefillFn, mtp, ids, hidden, rows, next)
	st.Prefill = time.Since(start)
	if err != nil {
		return nil, st, sp, err
	}

	start = time.Now()
	for {
		var run []int
		for i := range prompts {
			if !done[i] {
				run = append(run, i)
			}
		}
		if len(run) == 0 {
			break
		}
		seqs := make([][]int, len(run))
		for k, i := range run {
			seqs[k] = []int{last[i], drafts[i]}
		}
		res, err := m.step(decodeFn, main, run, seqs, nil)
		if err != nil {
			return out, st, sp, err
		}
		logits, hidden := res[0], res[1]
		var mtpIDs, rows []int
		var mtpNext [][]int
		for k, i := range run {
			sp.Drafted++
			r0, r1 := 2*k, 2*k+1
			y := samplers[i].next(logits.F[r0*V : (r0+1)*V])
			if y == drafts[i] {
				sp.Accepted++
				emit(i, y)
				st.DecodeTokens++
				if done[i] {
					continue
				}
				y2 := samplers[i].next(logits.F[r1*V : (r1+1)*V])
				emit(i, y2)
				st.DecodeTokens++
				last[i] = y2
				mtpIDs, rows, mtpNext = append(mtpIDs, i), append(rows, r0, r1), append(mtpNext, []int{y, y2})
			} else {
				main.Truncate(i, main.Len(i)-1)
				emit(i, y)
				st.DecodeTokens++
				last[i] = y
				mtpIDs, rows, mtpNext = append(mtpIDs, i), append(rows, r0), append(mtpNext, []int{y})
			}
		}
		live := mtpIDs[:0:0]
		var liveNext [][]int
		var liveRows []int
		r := 0
		for k, i := range mtpIDs {
			n := len(mtpNext[k])
			if !done[i] {
				live = append(live, i)
				liveNext = append(liveNext, mtpNext[k])
				liveRows = append(liveRows, rows[r:r+n]...)
			}
			r += n
		}
		if len(live) == 0 {
			continue
		}
		d, err := m.draft(mtpDecodeFn, mtp, live, hidden, liveRows, liveNext)
		if err != nil {
			return out, st, sp, err
		}
		for _, i := range live {
			drafts[i] = d[i]
		}
	}
	st.Decode = time.Since(start)
	return out, st, sp, nil
}

// draft runs the MTP module over the given rows of the main model's hidden
// states, each with the token that follows it, appending them to the MTP
// cache, and returns per sequence id the greedy draft from its last row.
func (m *Model) draft(fn string, c *Cache, ids []int, hidden *runtime.Tensor, rows []int, next [][]int) (map[int]int, error) {
	d := hidden.Shape[1]
	h := runtime.NewTensor(hidden.DType, len(rows), d)
	for k, r := range rows {
		copy(h.F[k*d:(k+1)*d], hidden.F[r*d:(r+1)*d])
	}
	res, err := m.step(fn, c, ids, next, []*runtime.Tensor{h})
	if err != nil {
		return nil, err
	}
	lg := res[0] // [depth, T, vocab]; depth 1 drafts the token after next
	V := lg.Shape[len(lg.Shape)-1]
	out := map[int]int{}
	k := 0
	for i, id := range ids {
		k += len(next[i])
		out[id] = Argmax(lg.F[(k-1)*V : k*V])
	}
	return out, nil
}
