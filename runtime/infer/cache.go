package infer

import (
	"fmt"
	"slices"

	"github.com/deepc-dev/deepc/ir"
	"github.com/deepc-dev/deepc/runtime"
	"github.com/deepc-dev/deepc/runtime/cpu"
)

// Cache holds, for every layer, the latent of each cached token in one of
// Capacity slots, and per slot the token's position and sequence (-1: free).
type Cache struct {
	kv       []*runtime.Tensor
	pos, seq *runtime.Tensor
	free     []int
	length   map[int]int   // tokens cached per sequence id
	slots    map[int][]int // slots per sequence id
}

// NewCache allocates a cache of capacity token slots for the prefill and
// decode functions' cache arguments.
func (m *Model) NewCache(capacity int) (*Cache, error) {
	f, err := m.fn("prefill")
	if err != nil {
		return nil, fmt.Errorf("%w (compile with the kv-cache pass)", err)
	}
	c := &Cache{
		pos: runtime.NewTensor(ir.I32, capacity), seq: runtime.NewTensor(ir.I32, capacity),
		length: map[int]int{}, slots: map[int][]int{},
	}
	for i := range c.seq.I {
		c.seq.I[i] = -1
		c.free = append(c.free, capacity-1-i)
	}
	for _, a := range f.Args[cacheArgs:] {
		t := a.Type
		if len(t.Shape) != 2 || t.Shape[1].IsSym() {
			return nil, fmt.Errorf("prefill argument %s has type %s, want [C, d]", a.Name, t)
		}
		c.kv = append(c.kv, runtime.NewTensor(t.DType, capacity, int(t.Shape[1].N)))
	}
	return c, nil
}

// cacheArgs is the index of the first per-layer cache argument: the
// forward arguments (tokens, pos, seq), then slot, cache_pos, cache_seq.
const cacheArgs = 6

// Len returns how many tokens of sequence id are cached.
func (c *Cache) Len(id int) int { return c.length[id] }

// Release frees the slots of sequence id.
func (c *Cache) Release(id int) {
	for _, s := range c.slots[id] {
		c.seq.I[s], c.pos.I[s] = -1, 0
		c.free = append(c.free, s)
	}
	delete(c.slots, id)
	delete(c.length, id)
}

// Prefill appends the tokens of each sequence (ids[i] names sequence i; a
// sequence already in the cache continues at its next position) and returns
// the logits of every appended position.
func (m *Model) Prefill(c *Cache, ids []int, seqs [][]int) (Logits, error) {
	return m.step("prefill", c, ids, seqs)
}

// Decode appends one token to each sequence and returns its logits.
func (m *Model) Decode(c *Cache, ids []int, tokens []int) (Logits, error) {
	seqs := make([][]int, len(tokens))
	for i, t := range tokens {
		seqs[i] = []int{t}
	}
	return m.step("decode", c, ids, seqs)
}

func (m *Model) step(fn string, c *Cache, ids []int, seqs [][]int) (Logits, error) {
	f, err := m.fn(fn)
	if err != nil {
		return Logits{}, err
	}
	if len(ids) != len(seqs) {
		return Logits{}, fmt.Errorf("%d sequence ids for %d sequences", len(ids), len(seqs))
	}
	n := 0
	for i, s := range seqs {
		n += len(s)
		if slices.Contains(ids[:i], ids[i]) {
			return Logits{}, fmt.Errorf("sequence id %d given twice", ids[i])
		}
	}
	if n > len(c.free) {
		return Logits{}, fmt.Errorf("cache full: %d tokens to add, %d slots free", n, len(c.free))
	}
	start := make([]int, len(seqs))
	for i, id := range ids {
		start[i] = c.length[id]
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
		c.length[id]++
	}
	// Copies of the slot tables: donated arguments may be overwritten.
	cpos, cseq := *c.pos, *c.seq
	cpos.I, cseq.I = slices.Clone(c.pos.I), slices.Clone(c.seq.I)
	args := append([]*runtime.Tensor{tok, pos, seq, slot, &cpos, &cseq}, c.kv...)
	opts := m.Opts
	opts.Donate = true // the caches are updated in place
	res, err := cpu.Run(f, m.Params, args, opts)
	if err != nil {
		return Logits{}, err
	}
	nres := len(f.Results) - len(c.kv)
	copy(c.kv, res[nres:])
	return unpack(res[0], seqs)
}
