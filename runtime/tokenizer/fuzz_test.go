package tokenizer

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Texts the fuzz targets encode with whatever loaded.
var fuzzTexts = []string{
	"", "hello world", "<bos>ab<eos>", " \n\t 12345 x ", "\xff\xfe\xed\xa0\x80",
	strings.Repeat("a", 64), "it's 中文 😀 [W] a[R]  b",
}

// FuzzLoadHF loads arbitrary bytes as a tokenizer.json. Loading may fail,
// but must not panic, take long, or allocate much more than the file's
// size; what loads must encode the texts (a pattern that backtracks too much
// is an error, not a hang) into ids that decode.
//
// The seeds (testdata/fuzz/FuzzLoadHF) are hostile files: ids too large,
// negative or not integers, duplicate ids, truncated JSON, many merges, deep
// nesting, exponential and oversized patterns.
//
//	go test -run XXX -fuzz FuzzLoadHF -fuzztime 60s ./runtime/tokenizer/
func FuzzLoadHF(f *testing.F) {
	f.Add(tinyFile(f, nil))
	// One directory per fuzzing process, which runs one input at a time.
	path := filepath.Join(f.TempDir(), "tokenizer.json")
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		start := time.Now()
		h, err := LoadHF(path)
		if err == nil {
			for _, s := range fuzzTexts {
				ids, _ := h.EncodeErr(s)
				if _, err := h.Decode(ids, DecodeOptions{}); err != nil {
					t.Fatalf("Encode(%q) = %v, which does not decode: %v", s, ids, err)
				}
			}
			// Ids outside the vocabulary are an error, not a panic.
			h.Decode([]int{0, h.VocabSize() - 1, -1, h.VocabSize(), 1 << 40}, DecodeOptions{SkipSpecial: true})
		}
		elapsed := time.Since(start)
		runtime.ReadMemStats(&after)
		// The pattern quota allows ~64 MiB of classes (regex_limits.go); the
		// id tables and the JSON grow with the file.
		if alloc, bound := after.TotalAlloc-before.TotalAlloc, uint64(128<<20+64*len(data)); alloc > bound {
			t.Fatalf("a %d-byte file allocated %d MiB (bound %d MiB)", len(data), alloc>>20, bound>>20)
		}
		if elapsed > 5*time.Second {
			t.Fatalf("a %d-byte file took %v to load and encode", len(data), elapsed)
		}
	})
}

// FuzzRegex compiles arbitrary patterns and runs them on arbitrary text:
// no panic, and a scan that returns (the step budget) in bounded time.
func FuzzRegex(f *testing.F) {
	for _, p := range differentialPatterns {
		f.Add(p, "it's 12345 HELLO  wörld\n\n中文 😀 !?")
	}
	f.Add(`(?:a+)+b`, strings.Repeat("a", 40))
	f.Add(`(?i:(?=\p{Lu})[\s\S]{2,5}?(?!x)|(?>a|ab)c*+)`, "ABcabcccx")
	f.Fuzz(func(t *testing.T, pattern, text string) {
		re, err := compileRegex(pattern)
		if err != nil {
			return
		}
		var st []frame
		start := time.Now()
		prev := 0
		re.findAll(text, &st, func(s, e int) {
			if s < prev || e < s || e > len(text) {
				t.Fatalf("%q on %q: match [%d, %d) after %d", pattern, text, s, e, prev)
			}
			prev = e
		})
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("%q on %d bytes took %v", pattern, len(text), d)
		}
	})
}
