package tokenizer

import (
	"strings"
	"sync"
)

// bpe is a byte-level BPE model: a word (a piece of raw bytes) starts as one
// symbol per byte and the adjacent pair with the lowest merge rank, leftmost
// on ties, merges until no pair has a rank.
type bpe struct {
	vocab        map[string]int // byte-level token string -> id
	byteID       [256]int32     // the id of each single byte
	merges       map[uint64]mergeRule
	ignoreMerges bool // a word that is itself a token is not merged

	// merge turns one word into ids; tests swap in a reference merge.
	merge func(m *bpe, word string, sc *scratch, out []int) []int

	mu    sync.Mutex
	cache map[string][]int32
}

type mergeRule struct {
	rank int32
	id   int32 // the id of the merged token
}

// Words at least this long are not cached: they rarely repeat.
const (
	maxCachedWord = 256
	maxCacheSize  = 1 << 16
)

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// encodeWord appends the ids of word (raw bytes) to out.
func (m *bpe) encodeWord(word string, sc *scratch, out []int) []int {
	switch len(word) {
	case 0:
		return out
	case 1:
		return append(out, int(m.byteID[word[0]]))
	}
	if m.ignoreMerges {
		if id, ok := m.vocab[byteLevelString(word)]; ok {
			return append(out, id)
		}
	}
	return m.merge(m, word, sc, out)
}

// cachedMerge is the default merge: a cache in front of heapMerge.
func cachedMerge(m *bpe, word string, sc *scratch, out []int) []int {
	if len(word) < maxCachedWord {
		m.mu.Lock()
		ids, ok := m.cache[word]
		m.mu.Unlock()
		if ok {
			for _, id := range ids {
				out = append(out, int(id))
			}
			return out
		}
	}
	start := len(out)
	out = heapMerge(m, word, sc, out)
	if len(word) < maxCachedWord {
		ids := make([]int32, len(out)-start)
		for i, id := range out[start:] {
			ids[i] = int32(id)
		}
		m.mu.Lock()
		if len(m.cache) >= maxCacheSize {
			clear(m.cache)
		}
		// Clone the key: word is a slice of the caller's text.
		m.cache[strings.Clone(word)] = ids
		m.mu.Unlock()
	}
	return out
}

type bpeSym struct {
	id         int32
	prev, next int32 // neighbours' indices; -1 at the ends
}

// bpeCand is a possible merge of the symbol at pos with the one at right.
// key orders the heap: the rank, then the position (leftmost first).
type bpeCand struct {
	key       uint64 // rank<<32 | pos
	right     int32
	left, rid int32 // the symbols' ids when the candidate was made
	merged    int32
}

// heapMerge merges in O(n log n): a doubly linked list of symbols and a heap
// of candidate pairs ordered by (rank, position). A candidate is stale once
// either symbol has changed; stale candidates are dropped when popped.
func heapMerge(m *bpe, word string, sc *scratch, out []int) []int {
	n := len(word)
	syms := sc.syms[:0]
	for i := 0; i < n; i++ {
		syms = append(syms, bpeSym{id: m.byteID[word[i]], prev: int32(i - 1), next: int32(i + 1)})
	}
	syms[n-1].next = -1
	h := sc.heap[:0]
	push := func(pos, right int32) {
		l, r := syms[pos].id, syms[right].id
		rule, ok := m.merges[pairKey(l, r)]
		if !ok {
			return
		}
		c := bpeCand{key: uint64(rule.rank)<<32 | uint64(pos), right: right, left: l, rid: r, merged: rule.id}
		// Sift up, moving parents down into the hole.
		i := len(h)
		h = append(h, c)
		for i > 0 {
			p := (i - 1) / 2
			if h[p].key <= c.key {
				break
			}
			h[i] = h[p]
			i = p
		}
		h[i] = c
	}
	for i := 0; i+1 < n; i++ {
		push(int32(i), int32(i+1))
	}
	for len(h) > 0 {
		c := h[0]
		last := h[len(h)-1]
		h = h[:len(h)-1]
		// Sift the last element down from the root, moving children up.
		if len(h) > 0 {
			i := 0
			for {
				l := 2*i + 1
				if l >= len(h) {
					break
				}
				if r := l + 1; r < len(h) && h[r].key < h[l].key {
					l = r
				}
				if last.key <= h[l].key {
					break
				}
				h[i] = h[l]
				i = l
			}
			h[i] = last
		}
		pos := int32(c.key)
		s := &syms[pos]
		if s.id != c.left || s.next != c.right || syms[c.right].id != c.rid {
			continue
		}
		r := syms[c.right]
		s.id = c.merged
		s.next = r.next
		if r.next >= 0 {
			syms[r.next].prev = pos
		}
		syms[c.right].id = -1
		if s.prev >= 0 {
			push(s.prev, pos)
		}
		if s.next >= 0 {
			push(pos, s.next)
		}
	}
	for i := int32(0); i >= 0; i = syms[i].next {
		out = append(out, int(syms[i].id))
	}
	sc.syms, sc.heap = syms, h
	return out
}
