package tokenizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/deepc-dev/deepc/internal/safefile"
)

// HF is a Hugging Face tokenizer.json with a byte-level BPE model.
//
// Encoding follows the tokenizer's pipeline: the added tokens (special or
// not) are found first, leftmost and longest, and become their ids (an
// added token with lstrip or rstrip also removes the white space beside it);
// each stretch of text between them goes through the normalizer, the
// pre-tokenizer's stages, and the BPE model. The post_processor is not
// applied: Encode adds no BOS or EOS (see BOS and EOS). Decoding joins the
// tokens' bytes.
//
// The split patterns run in an ECMAScript-dialect regex engine (regex.go),
// as the JavaScript reference compiles them. Character properties come from
// Go's Unicode tables (Unicode 15.0 for Go 1.26): a code point assigned in a
// later Unicode version can be classified differently from a runtime that
// knows that version.
//
// A tokenizer.json is hostile input. Its ids are checked before the tables
// they size (idspace.go); its patterns are bounded in what they compile to
// and in the backtracking a match may take (regex_limits.go); its
// normalizers in how much they may grow a text (GrowthError).
type HF struct {
	normalizers []normalizer
	stages      []stage
	model       *bpe

	added     []addedToken
	trie      *trie
	vocabSize int
	tokens    []string // id -> token text as in the file ("" for a hole)
	bytes     [][]byte // id -> the bytes it decodes to (nil for a hole)
	special   []bool   // id -> a special added token
	bos, eos  int      // -1 when none

	pool sync.Pool // *scratch
}

var _ Tokenizer = (*HF)(nil)

type addedToken struct {
	ID         int    `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	Lstrip     bool   `json:"lstrip"`
	Rstrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
	Special    bool   `json:"special"`
}

type hfFile struct {
	AddedTokens   []fileAddedToken `json:"added_tokens"`
	Normalizer    json.RawMessage  `json:"normalizer"`
	PreTokenizer  json.RawMessage  `json:"pre_tokenizer"`
	PostProcessor json.RawMessage  `json:"post_processor"`
	Decoder       json.RawMessage  `json:"decoder"`
	Model         struct {
		Type                    string            `json:"type"`
		Vocab                   map[string]jsonID `json:"vocab"` // ids checked by checkIDs
		Merges                  json.RawMessage   `json:"merges"`
		Dropout                 *float64          `json:"dropout"`
		UnkToken                *string           `json:"unk_token"`
		ContinuingSubwordPrefix *string           `json:"continuing_subword_prefix"`
		EndOfWordSuffix         *string           `json:"end_of_word_suffix"`
		ByteFallback            bool              `json:"byte_fallback"`
		IgnoreMerges            bool              `json:"ignore_merges"`
	} `json:"model"`
}

// scratch is per-Encode working memory.
type scratch struct {
	stack    []frame
	a, b     []string
	segs     []segment
	sections []section
	syms     []bpeSym
	heap     []bpeCand
}

type section struct {
	text  string
	added int // index into HF.added, or -1
}

// LoadHF reads a tokenizer.json. BOS and EOS come from the tokenizer_config.json
// beside it when there is one (bos_token, eos_token); otherwise from special
// tokens with well-known names (<｜begin▁of▁sentence｜>, <s>, <|begin_of_text|>,
// ...). Both files are read through safefile: a FIFO, a device or a file
// over the size limit is refused rather than read.
func LoadHF(path string) (*HF, error) {
	return loadHF(path, func() ([]byte, error) { return safefile.ReadFile(path, safefile.Tokenizer) })
}

// LoadHFIn reads dir/tokenizer.json, a file of the model directory dir:
// no link there is followed, except in a Hugging Face hub snapshot
// (safefile.OpenInModel).
func LoadHFIn(dir string) (*HF, error) {
	return loadHF(filepath.Join(dir, "tokenizer.json"), func() ([]byte, error) {
		return safefile.ReadInModel(dir, "tokenizer.json", safefile.Tokenizer)
	})
}

// loadHF parses the tokenizer.json at path, which read reads, and the
// tokenizer_config.json beside it: a file of that directory, so a link
// there is not followed (it could make deepc read a file outside).
func loadHF(path string, read func() ([]byte, error)) (*HF, error) {
	data, err := read()
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	h, err := ParseHF(data)
	if err != nil {
		return nil, fmt.Errorf("tokenizer %s: %w", path, err)
	}
	cfg, err := safefile.ReadInModel(filepath.Dir(path), "tokenizer_config.json", safefile.Tokenizer)
	switch {
	case err == nil:
		if err := h.applyConfig(cfg); err != nil {
			return nil, fmt.Errorf("tokenizer %s: tokenizer_config.json: %w", path, err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	return h, nil
}

// ParseHF parses the contents of a tokenizer.json.
func ParseHF(data []byte) (*HF, error) {
	var f hfFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("not a tokenizer.json: %w", err)
	}
	m := &f.Model
	if m.Type != "BPE" {
		return nil, fmt.Errorf("model type %q is not supported (only BPE)", m.Type)
	}
	if m.Dropout != nil && *m.Dropout > 0 {
		return nil, fmt.Errorf("BPE dropout is not supported")
	}
	if m.ContinuingSubwordPrefix != nil && *m.ContinuingSubwordPrefix != "" || m.EndOfWordSuffix != nil && *m.EndOfWordSuffix != "" {
		return nil, fmt.Errorf("BPE continuing_subword_prefix and end_of_word_suffix are not supported")
	}
	h := &HF{bos: -1, eos: -1}
	var err error
	q := newPatternQuota()
	if h.normalizers, err = parseNormalizer(f.Normalizer, q); err != nil {
		return nil, err
	}
	var byteLevel bool
	if h.stages, byteLevel, err = parsePreTokenizer(f.PreTokenizer, q); err != nil {
		return nil, err
	}
	if !byteLevel {
		return nil, fmt.Errorf("only byte-level BPE is supported: the pre_tokenizer has no ByteLevel step")
	}
	if err := checkDecoder(f.Decoder); err != nil {
		return nil, err
	}
	// The id space, checked before the tables sized by it (idspace.go).
	vocab, added, size, err := checkIDs(m.Vocab, f.AddedTokens)
	if err != nil {
		return nil, err
	}
	if h.model, err = newBPE(vocab, m.Merges, m.IgnoreMerges); err != nil {
		return nil, err
	}
	h.vocabSize = size
	h.tokens = make([]string, h.vocabSize)
	h.bytes = make([][]byte, h.vocabSize)
	h.special = make([]bool, h.vocabSize)
	for tok, id := range vocab {
		if h.bytes[id] != nil {
			// Decode would give whichever of the two the map visited last.
			a, b := min(tok, h.tokens[id]), max(tok, h.tokens[id])
			return nil, fmt.Errorf("vocab: tokens %s and %s both have id %d", quoteTrunc(a, 40), quoteTrunc(b, 40), id)
		}
		h.tokens[id] = tok
		if b, ok := fromByteLevel(tok); ok {
			h.bytes[id] = b
		} else {
			h.bytes[id] = []byte(tok)
		}
	}
	h.added = added
	h.trie = newTrie()
	for i, a := range h.added {
		h.tokens[a.ID] = a.Content
		h.bytes[a.ID] = []byte(a.Content)
		h.special[a.ID] = a.Special
		h.trie.insert(a.Content, i)
	}
	h.guessBOSEOS()
	return h, nil
}

func checkDecoder(raw json.RawMessage) error {
	if isNull(raw) {
		return fmt.Errorf("decoder: none declared; byte-level BPE needs the ByteLevel decoder")
	}
	var c component
	if err := json.Unmarshal(raw, &c); err != nil {
		return fmt.Errorf("decoder: %w", err)
	}
	if c.Type != "ByteLevel" {
		return fmt.Errorf("decoder type %q is not supported (only ByteLevel)", c.Type)
	}
	return nil
}

func newBPE(vocab map[string]int, mergesRaw json.RawMessage, ignoreMerges bool) (*bpe, error) {
	m := &bpe{vocab: vocab, ignoreMerges: ignoreMerges, merge: cachedMerge, cache: map[string][]int32{}}
	for b := 0; b < 256; b++ {
		id, ok := vocab[string(byteToRune[b])]
		if !ok {
			return nil, fmt.Errorf("vocab: byte 0x%02x (token %q) is missing; not a byte-level vocabulary", b, string(byteToRune[b]))
		}
		m.byteID[b] = int32(id)
	}
	// merges: ["a b", ...] or, from tokenizers 0.20 on, [["a", "b"], ...].
	var pairs [][2]string
	var asStrings []string
	if isNull(mergesRaw) {
		// no merges: every byte is a token
	} else if err := json.Unmarshal(mergesRaw, &asStrings); err == nil {
		pairs = make([][2]string, len(asStrings))
		for i, s := range asStrings {
			a, b, ok := strings.Cut(s, " ")
			if !ok || strings.Contains(b, " ") {
				return nil, fmt.Errorf("merges[%d] = %q: want two tokens separated by one space", i, s)
			}
			pairs[i] = [2]string{a, b}
		}
	} else if err := json.Unmarshal(mergesRaw, &pairs); err != nil {
		return nil, fmt.Errorf("merges: want strings \"a b\" or pairs [\"a\", \"b\"]: %w", err)
	}
	m.merges = make(map[uint64]mergeRule, len(pairs))
	for rank, p := range pairs {
		a, okA := vocab[p[0]]
		b, okB := vocab[p[1]]
		ab, okAB := vocab[p[0]+p[1]]
		switch {
		case !okA:
			return nil, fmt.Errorf("merges[%d]: token %q is not in the vocab", rank, p[0])
		case !okB:
			return nil, fmt.Errorf("merges[%d]: token %q is not in the vocab", rank, p[1])
		case !okAB:
			return nil, fmt.Errorf("merges[%d]: merged token %q is not in the vocab", rank, p[0]+p[1])
		}
		// A repeated pair takes its last rank, as both reference
		// implementations do.
		m.merges[pairKey(int32(a), int32(b))] = mergeRule{rank: int32(rank), id: int32(ab)}
	}
	return m, nil
}

func (h *HF) applyConfig(data []byte) error {
	var cfg map[string]json.RawMessage
	if err := json.Unmarshal(data, &cfg); err != nil {
		return err
	}
	get := func(key string) (int, bool, error) {
		raw, ok := cfg[key]
		if !ok || isNull(raw) {
			return -1, false, nil
		}
		var name string
		if err := json.Unmarshal(raw, &name); err != nil {
			var obj struct {
				Content string `json:"content"`
			}
			if err := json.Unmarshal(raw, &obj); err != nil {
				return 0, false, fmt.Errorf("%s: want a string or {\"content\": ...}", key)
			}
			name = obj.Content
		}
		id, ok := h.ID(name)
		if !ok {
			return 0, false, fmt.Errorf("%s %q is not a token", key, name)
		}
		return id, true, nil
	}
	bos, okB, err := get("bos_token")
	if err != nil {
		return err
	}
	eos, okE, err := get("eos_token")
	if err != nil {
		return err
	}
	if okB {
		h.bos = bos
	}
	if okE {
		h.eos = eos
	}
	return nil
}

var (
	bosNames = []string{"<｜begin▁of▁sentence｜>", "<|begin_of_text|>", "<s>", "<bos>", "<|startoftext|>"}
	eosNames = []string{"<｜end▁of▁sentence｜>", "<|end_of_text|>", "</s>", "<eos>", "<|endoftext|>"}
)

func (h *HF) guessBOSEOS() {
	find := func(names []string) int {
		for _, n := range names {
			for _, a := range h.added {
				if a.Special && a.Content == n {
					return a.ID
				}
			}
		}
		return -1
	}
	h.bos, h.eos = find(bosNames), find(eosNames)
}

func (h *HF) BOS() (int, bool) { return h.bos, h.bos >= 0 }
func (h *HF) EOS() (int, bool) { return h.eos, h.eos >= 0 }
func (h *HF) VocabSize() int   { return h.vocabSize }

// Token returns the text of id as the tokenizer.json writes it (byte-level
// characters for BPE tokens, the content for added tokens).
func (h *HF) Token(id int) (string, bool) {
	if id < 0 || id >= h.vocabSize || h.bytes[id] == nil {
		return "", false
	}
	return h.tokens[id], true
}

// ID returns the id of a token written as the tokenizer.json writes it.
func (h *HF) ID(token string) (int, bool) {
	for _, a := range h.added {
		if a.Content == token {
			return a.ID, true
		}
	}
	id, ok := h.model.vocab[token]
	return id, ok
}

// IsSpecial reports whether id is a special added token.
func (h *HF) IsSpecial(id int) bool {
	return id >= 0 && id < h.vocabSize && h.special[id]
}

// Decode returns the bytes of ids joined.
func (h *HF) Decode(ids []int, opt DecodeOptions) (string, error) {
	n := 0
	for _, id := range ids {
		if id < 0 || id >= h.vocabSize || h.bytes[id] == nil {
			return "", &UnknownIDError{ID: id, VocabSize: h.vocabSize}
		}
		n += len(h.bytes[id])
	}
	buf := make([]byte, 0, n)
	for _, id := range ids {
		if opt.SkipSpecial && h.special[id] {
			continue
		}
		buf = append(buf, h.bytes[id]...)
	}
	return string(buf), nil
}

// Encode returns the ids of text. Where the tokenizer.json's rules cannot
// be followed (see EncodeErr), it leaves the rest of the piece a pattern
// gave up on unsplit, or the text a normalizer would grow unchanged: the ids
// still stand for the text, but may differ from those of the reference
// tokenizer, which would backtrack or grow without end.
func (h *HF) Encode(text string) []int {
	ids, _ := h.EncodeErr(text)
	return ids
}

// EncodeErr returns the ids of text, and an error when the tokenizer.json's
// rules could not be followed on it: a *BacktrackError when a pattern
// backtracks super-linearly on it (such as (?:a+)+b on a run of a's) and
// ran out of its step budget (regex_limits.go), a *GrowthError when the
// normalizers would grow it without bound. The ids are then those Encode
// returns.
func (h *HF) EncodeErr(text string) ([]int, error) {
	sc, _ := h.pool.Get().(*scratch)
	if sc == nil {
		sc = &scratch{}
	}
	defer h.pool.Put(sc)
	ids := make([]int, 0, len(text)/4+1)
	var first error
	for _, s := range h.sections(text, sc) {
		if s.added >= 0 {
			ids = append(ids, h.added[s.added].ID)
			continue
		}
		var err error
		ids, err = h.encodeSection(s.text, sc, ids)
		if first == nil {
			first = err
		}
	}
	return ids, first
}

// sections splits text at its added tokens, leftmost-longest.
func (h *HF) sections(text string, sc *scratch) []section {
	secs := sc.sections[:0]
	start := 0
	for i := 0; i < len(text); {
		if !h.trie.first[text[i]] {
			i++
			continue
		}
		idx, n := h.trie.longest(text[i:])
		if idx < 0 || h.added[idx].SingleWord && !wordAlone(text, i, i+n) {
			i++
			continue
		}
		if i > start {
			secs = append(secs, section{text[start:i], -1})
		}
		secs = append(secs, section{text[i : i+n], idx})
		i += n
		start = i
	}
	if start < len(text) {
		secs = append(secs, section{text[start:], -1})
	}
	// lstrip and rstrip take the white space beside the token.
	for i, s := range secs {
		if s.added < 0 {
			continue
		}
		a := h.added[s.added]
		if a.Lstrip && i > 0 && secs[i-1].added < 0 {
			secs[i-1].text = trimSpaceRight(secs[i-1].text)
		}
		if a.Rstrip && i+1 < len(secs) && secs[i+1].added < 0 {
			secs[i+1].text = trimSpaceLeft(secs[i+1].text)
		}
	}
	sc.sections = secs
	return secs
}

// wordAlone reports whether text[i:j] has no word character on either side
// (an added token's single_word).
func wordAlone(text string, i, j int) bool {
	isWord := func(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }
	if i > 0 {
		if r, _ := utf8.DecodeLastRuneInString(text[:i]); isWord(r) {
			return false
		}
	}
	if j < len(text) {
		if r, _ := utf8.DecodeRuneInString(text[j:]); isWord(r) {
			return false
		}
	}
	return true
}

// encodeSection appends the ids of text. An error is the first a
// normalizer or stage reported (a *BacktrackError or *GrowthError); the
// others carry on with what it left (see normalizer and stage), so that the
// ids are whole.
func (h *HF) encodeSection(text string, sc *scratch, ids []int) ([]int, error) {
	var first error
	keep := func(err error) {
		if first == nil {
			first = err
		}
	}
	limit := normalizeLimit(text)
	for _, n := range h.normalizers {
		var err error
		text, err = n(text, sc, limit)
		keep(err)
	}
	if text == "" {
		return ids, first
	}
	pieces := append(sc.a[:0], text)
	next := sc.b[:0]
	for _, st := range h.stages {
		next = next[:0]
		for _, p := range pieces {
			var err error
			next, err = st.split(p, sc, next)
			keep(err)
		}
		pieces, next = next, pieces
	}
	for _, p := range pieces {
		ids = h.model.encodeWord(p, sc, ids)
	}
	// Keep the buffers, but not the text they point into.
	clear(pieces)
	clear(next)
	sc.a, sc.b = pieces[:0], next[:0]
	return ids, first
}

// trie finds added tokens in text, byte by byte.
type trie struct {
	first [256]bool
	nodes []trieNode
}

type trieNode struct {
	next  map[byte]int32
	token int // index into HF.added, or -1
}

func newTrie() *trie { return &trie{nodes: []trieNode{{token: -1}}} }

func (t *trie) insert(s string, token int) {
	t.first[s[0]] = true
	n := 0
	for i := 0; i < len(s); i++ {
		nx, ok := t.nodes[n].next[s[i]]
		if !ok {
			if t.nodes[n].next == nil {
				t.nodes[n].next = map[byte]int32{}
			}
			nx = int32(len(t.nodes))
			t.nodes[n].next[s[i]] = nx
			t.nodes = append(t.nodes, trieNode{token: -1})
		}
		n = int(nx)
	}
	// A content listed twice keeps its first entry.
	if t.nodes[n].token < 0 {
		t.nodes[n].token = token
	}
}

// longest returns the token that is the longest prefix of s, and its length.
func (t *trie) longest(s string) (int, int) {
	best, bestLen, n := -1, 0, 0
	for i := 0; i < len(s); i++ {
		nx, ok := t.nodes[n].next[s[i]]
		if !ok {
			break
		}
		n = int(nx)
		if t.nodes[n].token >= 0 {
			best, bestLen = t.nodes[n].token, i+1
		}
	}
	return best, bestLen
}
