package tokenizer

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// tinyFile is a small byte-level BPE tokenizer.json: the 256 byte tokens,
// a few merges spelling "hello", " world" and "ab", and added tokens. mod
// edits the JSON object before it is written.
func tinyFile(t testing.TB, mod func(f map[string]any)) []byte {
	t.Helper()
	vocab := map[string]any{}
	for b := 0; b < 256; b++ {
		vocab[string(byteToRune[b])] = b
	}
	merges := []string{"h e", "l l", "he ll", "hell o", "Ġ w", "o r", "Ġw or", "l d", "Ġwor ld", "a b"}
	for i, m := range merges {
		a, b, _ := strings.Cut(m, " ")
		vocab[a+b] = 256 + i
	}
	f := map[string]any{
		"version":    "1.0",
		"truncation": nil,
		"padding":    nil,
		"added_tokens": []any{
			map[string]any{"id": 300, "content": "<bos>", "special": true},
			map[string]any{"id": 301, "content": "<eos>", "special": true},
			map[string]any{"id": 302, "content": "<tool>", "special": false},
			map[string]any{"id": 303, "content": "<tool_long>", "special": false},
			map[string]any{"id": 304, "content": "[L]", "special": true, "lstrip": true},
			map[string]any{"id": 305, "content": "[R]", "special": true, "rstrip": true},
			map[string]any{"id": 306, "content": "[W]", "special": true, "single_word": true},
		},
		"normalizer": nil,
		"pre_tokenizer": map[string]any{
			"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true,
		},
		"post_processor": nil,
		"decoder":        map[string]any{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
		"model": map[string]any{
			"type": "BPE", "dropout": nil, "unk_token": nil, "continuing_subword_prefix": nil,
			"end_of_word_suffix": nil, "fuse_unk": false, "byte_fallback": false,
			"vocab": vocab, "merges": merges,
		},
	}
	if mod != nil {
		mod(f)
	}
	data, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func tiny(t testing.TB, mod func(f map[string]any)) *HF {
	t.Helper()
	h, err := ParseHF(tinyFile(t, mod))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func model(f map[string]any) map[string]any { return f["model"].(map[string]any) }

func TestTinyEncode(t *testing.T) {
	h := tiny(t, nil)
	for _, c := range []struct {
		text string
		want []int
	}{
		{"hello world", []int{259, 264}},
		{"hello", []int{259}},
		{"hello  world", []int{259, ' ', 264}}, // "\s+(?!\S)" leaves " world" whole
		{"abab", []int{265, 265}},
		{"<bos>hello<eos>", []int{300, 259, 301}},
		{"<tool_long>x<tool>", []int{303, 'x', 302}}, // longest match
		{"<tool_lon", []int{'<', 't', 'o', 'o', 'l', '_', 'l', 'o', 'n'}},
		{"a [L]b", []int{'a', 304, 'b'}},       // lstrip takes the space before
		{"a [L] b", []int{'a', 304, ' ', 'b'}}, // but not the one after
		{"a[R]  b", []int{'a', 305, 'b'}},      // rstrip takes the spaces after
		{"x [W] y", []int{'x', ' ', 306, ' ', 'y'}},
		{"x[W]y", []int{'x', '[', 'W', ']', 'y'}}, // single_word: not inside a word
		{"", []int{}},
	} {
		got := h.Encode(c.text)
		if !slices.Equal(got, c.want) {
			t.Errorf("Encode(%q) = %v, want %v", c.text, got, c.want)
		}
	}
}

func TestTinyDecode(t *testing.T) {
	h := tiny(t, nil)
	ids := []int{300, 259, 264, 302, 301}
	got, err := h.Decode(ids, DecodeOptions{})
	if err != nil || got != "<bos>hello world<tool><eos>" {
		t.Errorf("Decode = %q, %v", got, err)
	}
	got, err = h.Decode(ids, DecodeOptions{SkipSpecial: true})
	if err != nil || got != "hello world<tool>" {
		t.Errorf("Decode(SkipSpecial) = %q, %v", got, err)
	}
	// 266..299 name no token: a hole in the id space.
	for _, id := range []int{-1, 270, 307, 1000} {
		_, err := h.Decode([]int{id}, DecodeOptions{})
		var unk *UnknownIDError
		if !errors.As(err, &unk) || unk.ID != id {
			t.Errorf("Decode([%d]) error = %v, want UnknownIDError", id, err)
		}
	}
	if h.VocabSize() != 307 {
		t.Errorf("VocabSize = %d, want 307", h.VocabSize())
	}
	if id, ok := h.BOS(); !ok || id != 300 {
		t.Errorf("BOS = %d, %v (from the name <bos>)", id, ok)
	}
	if id, ok := h.EOS(); !ok || id != 301 {
		t.Errorf("EOS = %d, %v (from the name <eos>)", id, ok)
	}
	if s, ok := h.Token(259); !ok || s != "hello" {
		t.Errorf("Token(259) = %q, %v", s, ok)
	}
	if id, ok := h.ID("Ġworld"); !ok || id != 264 {
		t.Errorf("ID(Ġworld) = %d, %v", id, ok)
	}
	if !h.IsSpecial(300) || h.IsSpecial(302) || h.IsSpecial(259) {
		t.Error("IsSpecial is wrong")
	}
}

// Merges written as pairs (tokenizers ≥ 0.20) mean the same as "a b".
func TestMergesAsPairs(t *testing.T) {
	strs := tiny(t, nil)
	pairs := tiny(t, func(f map[string]any) {
		var ps [][2]string
		for _, m := range model(f)["merges"].([]string) {
			a, b, _ := strings.Cut(m, " ")
			ps = append(ps, [2]string{a, b})
		}
		model(f)["merges"] = ps
	})
	for _, s := range []string{"hello world", "abab hello", "hell o  world"} {
		if a, b := strs.Encode(s), pairs.Encode(s); !slices.Equal(a, b) {
			t.Errorf("%q: %v with string merges, %v with pairs", s, a, b)
		}
	}
}

func splitWith(t *testing.T, h *HF, text string) []string {
	t.Helper()
	sc := &scratch{}
	pieces := []string{text}
	for _, st := range h.stages[:len(h.stages)-1] { // all but ByteLevel
		var next []string
		for _, p := range pieces {
			var err error
			if next, err = st.split(p, sc, next); err != nil {
				t.Fatal(err)
			}
		}
		pieces = next
	}
	return pieces
}

func preTok(steps ...map[string]any) func(f map[string]any) {
	return func(f map[string]any) {
		seq := []any{}
		for _, s := range steps {
			seq = append(seq, s)
		}
		seq = append(seq, map[string]any{"type": "ByteLevel", "add_prefix_space": false, "use_regex": false})
		f["pre_tokenizer"] = map[string]any{"type": "Sequence", "pretokenizers": seq}
	}
}

// The Split behaviors, on the example of Hugging Face's documentation.
func TestSplitBehaviors(t *testing.T) {
	for _, c := range []struct {
		behavior string
		invert   bool
		want     []string
	}{
		{"Removed", false, []string{"the", "final", "countdown"}},
		{"Isolated", false, []string{"the", "-", "final", "-", "-", "countdown"}},
		{"MergedWithPrevious", false, []string{"the-", "final-", "-", "countdown"}},
		{"MergedWithNext", false, []string{"the", "-final", "-", "-countdown"}},
		{"Contiguous", false, []string{"the", "-", "final", "--", "countdown"}},
		// invert: the matches (words) are the content, the "-" runs between
		// them the delimiters.
		{"Removed", true, []string{"the", "final", "countdown"}},
		{"Isolated", true, []string{"the", "-", "final", "--", "countdown"}},
		{"MergedWithPrevious", true, []string{"the-", "final--", "countdown"}},
		{"MergedWithNext", true, []string{"the", "-final", "--countdown"}},
	} {
		pattern := "-"
		if c.invert {
			pattern = "[a-z]+"
		}
		h := tiny(t, preTok(map[string]any{"type": "Split", "pattern": map[string]any{"Regex": pattern}, "behavior": c.behavior, "invert": c.invert}))
		if got := splitWith(t, h, "the-final--countdown"); !slices.Equal(got, c.want) {
			t.Errorf("%s invert=%v: %q, want %q", c.behavior, c.invert, got, c.want)
		}
	}
	// A String pattern is literal.
	h := tiny(t, preTok(map[string]any{"type": "Split", "pattern": map[string]any{"String": "."}, "behavior": "Isolated"}))
	if got, want := splitWith(t, h, "a.b*c"), []string{"a", ".", "b*c"}; !slices.Equal(got, want) {
		t.Errorf("String pattern: %q, want %q", got, want)
	}
}

func TestDigits(t *testing.T) {
	for _, c := range []struct {
		individual bool
		want       []string
	}{
		{false, []string{"ab", "123", " x", "45"}},
		{true, []string{"ab", "1", "2", "3", " x", "4", "5"}},
	} {
		h := tiny(t, preTok(map[string]any{"type": "Digits", "individual_digits": c.individual}))
		if got := splitWith(t, h, "ab123 x45"); !slices.Equal(got, c.want) {
			t.Errorf("individual=%v: %q, want %q", c.individual, got, c.want)
		}
	}
}

func TestByteLevelPrefixSpace(t *testing.T) {
	h := tiny(t, func(f map[string]any) {
		f["pre_tokenizer"] = map[string]any{"type": "ByteLevel", "add_prefix_space": true, "use_regex": true}
	})
	// "world" becomes " world", one token.
	if got := h.Encode("world"); !slices.Equal(got, []int{264}) {
		t.Errorf("Encode(world) = %v, want [264]", got)
	}
}

func TestNormalizers(t *testing.T) {
	h := tiny(t, func(f map[string]any) {
		f["normalizer"] = map[string]any{"type": "Sequence", "normalizers": []any{
			map[string]any{"type": "Strip", "strip_left": true, "strip_right": true},
			map[string]any{"type": "Lowercase"},
			map[string]any{"type": "Replace", "pattern": map[string]any{"String": "x"}, "content": "ab"},
			map[string]any{"type": "Replace", "pattern": map[string]any{"Regex": `\d+`}, "content": "#"},
			map[string]any{"type": "Prepend", "prepend": ">"},
		}}
	})
	got, _ := h.Decode(h.Encode("  HeLLo x42 "), DecodeOptions{})
	if got != ">hello ab#" {
		t.Errorf("normalized = %q, want %q", got, ">hello ab#")
	}
	// Added tokens are matched before normalization and kept as they are.
	got, _ = h.Decode(h.Encode(" A<tool>B "), DecodeOptions{})
	if got != ">a<tool>>b" {
		t.Errorf("normalized around an added token = %q", got)
	}
}

func TestConfigBOSEOS(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "tokenizer.json"), tinyFile(t, nil), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := `{"bos_token": {"__type": "AddedToken", "content": "<tool>"}, "eos_token": "<tool_long>"}`
	if err := os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	tok, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := tok.BOS(); id != 302 {
		t.Errorf("BOS = %d, want 302 from tokenizer_config.json", id)
	}
	if id, _ := tok.EOS(); id != 303 {
		t.Errorf("EOS = %d, want 303 from tokenizer_config.json", id)
	}
	if err := os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), []byte(`{"bos_token": "<nope>"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), `bos_token "<nope>" is not a token`) {
		t.Errorf("a bos_token that is no token: error %v", err)
	}
}

func TestParseErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		mod  func(f map[string]any)
		want string
	}{
		{"not json", nil, "not a tokenizer.json"},
		{"unigram", func(f map[string]any) { model(f)["type"] = "Unigram" }, `model type "Unigram" is not supported`},
		{"dropout", func(f map[string]any) { model(f)["dropout"] = 0.1 }, "dropout"},
		{"suffix", func(f map[string]any) { model(f)["end_of_word_suffix"] = "</w>" }, "end_of_word_suffix"},
		{"missing byte", func(f map[string]any) { delete(model(f)["vocab"].(map[string]any), "Ġ") }, "byte 0x20"},
		{"merge part", func(f map[string]any) { model(f)["merges"] = []string{"q zz"} }, `token "zz"`},
		{"merge result", func(f map[string]any) { model(f)["merges"] = []string{"q r"} }, `merged token "qr"`},
		{"merge format", func(f map[string]any) { model(f)["merges"] = []string{"abc"} }, "two tokens"},
		{"merge type", func(f map[string]any) { model(f)["merges"] = []int{1} }, "merges"},
		{"no byte level", func(f map[string]any) {
			f["pre_tokenizer"] = map[string]any{"type": "Digits"}
		}, "no ByteLevel"},
		{"metaspace", func(f map[string]any) {
			f["pre_tokenizer"] = map[string]any{"type": "Metaspace"}
		}, `pre_tokenizer type "Metaspace" is not supported`},
		{"after byte level", func(f map[string]any) {
			f["pre_tokenizer"] = map[string]any{"type": "Sequence", "pretokenizers": []any{
				map[string]any{"type": "ByteLevel"}, map[string]any{"type": "Digits"}}}
		}, "after ByteLevel"},
		{"behavior", preTok(map[string]any{"type": "Split", "pattern": map[string]any{"Regex": "a"}, "behavior": "Sideways"}), "Sideways"},
		{"bad regex", preTok(map[string]any{"type": "Split", "pattern": map[string]any{"Regex": "(?<=a)"}, "behavior": "Isolated"}), "lookbehind"},
		{"no pattern", preTok(map[string]any{"type": "Split", "behavior": "Isolated"}), "no pattern"},
		{"nfc", func(f map[string]any) { f["normalizer"] = map[string]any{"type": "NFC"} }, `normalizer type "NFC" is not supported`},
		{"no decoder", func(f map[string]any) { f["decoder"] = nil }, "decoder"},
		{"wordpiece decoder", func(f map[string]any) { f["decoder"] = map[string]any{"type": "WordPiece"} }, `decoder type "WordPiece"`},
		{"negative id", func(f map[string]any) {
			f["added_tokens"] = []any{map[string]any{"id": -3, "content": "x"}}
		}, "negative id"},
		{"empty added", func(f map[string]any) {
			f["added_tokens"] = []any{map[string]any{"id": 400, "content": ""}}
		}, "empty content"},
	} {
		data := []byte("{")
		if c.mod != nil {
			data = tinyFile(t, c.mod)
		}
		_, err := ParseHF(data)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
}

func TestOpen(t *testing.T) {
	if _, err := Open(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Error("Open of a missing file succeeded")
	}
	tok, err := Open("byte")
	if err != nil || tok.VocabSize() != ByteLevelMinVocab {
		t.Errorf("Open(byte) = %v, %v", tok, err)
	}
	tok, err = Open("byte:512")
	if err != nil || tok.VocabSize() != 512 {
		t.Errorf("Open(byte:512) = %v, %v", tok, err)
	}
	for _, bad := range []string{"byte:x", "byte:100"} {
		if _, err := Open(bad); err == nil {
			t.Errorf("Open(%q) succeeded", bad)
		}
	}
}

func TestByteLevel(t *testing.T) {
	tok, err := NewByteLevel(300)
	if err != nil {
		t.Fatal(err)
	}
	text := "héllo\x00\xff<bos>"
	ids := tok.Encode(text)
	want := []int{'h', 0xC3, 0xA9, 'l', 'l', 'o', 0, 0xFF, ByteLevelBOS}
	if !slices.Equal(ids, want) {
		t.Errorf("Encode = %v, want %v", ids, want)
	}
	got, err := tok.Decode(ids, DecodeOptions{})
	if err != nil || got != text {
		t.Errorf("Decode = %q, %v", got, err)
	}
	got, err = tok.Decode([]int{ByteLevelBOS, 'h', 'i', ByteLevelEOS, 299}, DecodeOptions{SkipSpecial: true})
	if err != nil || got != "hi" {
		t.Errorf("Decode(SkipSpecial) = %q, %v", got, err)
	}
	got, _ = tok.Decode([]int{ByteLevelEOS, 299}, DecodeOptions{})
	if got != "<eos><reserved_299>" {
		t.Errorf("Decode of specials = %q", got)
	}
	for _, id := range []int{-1, 300} {
		if _, err := tok.Decode([]int{id}, DecodeOptions{}); err == nil {
			t.Errorf("Decode([%d]) succeeded", id)
		}
	}
	if b, ok := tok.BOS(); !ok || b != 256 {
		t.Error("BOS")
	}
	if e, ok := tok.EOS(); !ok || e != 257 {
		t.Error("EOS")
	}
	if _, err := NewByteLevel(257); err == nil {
		t.Error("NewByteLevel(257) succeeded")
	}
}

// The byte-to-character table is GPT-2's.
func TestByteTable(t *testing.T) {
	for b, want := range map[byte]rune{'!': '!', '~': '~', ' ': 'Ġ', '\n': 'Ċ', 0: 'Ā', 0x7F: 'ġ', 0xA0: 'ł', 0xAD: 'Ń', 0xFF: 'ÿ'} {
		if byteToRune[b] != want {
			t.Errorf("byte 0x%02x -> %q, want %q", b, byteToRune[b], want)
		}
	}
	seen := map[rune]bool{}
	for b := 0; b < 256; b++ {
		if seen[byteToRune[b]] {
			t.Fatalf("byte 0x%02x maps to a character already used", b)
		}
		seen[byteToRune[b]] = true
	}
}
