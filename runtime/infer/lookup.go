package infer

import (
	"fmt"
	"time"

	"github.com/deepc-dev/deepc/ir"
)

// Prompt-lookup speculative decoding, for models with no MTP module (any
// model of models/): a sequence's draft is the tokens that followed the
// latest earlier occurrence of its last n tokens (n from LookupNGram down
// to 1) in its prompt and output. One decode step runs the newest token
// and up to LookupDraft drafted ones; drafts are kept while the main
// model, sampling as usual, picks each in turn, and the first it does not
// pick ends them: their cache entries are dropped. Every emitted token is
// sampled from the main model, so greedy output equals Generate's, except
// under dynamic NTK rope scaling, whose base follows a step's largest
// position (drafts raise it): GenerateLookup refuses such models.

const (
	LookupNGram = 3 // longest suffix matched
	LookupDraft = 4 // most tokens drafted per step
)

// lookupDraft returns the tokens that followed the latest earlier
// occurrence of hist's last n tokens, longest n first; none when no
// suffix recurs.
func lookupDraft(hist []int, maxN, k int) []int {
	for n := min(maxN, len(hist)-1); n >= 1; n-- {
		suffix := hist[len(hist)-n:]
		for start := len(hist) - n - 1; start >= 0; start-- {
			if equalInts(hist[start:start+n], suffix) {
				end := min(start+n+k, len(hist))
				return hist[start+n : end]
			}
		}
	}
	return nil
}

func equalInts(a, b []int) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// GenerateLookup is Generate with prompt-lookup speculative decoding.
func (m *Model) GenerateLookup(prompts [][]int, o GenerateOptions) ([][]int, GenerateStats, SpeculativeStats, error) {
	var st GenerateStats
	var sp SpeculativeStats
	if err := o.Check(); err != nil {
		return nil, st, sp, err
	}
	out := make([][]int, len(prompts))
	if o.MaxTokens == 0 {
		return out, st, sp, nil
	}
	if dynamicRope(m.Module) {
		return nil, st, sp, fmt.Errorf("lookup speculation would change the outputs of a model with dynamic NTK rope scaling (its base follows each step's largest position, drafts included)")
	}
	// Drafts stop at the tokens still wanted: no slots beyond Generate's.
	capacity, err := cacheTokens(prompts, o.MaxTokens, 0, m.MaxPositions())
	if err != nil {
		return nil, st, sp, err
	}
	c, err := m.NewCache(capacity)
	if err != nil {
		return nil, st, sp, err
	}
	hist := make([][]int, len(prompts))
	samplers := make([]*sampler, len(prompts))
	done := make([]bool, len(prompts))
	ids := make([]int, len(prompts))
	for i, p := range prompts {
		ids[i] = i
		hist[i] = append([]int(nil), p...)
		samplers[i] = newSampler(o.Sampling, uint64(i))
		st.PrefillTokens += len(p)
	}
	emit := func(i, id int) {
		out[i] = append(out[i], id)
		hist[i] = append(hist[i], id)
		if o.OnToken != nil {
			o.OnToken(i, id)
		}
		if id == o.EOS || len(out[i]) >= o.MaxTokens {
			done[i] = true
		}
	}
	start := time.Now()
	res, err := m.step(prefillFn, c, ids, prompts, nil)
	st.Prefill = time.Since(start)
	if err != nil {
		return nil, st, sp, err
	}
	V := res[0].Shape[1]
	k := 0
	for i, p := range prompts {
		k += len(p)
		emit(i, samplers[i].next(res[0].F[(k-1)*V:k*V]))
	}
	start = time.Now()
	for {
		var run []int
		var seqs [][]int
		for i, d := range done {
			if d {
				continue
			}
			// Drafts beyond the tokens still wanted would be wasted.
			draft := lookupDraft(hist[i], LookupNGram, min(LookupDraft, o.MaxTokens-len(out[i])-1))
			run = append(run, i)
			seqs = append(seqs, append([]int{hist[i][len(hist[i])-1]}, draft...))
		}
		if len(run) == 0 {
			st.Decode = time.Since(start)
			return out, st, sp, nil
		}
		res, err := m.step(decodeFn, c, run, seqs, nil)
		if err != nil {
			st.Decode = time.Since(start)
			return out, st, sp, err
		}
		if res[0].Shape[1] != V {
			return out, st, sp, fmt.Errorf("decode's logits have %d columns, prefill's %d", res[0].Shape[1], V)
		}
		row := 0
		for j, i := range run {
			s := seqs[j]
			sp.Drafted += len(s) - 1
			kept := 0
			for r := 0; r < len(s) && !done[i]; r++ {
				y := samplers[i].next(res[0].F[(row+r)*V : (row+r+1)*V])
				emit(i, y)
				st.DecodeTokens++
				if r+1 == len(s) || y != s[r+1] {
					break
				}
				kept++
			}
			sp.Accepted += kept
			// The cache holds s[0] and the kept drafts; the rest go.
			if drop := len(s) - 1 - kept; drop > 0 {
				c.Truncate(i, c.Len(i)-drop)
			}
			row += len(s)
		}
	}
}

// dynamicRope reports a rope op with dynamic scaling in decode.
func dynamicRope(m *ir.Module) bool {
	f := m.Func(decodeFn)
	if f == nil {
		return false
	}
	for _, op := range f.Body {
		if sc, ok := op.Attrs.Dict("scaling"); ok && op.Is(ir.OpRope) {
			if typ, _ := sc.Str("type"); typ == "dynamic" {
				return true
			}
		}
	}
	return false
}
