package infer

import (
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
	g := &speculation{m: m, o: o, out: make([][]int, len(prompts))}
	if err := o.Check(); err != nil {
		return nil, g.st, g.sp, err
	}
	if o.MaxTokens == 0 {
		return g.out, g.st, g.sp, nil
	}
	start := time.Now()
	err := g.prefill(prompts)
	g.st.Prefill = time.Since(start)
	if err != nil {
		return nil, g.st, g.sp, err
	}
	start = time.Now()
	for {
		run := g.running()
		if len(run) == 0 {
			break
		}
		if err := g.decode(run); err != nil {
			return g.out, g.st, g.sp, err
		}
	}
	g.st.Decode = time.Since(start)
	return g.out, g.st, g.sp, nil
}

// speculation is one GenerateSpeculative call's state: per sequence its
// output, sampler, newest token (not yet in the main cache) and the MTP
// module's draft of the token after it.
type speculation struct {
	m         *Model
	o         GenerateOptions
	main, mtp *Cache
	out       [][]int
	samplers  []*sampler
	done      []bool
	last      []int
	drafts    map[int]int
	st        GenerateStats
	sp        SpeculativeStats
}

// emit appends token id to sequence i's output.
func (g *speculation) emit(i, id int) {
	g.out[i] = append(g.out[i], id)
	if g.o.OnToken != nil {
		g.o.OnToken(i, id)
	}
	if id == g.o.EOS || len(g.out[i]) >= g.o.MaxTokens {
		g.done[i] = true
	}
}

// prefill sizes the caches, runs the prompts through the main model,
// samples each sequence's first token and has the MTP module draft the
// one after it.
func (g *speculation) prefill(prompts [][]int) error {
	capacity, err := cacheTokens(prompts, g.o.MaxTokens, 1, g.m.MaxPositions())
	if err != nil {
		return err
	}
	ids := make([]int, len(prompts))
	g.samplers = make([]*sampler, len(prompts))
	for i, p := range prompts {
		ids[i] = i
		g.samplers[i] = newSampler(g.o.Sampling, uint64(i))
		g.st.PrefillTokens += len(p)
	}
	if g.main, err = g.m.NewCache(capacity); err != nil {
		return err
	}
	if g.mtp, err = g.m.NewMTPCache(capacity); err != nil {
		return err
	}
	g.done = make([]bool, len(prompts))
	res, err := g.m.step(prefillFn, g.main, ids, prompts, nil)
	if err != nil {
		return err
	}
	logits, hidden := res[0], res[1]
	V := logits.Shape[1]
	g.last = make([]int, len(prompts))
	var rows []int // rows of hidden that feed the MTP step
	next := make([][]int, len(prompts))
	k := 0
	for i, p := range prompts {
		k += len(p)
		g.last[i] = g.samplers[i].next(logits.F[(k-1)*V : k*V])
		g.emit(i, g.last[i])
		for j := range p {
			rows = append(rows, k-len(p)+j)
		}
		next[i] = append(append([]int(nil), p[1:]...), g.last[i])
	}
	g.drafts, err = g.m.draft(mtpPrefillFn, g.mtp, ids, hidden, rows, next)
	return err
}

// running lists the sequences not yet done.
func (g *speculation) running() []int {
	var run []int
	for i, d := range g.done {
		if !d {
			run = append(run, i)
		}
	}
	return run
}

// decode is one step of the sequences in run: the main model decodes each
// one's newest token and its draft together; the draft is kept when the
// main model samples the same token (and the token after it is sampled
// too), dropped from the cache otherwise; the MTP module then drafts anew
// for the sequences still running.
func (g *speculation) decode(run []int) error {
	seqs := make([][]int, len(run))
	for k, i := range run {
		seqs[k] = []int{g.last[i], g.drafts[i]}
	}
	res, err := g.m.step(decodeFn, g.main, run, seqs, nil)
	if err != nil {
		return err
	}
	logits, hidden := res[0], res[1]
	V := logits.Shape[1]
	var ids, rows []int
	var next [][]int
	for k, i := range run {
		g.sp.Drafted++
		r0, r1 := 2*k, 2*k+1
		y := g.samplers[i].next(logits.F[r0*V : (r0+1)*V])
		if y != g.drafts[i] {
			g.main.Truncate(i, g.main.Len(i)-1)
			g.emit(i, y)
			g.st.DecodeTokens++
			g.last[i] = y
			if !g.done[i] {
				ids, rows, next = append(ids, i), append(rows, r0), append(next, []int{y})
			}
			continue
		}
		g.sp.Accepted++
		g.emit(i, y)
		g.st.DecodeTokens++
		if g.done[i] {
			continue
		}
		y2 := g.samplers[i].next(logits.F[r1*V : (r1+1)*V])
		g.emit(i, y2)
		g.st.DecodeTokens++
		g.last[i] = y2
		if !g.done[i] {
			ids, rows, next = append(ids, i), append(rows, r0, r1), append(next, []int{y, y2})
		}
	}
	if len(ids) == 0 {
		return nil
	}
	d, err := g.m.draft(mtpDecodeFn, g.mtp, ids, hidden, rows, next)
	if err != nil {
		return err
	}
	for _, i := range ids {
		g.drafts[i] = d[i]
	}
	return nil
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
