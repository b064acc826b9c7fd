package tokenizer

import (
	"fmt"
	"slices"
)

// Vocabulary is a tokenizer's tables in the form other runtimes' model
// files carry them (GGUF's tokenizer.ggml.* keys): every id's token as
// byte-level text, which ids are special, and the BPE merges in rank order.
type Vocabulary struct {
	Tokens  []string // id -> token text; "" for an id no token has
	Special []bool   // id -> a special (control) token
	Merges  []string // "a b", lowest rank first
	BOS     int      // -1 when none
	EOS     int      // -1 when none
	// Pre names the pre-tokenizer in llama.cpp's terms: "default" (GPT-2's
	// split) for the byte-level tokenizer, "deepseek-v3" for a tokenizer.json
	// (deepc's models are DeepSeek's; see docs/benchmarks.md, GGUF export).
	Pre string
}

// Vocabulary returns the tokenizer.json's tables.
func (h *HF) Vocabulary() Vocabulary {
	v := Vocabulary{Tokens: slices.Clone(h.tokens), Special: slices.Clone(h.special), BOS: h.bos, EOS: h.eos, Pre: "deepseek-v3"}
	for i := range v.Tokens {
		if h.bytes[i] == nil {
			v.Tokens[i] = ""
		}
	}
	type ranked struct {
		rank int32
		text string
	}
	var rs []ranked
	for key, r := range h.model.merges {
		a, b := int(uint32(key>>32)), int(uint32(key))
		rs = append(rs, ranked{r.rank, h.tokens[a] + " " + h.tokens[b]})
	}
	slices.SortFunc(rs, func(x, y ranked) int { return int(x.rank) - int(y.rank) })
	for _, r := range rs {
		v.Merges = append(v.Merges, r.text)
	}
	return v
}

// Vocabulary returns the byte-level tokenizer's tables: the 256 bytes as
// byte-level characters, then the special tokens; no merges.
func (t *ByteLevel) Vocabulary() Vocabulary {
	v := Vocabulary{Tokens: make([]string, t.vocab), Special: make([]bool, t.vocab), BOS: ByteLevelBOS, EOS: ByteLevelEOS, Pre: "default"}
	for id := range t.vocab {
		if id < 256 {
			v.Tokens[id] = string(byteToRune[id])
		} else {
			v.Tokens[id], v.Special[id] = t.special(id), true
		}
	}
	return v
}

// VocabularyOf returns t's tables, for the tokenizers that have them.
func VocabularyOf(t Tokenizer) (Vocabulary, error) {
	switch t := t.(type) {
	case *HF:
		return t.Vocabulary(), nil
	case *ByteLevel:
		return t.Vocabulary(), nil
	}
	return Vocabulary{}, fmt.Errorf("tokenizer %T has no vocabulary tables", t)
}
