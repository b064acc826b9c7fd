package infer

import (
	"fmt"
	"math"
	"slices"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/runtime"
)

// Names of the functions the kv-cache pass derives, and of the argument
// that starts their cache arguments (slot, cache_pos, cache_seq, kv0...).
const (
	prefillFn    = "prefill"
	decodeFn     = "decode"
	mtpPrefillFn = "mtp_prefill"
	mtpDecodeFn  = "mtp_decode"
	slotArg      = "slot"
)

// Cache holds, for every layer of one program, the row of each cached
// token (MLA's latent, or the keys and values of the key/value heads) in
// one of Capacity slots, and per slot the token's position and
// sequence (-1: free).
type Cache struct {
	fn       string // the prefill function whose caches these are
	kv       []*runtime.Tensor
	pos, seq *runtime.Tensor
	free     []int
	slots    map[int][]int // slots per sequence id, in position order
}

// MaxPositions is the longest sequence the model is built for: with YaRN
// (docs/model.md §2) original_max_position_embeddings × factor, which is
// DeepSeek-V3's max_position_embeddings (4096 × 40 = 163840); 0 when the
// model's config declares no such length (other rope scalings do not:
// dynamic NTK scales past any length, and llama3's original context times
// its factor is not Llama 3.1's 131072).
func (m *Model) MaxPositions() int64 {
	cfg, _ := m.Module.Attrs.Dict("config")
	rs, ok := cfg.Dict("rope_scaling")
	if typ, _ := rs.Str("type"); !ok || typ != "yarn" {
		return 0
	}
	orig, ok1 := rs.Int("original_max_position_embeddings")
	factor, ok2 := rs.Float("factor")
	if !ok1 || !ok2 || orig <= 0 || !(factor >= 1) || float64(orig)*factor > 1<<40 {
		return 0
	}
	return int64(float64(orig) * factor)
}

// NewCache allocates a cache of capacity token slots for the prefill and
// decode functions.
func (m *Model) NewCache(capacity int) (*Cache, error) { return m.newCache(prefillFn, capacity) }

// NewMTPCache allocates a cache for the MTP module's prefill and decode.
func (m *Model) NewMTPCache(capacity int) (*Cache, error) { return m.newCache(mtpPrefillFn, capacity) }

func (m *Model) newCache(fn string, capacity int) (*Cache, error) {
	f, err := m.fn(fn)
	if err != nil {
		return nil, fmt.Errorf("%w (compile with the kv-cache pass)", err)
	}
	first := slices.IndexFunc(f.Args, func(a *ir.Value) bool { return a.Name == slotArg })
	if first < 0 {
		return nil, fmt.Errorf("%s has no %s argument", fn, slotArg)
	}
	if err := checkCacheSize(f.Args[first+3:], capacity); err != nil {
		return nil, err
	}
	c := &Cache{
		fn:  fn,
		pos: runtime.NewTensor(ir.I32, capacity), seq: runtime.NewTensor(ir.I32, capacity),
		slots: map[int][]int{},
	}
	for i := range c.seq.I {
		c.seq.I[i] = -1
		c.free = append(c.free, capacity-1-i)
	}
	for _, a := range f.Args[first+3:] {
		t := a.Type
		if len(t.Shape) != 2 || t.Shape[1].IsSym() {
			return nil, fmt.Errorf("%s argument %s has type %s, want [C, d]", fn, a.Name, t)
		}
		c.kv = append(c.kv, runtime.NewTensor(t.DType, capacity, int(t.Shape[1].N)))
	}
	return c, nil
}

// Len returns how many tokens of sequence id are cached.
func (c *Cache) Len(id int) int { return len(c.slots[id]) }

// Truncate keeps the first n cached tokens of sequence id and frees the
// rest (a rejected speculative token).
func (c *Cache) Truncate(id, n int) {
	s := c.slots[id]
	if n >= len(s) {
		return
	}
	for _, slot := range s[n:] {
		c.seq.I[slot], c.pos.I[slot] = -1, 0
		c.free = append(c.free, slot)
	}
	c.slots[id] = s[:n]
	if n == 0 {
		delete(c.slots, id)
	}
}

// Release frees every slot of sequence id.
func (c *Cache) Release(id int) { c.Truncate(id, 0) }

// Prefill appends the tokens of each sequence (ids[i] names sequence i; a
// sequence already in the cache continues at its next position) and returns
// the logits of every appended position.
func (m *Model) Prefill(c *Cache, ids []int, seqs [][]int) (Logits, error) {
	res, err := m.step(prefillFn, c, ids, seqs, nil)
	if err != nil {
		return Logits{}, err
	}
	return unpack(res[0], seqs)
}

// Decode appends one token to each sequence and returns its logits.
func (m *Model) Decode(c *Cache, ids []int, tokens []int) (Logits, error) {
	seqs := make([][]int, len(tokens))
	for i, t := range tokens {
		seqs[i] = []int{t}
	}
	res, err := m.step(decodeFn, c, ids, seqs, nil)
	if err != nil {
		return Logits{}, err
	}
	return unpack(res[0], seqs)
}

// step runs fn over the packed sequences, appending them to the cache. The
// function's leading arguments are lead (if any) followed by the packed
// tokens, positions and sequence ids; it returns fn's results without the
// updated caches, which go back into c.
func (m *Model) step(fn string, c *Cache, ids []int, seqs [][]int, lead []*runtime.Tensor) ([]*runtime.Tensor, error) {
	f, err := m.fn(fn)
	if err != nil {
		return nil, err
	}
	if len(ids) != len(seqs) {
		return nil, fmt.Errorf("%d sequence ids for %d sequences", len(ids), len(seqs))
	}
	n := 0
	for i, s := range seqs {
		n += len(s)
		if slices.Contains(ids[:i], ids[i]) {
			return nil, fmt.Errorf("sequence id %d given twice", ids[i])
		}
	}
	if n > len(c.free) {
		return nil, fmt.Errorf("cache full: %d tokens to add, %d slots free", n, len(c.free))
	}
	start := make([]int, len(seqs))
	for i, id := range ids {
		start[i] = c.Len(id)
	}
	tok, pos, seq := pack(seqs, start, ids)
	slot := runtime.NewTensor(ir.I32, n)
	for t := 0; t < n; t++ {
		s := c.free[len(c.free)-1]
		c.free = c.free[:len(c.free)-1]
		slot.I[t] = int64(s)
		c.pos.I[s], c.seq.I[s] = pos.I[t], seq.I[t]
		id := int(seq.I[t])
		c.slots[id] = append(c.slots[id], s)
	}
	// Copies of the slot tables: donated arguments may be overwritten.
	cpos, cseq := *c.pos, *c.seq
	cpos.I, cseq.I = slices.Clone(c.pos.I), slices.Clone(c.seq.I)
	args := append(append(lead, tok, pos, seq, slot, &cpos, &cseq), c.kv...)
	// The caches are updated in place; without a lead (a hidden state the
	// caller may keep) every float argument is a cache the results replace.
	res, err := m.runPooled(f, args, true, len(lead) == 0)
	if err != nil {
		for i, id := range ids {
			c.Truncate(id, start[i])
		}
		return nil, err
	}
	nres := len(f.Results) - len(c.kv)
	copy(c.kv, res[nres:])
	return res[:nres], nil
}

// checkCacheSize refuses a cache of capacity tokens (rows of kv, plus a
// position and a sequence id each) that cannot be allocated: a negative or
// overflowing size, or more bytes than the machine has available. The
// capacity comes from the prompts and --max-tokens, so it is input.
func checkCacheSize(kv []*ir.Value, capacity int) error {
	if capacity < 0 {
		return fmt.Errorf("a KV cache of %d tokens", capacity)
	}
	total, ok := runtime.HostBytes(ir.I32, int64(capacity))
	if !ok || total > math.MaxInt64/2 {
		return fmt.Errorf("a KV cache of %d tokens overflows", capacity)
	}
	total *= 2 // positions and sequence ids
	for _, a := range kv {
		if len(a.Type.Shape) != 2 || a.Type.Shape[1].IsSym() {
			continue // newCache refuses it with its type
		}
		n := int64(a.Type.Shape[1].N)
		if n < 0 || (n > 0 && int64(capacity) > math.MaxInt64/n) {
			return fmt.Errorf("a KV cache of %d tokens overflows", capacity)
		}
		b, ok := runtime.HostBytes(a.Type.DType, int64(capacity)*n)
		if !ok || total > math.MaxInt64-b {
			return fmt.Errorf("a KV cache of %d tokens overflows", capacity)
		}
		total += b
	}
	return runtime.CheckBudget(fmt.Sprintf("a KV cache of %d tokens (fewer or shorter prompts, or fewer tokens to generate)", capacity), total)
}

// cacheTokens is the cache capacity generation needs: each prompt, the
// tokens to generate after it and extra more (a speculative draft), with
// the sum checked for overflow and each sequence within the model's
// maximum positions (maxPos; 0: the model declares none).
func cacheTokens(prompts [][]int, maxTokens, extra int, maxPos int64) (int, error) {
	if maxTokens < 0 {
		return 0, fmt.Errorf("%d tokens to generate", maxTokens)
	}
	total := 0
	for i, p := range prompts {
		if len(p) == 0 {
			return 0, fmt.Errorf("prompt %d is empty", i+1)
		}
		if maxPos > 0 && (int64(maxTokens) > maxPos || int64(len(p)+extra) > maxPos-int64(maxTokens)) {
			return 0, fmt.Errorf("prompt %d has %d tokens and %d are to be generated: more than the model's %d positions", i+1, len(p), maxTokens, maxPos)
		}
		n := len(p) + extra
		if maxTokens > math.MaxInt-n || total > math.MaxInt-n-maxTokens {
			return 0, fmt.Errorf("%d prompts with %d tokens each to generate: too many tokens to cache", len(prompts), maxTokens)
		}
		total += n + maxTokens
	}
	return total, nil
}
